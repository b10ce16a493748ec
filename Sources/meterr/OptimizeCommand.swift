import ArgumentParser
import Foundation
import MeterrCore
import MeterrSDK

/// `meterr optimize report [--from …] [--to …] [--team …] [--route …] [--format table|json]`: where the
/// organisation could spend less, through the running meterr's API.
struct OptimizeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "optimize", abstract: "Where your AI spend could be lower, with the evidence.",
        subcommands: [Report.self])

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "The savings report: prompt caching, duplicate calls, model choice, oversized max_tokens and retry spend, each priced exactly."
        )

        @Option(help: "The window's start, RFC 3339 or a date (default: 30 days before --to).") var from: String?
        @Option(help: "The window's end (default: now).") var to: String?
        @Option(help: "One team's calls.") var team: String?
        @Option(help: "One model or virtual model's calls (meterr/fast).") var route: String?
        @Option(help: "table (default) or json.") var format = "table"
        @Option(help: "meterr's base URL (default: $METERR_URL or http://127.0.0.1:8787).") var url: String?
        @Option(help: "A meterr key with the read scope (default: $METERR_KEY).") var key: String?

        func run() async throws {
            guard format == "table" || format == "json" else {
                throw MeterrError.invalid("format", "must be table or json")
            }
            func time(_ text: String?, _ name: String) throws -> Timestamp? {
                guard let text else { return nil }
                guard let value = Timestamp(rfc3339: text) else {
                    throw MeterrError.invalid(name, "must be a date or an RFC 3339 time such as 2026-11-01")
                }
                return value
            }
            let (start, end) = (try time(from, "from"), try time(to, "to"))
            let client = try ServerOptions.client(url: url, key: key, scope: "read")
            if format == "json" {
                let path = ManagementClient.savingsPath(from: start, to: end, team: team, route: route)
                print(String(decoding: try await client.json("GET", path), as: UTF8.self))
                return
            }
            let report = try await client.savings(from: start, to: end, team: team, route: route)
            print(Self.table(report), terminator: "")
        }

        static func table(_ report: SavingsReport) -> String {
            var out = "Savings report for \(report.org)"
            if let team = report.team { out += ", team \(team)" }
            if let route = report.route { out += ", \(route)" }
            out += " from \(report.from.rfc3339) to \(report.to.rfc3339)\n"
            out +=
                "\(report.calls) calls, $\(report.spendUSD.decimalString) spent; \(report.analysedCalls) analysed; "
                + "\(report.cacheHits) answered by the response cache, saving $\(report.cacheSavedUSD.decimalString)\n"
            if report.truncated {
                out += "(the window holds more calls than one report reads: the first ones are shown)\n"
            }
            if report.findings.isEmpty { return out + "No findings: nothing to save that meterr can prove.\n" }
            for finding in report.findings {
                out +=
                    "\n[\(finding.kind.rawValue), \(finding.confidence.rawValue)] \(finding.provider.rawValue)/\(finding.model)\n"
                out += "  \(finding.title)\n"
                out +=
                    "  saving: $\(finding.savingUSD.decimalString) in the window, $\(finding.monthlySavingUSD.decimalString) a month at this pace\n"
                out += "  how: \(finding.calculation)\n"
                out += "  do: \(finding.action)\n"
                if !finding.examples.isEmpty { out += "  calls: \(finding.examples.joined(separator: ", "))\n" }
            }
            out += "\nTotal: $\(report.monthlySavingUSD.decimalString) a month at this pace\n"
            return out
        }
    }
}
