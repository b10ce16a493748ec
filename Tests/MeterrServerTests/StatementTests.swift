import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import Testing

@testable import MeterrServer

/// Chargeback statements: a month's line items per team, project, provider and model, whose totals
/// equal the ledger's, as JSON and CSV.
@Suite("Monthly statements")
struct StatementTests {
    /// November 2026 at its edges, two teams, two projects, two models and an unpriced call, plus calls
    /// just outside the month on either side.
    static let events = [
        statementEvent("before", ts: "2026-10-31T23:59:59.999Z", team: "ml", project: "search", model: "gpt-4o"),
        statementEvent("first", ts: "2026-11-01T00:00:00.000Z", team: "ml", project: "search", model: "gpt-4o"),
        statementEvent("second", ts: "2026-11-12T09:30:00.000Z", team: "ml", project: "search", model: "gpt-4o"),
        statementEvent("third", ts: "2026-11-15T18:00:00.000Z", team: "ml", project: "chat", model: "gpt-4o-mini"),
        statementEvent("fourth", ts: "2026-11-20T07:00:00.000Z", team: "web", project: nil, model: "gpt-4o"),
        statementEvent("unpriced", ts: "2026-11-25T07:00:00.000Z", team: "web", project: nil, model: "house-model"),
        statementEvent("last", ts: "2026-11-30T23:59:59.999Z", team: "web", project: nil, model: "gpt-4o-mini"),
        statementEvent("after", ts: "2026-12-01T00:00:00.000Z", team: "web", project: nil, model: "gpt-4o"),
    ]

    @Test("The organisation's month: every call inside it and none outside, totals equal to the ledger's")
    func organisation() async throws {
        try await withApp { client in
            let ingest = try await client.post("/api/usage/events", "[" + Self.events.joined(separator: ",") + "]")
            #expect(ingest.status == .ok)
            let response = try await client.get("/api/statements/2026-11")
            #expect(response.status == .ok)
            let statement = try JSONDecoder().decode(UsageStatement.self, from: Data(buffer: response.body))
            #expect(statement.month == "2026-11")
            #expect(statement.team == nil)
            #expect(statement.from == Timestamp(rfc3339: "2026-11-01T00:00:00Z"))
            #expect(statement.to == Timestamp(rfc3339: "2026-12-01T00:00:00Z"))
            #expect(statement.totals.requests == 6)
            #expect(statement.totals.unpricedRequests == 1)
            #expect(statement.complete)
            #expect(statement.totals == statement.ledgerTotals)
            // Each call costs what the catalog says; the lines add up to the totals.
            let summed = statement.lines.reduce(Money.zero) { $0 + $1.totals.pricedCost }
            #expect(summed == statement.totals.pricedCost)
            let keys = Set(statement.lines.map { "\($0.team ?? "-")/\($0.project ?? "-")/\($0.model ?? "-")" })
            #expect(
                keys == [
                    "ml/search/gpt-4o", "ml/chat/gpt-4o-mini", "web/-/gpt-4o", "web/-/house-model", "web/-/gpt-4o-mini",
                ])
            let search = try #require(statement.lines.first { $0.project == "search" })
            #expect(search.totals.requests == 2)
            // The month's summary over the same range agrees.
            let summary = try await client.get(
                "/api/usage/summary?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z")
            let totals = try #require(summary.json["totals"] as? [String: Any])
            #expect(totals["requests"] as? Int == 6)
            #expect(totals["cost_usd"] as? String == statement.totals.pricedCost.decimalString)
        }
    }

    @Test("A team's statement holds only its calls; the CSV has a row per line and a TOTAL row that adds up")
    func teamAndCSV() async throws {
        try await withApp { client in
            _ = try await client.post("/api/usage/events", "[" + Self.events.joined(separator: ",") + "]")
            let json = try await client.get("/api/statements/2026-11?team=web")
            let statement = try JSONDecoder().decode(UsageStatement.self, from: Data(buffer: json.body))
            #expect(statement.team == "web")
            #expect(statement.lines.allSatisfy { $0.team == "web" })
            #expect(statement.totals.requests == 3)
            #expect(statement.complete)
            let csv = try await client.get("/api/statements/2026-11?team=web&format=csv")
            #expect(csv.headers[.contentType] == "text/csv; charset=utf-8")
            #expect(csv.headers[.contentDisposition]?.contains("meterr-statement-2026-11-web.csv") == true)
            let rows = String(buffer: csv.body).split(separator: "\n").map {
                $0.split(separator: ",", omittingEmptySubsequences: false)
            }
            #expect(rows.first?.first == "month")
            #expect(rows.count == 1 + statement.lines.count + 1)
            let total = try #require(rows.last)
            #expect(total[2] == "TOTAL")
            #expect(Int(total[5]) == rows.dropFirst().dropLast().reduce(0) { $0 + Int($1[5])! })
            #expect(String(total[11]) == statement.totals.pricedCost.decimalString)
        }
    }

    @Test(
        "The dashboard's statement page shows the API's lines and total, prints without its chrome, and downloads CSV")
    func dashboardPage() async throws {
        try await withApp { client in
            _ = try await client.post("/api/usage/events", "[" + Self.events.joined(separator: ",") + "]")
            let api = try JSONDecoder().decode(
                UsageStatement.self, from: Data(buffer: try await client.get("/api/statements/2026-11").body))
            let session = try await client.signIn(email: "fin@example.com", role: "viewer")
            // Without a month: the month before the clock's (15 December → November).
            let html = String(buffer: try await client.page("/statements", session).body)
            #expect(exactUSD(html, id: "statement-total") == api.totals.pricedCost.decimalString)
            #expect(html.components(separatedBy: "<tr><td>").count - 1 == api.lines.count)
            #expect(html.contains("class=\"panel no-print\""))
            #expect(html.contains("href=\"/statements.csv?month=2026-11&amp;team=\""))
            let team = String(buffer: try await client.page("/statements?month=2026-11&team=ml", session).body)
            #expect(team.contains("team ml"))
            #expect(!team.contains("<td>web</td>"))
            let csv = try await client.page("/statements.csv?month=2026-11", session)
            #expect(String(buffer: csv.body) == api.csv)
            let bad = String(buffer: try await client.page("/statements?month=2026-1", session).body)
            #expect(bad.contains("must be a month such as 2026-11"))
            let css = String(buffer: try await client.page("/assets/meterr.css", nil).body)
            #expect(css.contains("@media print"))
        }
    }

    @Test("A bad month or format is a clear 400; a month without calls is an empty, complete statement")
    func edges() async throws {
        try await withApp { client in
            for (path, field) in [
                ("/api/statements/2026-13", "month"), ("/api/statements/november", "month"),
                ("/api/statements/2026-11?format=pdf", "format"),
            ] {
                let response = try await client.get(path)
                #expect(response.status == .badRequest)
                #expect((response.json["error"] as? [String: Any])?["field"] as? String == field)
            }
            let empty = try await client.get("/api/statements/2026-02")
            let statement = try JSONDecoder().decode(UsageStatement.self, from: Data(buffer: empty.body))
            #expect(statement.lines.isEmpty)
            #expect(statement.totals.requests == 0)
            #expect(statement.complete)
            #expect(statement.to == Timestamp(rfc3339: "2026-03-01T00:00:00Z"))
            let december = try await client.get("/api/statements/2026-12")
            let next = try JSONDecoder().decode(UsageStatement.self, from: Data(buffer: december.body))
            #expect(next.to == Timestamp(rfc3339: "2027-01-01T00:00:00Z"))
        }
    }
}

func statementEvent(_ id: String, ts: String, team: String, project: String?, model: String) -> String {
    let project = project.map { ",\"project\":\"\($0)\"" } ?? ""
    return """
        {"id":"\(id)","ts":"\(ts)","provider":"openai","model":"\(model)","input_tokens":1000,\
        "output_tokens":200,"team":"\(team)"\(project)}
        """
}
