import ArgumentParser
import Foundation
import MeterrCore
import MeterrStore

/// Options of the commands that manage one organisation in the data directory (or PostgreSQL).
struct OrganisationOptions: ParsableArguments {
    @OptionGroup var database: DatabaseOptions
    @Option(help: "The organisation id (default: the first organisation).") var org: String?

    /// Opens the store and finds the organisation.
    func open() async throws -> (any MeterrDatabase, Organisation) {
        let store = try await database.open()
        let organisations = try await store.organisations()
        guard let organisation = org.map({ id in organisations.first { $0.id == id } }) ?? organisations.first else {
            throw CLIError(
                org.map { "no organisation \($0) in \(database.place)" } ?? "no organisation yet: run meterr serve once"
            )
        }
        return (store, organisation)
    }
}

struct OrgsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orgs", abstract: "Create and list organisations.", subcommands: [Create.self, List.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an organisation and print its admin key once.")
        @Argument(help: "The organisation's name.") var name: String
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let store = try await database.open()
            let (organisation, key) = try await store.createOrganisation(name: name, actor: "cli")
            print("organisation: \(organisation.name) (\(organisation.id))")
            print("admin key:    \(key)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List organisations.")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            for organisation in try await database.open().organisations() {
                print("\(organisation.id)\t\(organisation.name)")
            }
        }
    }
}

struct TeamsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teams", abstract: "Create and list teams.", subcommands: [Create.self, List.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a team.")
        @Argument(help: "The team's name.") var name: String
        @OptionGroup var options: OrganisationOptions

        func run() async throws {
            let (store, organisation) = try await options.open()
            let team = try await store.createGroup(
                kind: .team, org: organisation.id, name: name, team: nil, actor: "cli")
            print("\(team.id)\t\(team.name)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List teams.")
        @OptionGroup var options: OrganisationOptions

        func run() async throws {
            let (store, organisation) = try await options.open()
            for team in try await store.groups(kind: .team, org: organisation.id) { print("\(team.id)\t\(team.name)") }
        }
    }
}

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Create, list and revoke meterr keys.",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key and print it once.",
            discussion: "Scopes: gateway (call providers), ingest (report usage), read (usage), admin (manage).")
        @Option(help: "What the key is for.") var name: String
        @Option(name: .customLong("scope"), help: "A scope; repeat for several (default: gateway).")
        var scopes: [String] = []
        @Option(help: "Bill the key's calls to this team.") var team: String?
        @Option(help: "Bill the key's calls to this user.") var user: String?
        @Option(help: "Bill the key's calls to this project.") var project: String?
        @Option(help: "Stop accepting the key at this RFC 3339 time.") var expires: String?
        @Option(help: "Rate-limit tier: free (100/h), pro (1,000/h), enterprise (10,000/h), unlimited.")
        var tier: String?
        @Option(help: "Requests per minute at most.") var rpm: Int?
        @Option(help: "Tokens per minute at most.") var tpm: Int?
        @OptionGroup var options: OrganisationOptions

        func run() async throws {
            guard let scopes = KeyScopes(names: self.scopes.isEmpty ? ["gateway"] : self.scopes),
                !scopes.contains(.operator)
            else {
                throw CLIError("--scope must be gateway, ingest, read or admin")
            }
            let expiresAt = try expires.map { try parseTime($0, option: "--expires") }
            let tier = try tier.map { name in
                guard let tier = RateTier(rawValue: name) else {
                    throw CLIError("--tier must be free, pro, enterprise or unlimited")
                }
                return tier
            }
            let (store, organisation) = try await options.open()
            let (record, key) = try await store.createKey(
                org: organisation.id,
                KeyRequest(
                    name: name, scopes: scopes, team: team, user: user, project: project, expiresAt: expiresAt,
                    tier: tier, requestsPerMinute: rpm, tokensPerMinute: tpm),
                actor: "cli")
            print("id:  \(record.id)")
            print("key: \(key)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never their secrets).")
        @OptionGroup var options: OrganisationOptions

        func run() async throws {
            let (store, organisation) = try await options.open()
            let now = Meterr.clock.now()
            for key in try await store.keys(org: organisation.id) {
                let state =
                    key.revokedAt.map { $0 <= now ? "revoked" : "rotating" }
                    ?? (key.expiresAt.map { $0 <= now ? "expired" : "active" } ?? "active")
                let fields = [
                    key.id, key.displayPrefix + "…", key.name, key.scopes.nameList.joined(separator: ","),
                    key.team ?? "-",
                    state, key.lastUsedAt?.rfc3339 ?? "never used",
                ]
                print(fields.joined(separator: "\t"))
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a key.", discussion: "A running server stops accepting it within 10 seconds.")
        @Argument(help: "The key's id (key_…).") var id: String
        @OptionGroup var options: OrganisationOptions

        func run() async throws {
            let (store, organisation) = try await options.open()
            guard
                try await store.revokeKey(org: organisation.id, id: id, actor: "cli", actorScopes: [.all, .operator])
                    != nil
            else {
                throw CLIError("no key \(id) in \(organisation.name)")
            }
            print("revoked \(id)")
        }
    }
}
