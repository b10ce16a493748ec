import ArgumentParser
import Foundation
import MeterrCore
import MeterrSDK

/// The running meterr a command asks, and the key it presents.
struct ServerOptions: ParsableArguments {
    @Option(help: "meterr's base URL (default: $METERR_URL or http://127.0.0.1:8787).")
    var url: String?

    @Option(help: "A meterr key with the admin scope (default: $METERR_KEY).")
    var key: String?

    /// A client of the management API; one clear line when the URL or the key is missing.
    func client() throws -> ManagementClient { try Self.client(url: url, key: key, scope: "admin") }

    /// A client for `--url`/`$METERR_URL` and `--key`/`$METERR_KEY`, whose key needs `scope`.
    static func client(url: String?, key: String?, scope: String) throws -> ManagementClient {
        let environment = ProcessInfo.processInfo.environment
        guard let key = key ?? environment["METERR_KEY"], !key.isEmpty else {
            throw MeterrError.invalid("key", "set --key or METERR_KEY to a meterr key (mk_…) with the \(scope) scope")
        }
        let baseURL = url ?? environment["METERR_URL"] ?? "http://127.0.0.1:8787"
        guard baseURL.hasPrefix("http://") || baseURL.hasPrefix("https://") else {
            throw MeterrError.invalid("url", "must be an http:// or https:// URL")
        }
        return ManagementClient(connection: MeterrConnection(baseURL: baseURL, key: key))
    }
}

/// `meterr budgets`: through the running meterr's API, so a new budget holds at once.
struct BudgetsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "budgets", abstract: "List, create and delete budgets (through the running meterr).",
        subcommands: [List.self, Create.self, Delete.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Each budget with its spend this period.")
        @OptionGroup var server: ServerOptions

        func run() async throws {
            for budget in try await server.client().budgets() {
                let covers = budget.value.map { "\(budget.scope) \($0)" } ?? budget.scope
                print(
                    "\(budget.id)\t\(budget.name)\t\(covers)\t\(budget.period)\(budget.hard ? ", hard" : "")\t"
                        + "\(budget.spent.decimalString) of \(budget.limit.decimalString) USD (\(budget.percentUsed)%)")
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a budget; the API's validation applies and names the field at fault.")
        @Option(help: "Its name.") var name: String
        @Option(name: .customLong("limit-usd"), help: "The limit in USD (\"250.00\").") var limitUSD: String
        @Option(help: "What it covers: org, team, user, project, key or tag.") var scope: String = "org"
        @Option(help: "Which one (a team's name, a key id, key=value for a tag).") var value: String?
        @Option(help: "day, week, month or rolling.") var period: String = "month"
        @Option(name: .customLong("window-hours"), help: "The window of a rolling budget.") var windowHours: Int?
        @Option(name: .customLong("time-zone"), help: "The zone its calendar periods follow (default UTC).")
        var timeZone: String?
        @Option(help: "Alert percentages, comma-separated (default 50,80,100).") var thresholds: String?
        @Flag(help: "Refuse calls that would cross it.") var hard = false
        @OptionGroup var server: ServerOptions

        func run() async throws {
            var percentages: [Int]?
            if let thresholds {
                percentages = try thresholds.split(separator: ",").map { part in
                    guard let value = Int(part.trimmingCharacters(in: .whitespaces)) else {
                        throw MeterrError.invalid("thresholds", "must be percentages such as 50,80,100")
                    }
                    return value
                }
            }
            let budget = try await server.client().createBudget(
                NewBudget(
                    name: name, scope: scope, value: value, period: period, windowHours: windowHours,
                    limitUSD: limitUSD, hard: hard, timeZone: timeZone, thresholds: percentages))
            print(
                "created budget \(budget.name) (\(budget.id)): \(budget.limit.decimalString) USD per \(budget.period)")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a budget.")
        @Argument(help: "The budget's id (bud_…).") var id: String
        @OptionGroup var server: ServerOptions

        func run() async throws {
            try await server.client().deleteBudget(id: id)
            print("deleted budget \(id)")
        }
    }
}

/// `meterr webhooks`: through the running meterr's API.
struct WebhooksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhooks", abstract: "List, add and remove alert webhooks (through the running meterr).",
        subcommands: [List.self, Create.self, Delete.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The organisation's webhooks.")
        @OptionGroup var server: ServerOptions

        func run() async throws {
            for hook in try await server.client().webhooks() {
                print("\(hook.id)\t\(hook.format)\t\(hook.url)")
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a webhook and print its signing secret (shown only this once).")
        @Argument(help: "The https URL alerts are posted to.") var url: String
        @Option(help: "json (signed JSON, the default) or slack.") var format: String?
        @OptionGroup var server: ServerOptions

        func run() async throws {
            let hook = try await server.client().createWebhook(NewWebhook(url: url, format: format))
            print("added webhook \(hook.id) (\(hook.format)) for \(hook.url)")
            print("signing secret: \(hook.secret ?? "")")
            print("Keep the secret: it is shown only this once.")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a webhook.")
        @Argument(help: "The webhook's id (whk_…).") var id: String
        @OptionGroup var server: ServerOptions

        func run() async throws {
            try await server.client().deleteWebhook(id: id)
            print("removed webhook \(id)")
        }
    }
}
