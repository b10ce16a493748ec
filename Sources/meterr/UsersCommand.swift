import ArgumentParser
import Foundation
import MeterrCore
import MeterrStore

struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "GDPR: forget a person, or export what meterr holds about them.",
        subcommands: [Forget.self, Export.self])

    struct Forget: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a person's account and replace their id and email everywhere by an irreversible token.",
            discussion: """
                PERSON is an account's email or id, or a user attribution of the ledger. Costs and tokens stay, so \
                totals do not change; the deleted text is overwritten in the database file. Backups taken before \
                still hold the name until the schedule deletes them (365 days at most). Audited as user.forget.
                """)
        @Argument(help: "The person's email, account id or ledger attribution.") var person: String
        @OptionGroup var organisation: OrganisationOptions

        func run() async throws {
            let (store, org) = try await organisation.open()
            let result = try await store.forgetPerson(org: org.id, person: person, actor: "cli")
            print(
                "forgotten as \(result.token): \(result.accountDeleted ? "account deleted, " : "")"
                    + "\(result.events) events and \(result.keys) keys now carry the token")
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print everything meterr holds about a person as one JSON document (audited as user.export).")
        @Argument(help: "The person's email, account id or ledger attribution.") var person: String
        @OptionGroup var organisation: OrganisationOptions

        func run() async throws {
            let (store, org) = try await organisation.open()
            let output = OutputBuffer()
            output.write(try await store.exportPerson(org: org.id, person: person, actor: "cli"))
            output.write("\n")
        }
    }
}
