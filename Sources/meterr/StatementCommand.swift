import ArgumentParser
import Foundation
import MeterrCore
import MeterrSDK

/// `meterr statement 2026-11 [--team ml] [--format table|csv|json]`: a month's chargeback statement,
/// through the running meterr's API.
struct StatementCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "statement",
        abstract:
            "A calendar month's chargeback statement, in the organisation's time zone: line items per team, project, "
            + "provider and model.")

    @Argument(help: "The month, e.g. 2026-11.") var month: String
    @Option(help: "One team's statement (default: the whole organisation).") var team: String?
    @Option(help: "table (default), csv (for a spreadsheet or an invoicing system) or json.") var format = "table"
    @Option(help: "meterr's base URL (default: $METERR_URL or http://127.0.0.1:8787).") var url: String?
    @Option(help: "A meterr key with the read scope (default: $METERR_KEY).") var key: String?

    func run() async throws {
        let client = try ServerOptions.client(url: url, key: key, scope: "read")
        switch format {
        case "csv":
            print(try await client.statementCSV(month: month, team: team), terminator: "")
        case "json":
            let bytes = try await client.json(
                "GET",
                "/api/statements/\(QueryString.escape(month))" + QueryString.encode(team.map { [("team", $0)] } ?? []))
            print(String(decoding: bytes, as: UTF8.self))
        case "table":
            let statement = try await client.statement(month: month, team: team)
            print(
                "Statement \(statement.month)\(statement.team.map { " for team \($0)" } ?? "") (\(statement.org), \(statement.timeZone))"
            )
            for line in statement.lines {
                let cost = line.totals.cost.map { "$" + $0.decimalString } ?? "unpriced"
                print(
                    "\(line.team ?? "-")\t\(line.project ?? "-")\t\(line.provider ?? "-")/\(line.model ?? "-")\t"
                        + "\(line.totals.requests) calls\t\(cost)")
            }
            print("TOTAL\t\(statement.totals.requests) calls\t$\(statement.totals.pricedCost.decimalString)")
            if statement.totals.unpricedRequests > 0 {
                print("(\(statement.totals.unpricedRequests) calls of unpriced models are not in the total)")
            }
            if !statement.complete {
                print(
                    "The ledger's rollups hold $\(statement.ledgerTotals.pricedCost.decimalString) for the month: raw events "
                        + "were removed by retention, so the lines cover less than the month.")
            }
        default:
            throw MeterrError.invalid("format", "must be table, csv or json")
        }
    }
}
