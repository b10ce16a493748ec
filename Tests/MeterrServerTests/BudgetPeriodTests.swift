import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import MeterrStore
import MeterrTestSupport
import Testing

@testable import MeterrServer

/// A reported event of gpt-4o whose 400,000 input tokens cost exactly $1.00.
func dollarEvent(_ id: String, ts: String, team: String = "ml") -> String {
    event(id, ts: ts, input: 400_000, output: 0, cost: nil, team: team)
}

extension TestClientProtocol {
    func budgets() async throws -> [[String: Any]] {
        try #require(try await get("/api/budgets").json["budgets"] as? [[String: Any]])
    }

    func alerts() async throws -> [[String: Any]] {
        try #require(try await get("/api/alerts").json["alerts"] as? [[String: Any]])
    }

    func patch(_ uri: String, _ json: String) async throws -> TestResponse {
        try await execute(
            uri: uri, method: .patch,
            headers: [.authorization: "Bearer \(adminKey)", .contentType: "application/json"],
            body: ByteBuffer(string: json))
    }

    func put(_ uri: String, _ json: String) async throws -> TestResponse {
        try await execute(
            uri: uri, method: .put, headers: [.authorization: "Bearer \(adminKey)", .contentType: "application/json"],
            body: ByteBuffer(string: json))
    }
}

@Suite("Budget periods, history and forecasts on a controllable clock")
struct BudgetPeriodTests {
    @Test("A monthly budget in New York resets at local month end, files the month as history, and re-baselines")
    func monthEndInNewYork() async throws {
        let clock = ManualClock("2026-03-10T12:00:00Z")
        try await withApp(configure: { $0.clock = clock.clock }) { client in
            let created = try await client.post(
                "/api/budgets",
                #"{"name":"ml monthly","period":"month","time_zone":"America/New_York","limit_usd":"10"}"#)
            #expect(created.status == .created)
            let id = try #require(created.json["id"] as? String)
            #expect(created.json["period_start"] as? String == "2026-03-01T05:00:00.000Z", "midnight EST")
            for day in 2...5 {
                let posted = try await client.post(
                    "/api/usage/events", dollarEvent("m\(day)", ts: "2026-03-0\(day)T15:00:00Z"))
                #expect(posted.status == .ok)
            }
            // $4 in 9.3 days of a 31-day month: $13.3 by the end, crossing $10 around the 24th.
            var budget = try #require(try await client.budgets().first)
            #expect(budget["spent_usd"] as? String == "4.000000000")
            let projected = try #require(Money(decimalString: budget["projected_usd"] as? String ?? ""))
            #expect(projected > Money(decimalString: "13")! && projected < Money(decimalString: "13.5")!)
            #expect((budget["projected_to_exceed_at"] as? String)?.hasPrefix("2026-03-24") == true)
            var forecast: [String: Any]?
            for _ in 0..<200 {
                forecast = try await client.alerts().first { $0["kind"] as? String == "budget.forecast" }
                if forecast != nil { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            let message = try #require(forecast?["message"] as? String)
            #expect(message.contains("projected to exceed its limit on the 24th (2026-03-24)"), "\(message)")

            // 23:30 on 31 March in New York is already April in UTC: still March's period.
            clock.set("2026-04-01T03:30:00Z")
            #expect(
                try await client.post("/api/usage/events", dollarEvent("late", ts: "2026-04-01T03:45:00Z"))
                    .status == .ok)
            budget = try #require(try await client.budgets().first)
            #expect(budget["spent_usd"] as? String == "5.000000000")
            #expect(budget["resets_at"] as? String == "2026-04-01T04:00:00.000Z", "midnight EDT")

            // Ten minutes into April in New York: a fresh period, and March kept as history.
            clock.set("2026-04-01T04:10:00Z")
            budget = try #require(try await client.budgets().first)
            #expect(budget["spent_usd"] as? String == "0.000000000")
            #expect(budget["period_start"] as? String == "2026-04-01T04:00:00.000Z")
            let history = try #require(
                try await client.get("/api/budgets/\(id)/history").json["periods"] as? [[String: Any]])
            #expect(history.count == 1, "March, the budget's first period: \(history)")
            let march = try #require(history.first)
            #expect(march["start"] as? String == "2026-03-01T05:00:00.000Z")
            #expect(march["end"] as? String == "2026-04-01T04:00:00.000Z")
            #expect(march["spent_usd"] as? String == "5.000000000")
            #expect(march["reason"] as? String == "ended")

            // Changing the period re-baselines: the week so far is counted afresh from the ledger.
            let changed = try await client.patch("/api/budgets/\(id)", #"{"period":"week"}"#)
            #expect(changed.status == .ok)
            #expect(changed.json["period_start"] as? String == "2026-03-30T04:00:00.000Z", "Monday, EDT")
            #expect(changed.json["spent_usd"] as? String == "1.000000000", "the late-March dollar of this week")
            let after = try #require(
                try await client.get("/api/budgets/\(id)/history").json["periods"] as? [[String: Any]])
            #expect(after.first?["reason"] as? String == "changed")
            #expect(after.first?["period"] as? String == "month")
            #expect(after.first?["start"] as? String == "2026-04-01T04:00:00.000Z")
        }
    }

    @Test("A rolling window counts whole hours and lets old spend slide out")
    func rollingWindow() async throws {
        let clock = ManualClock("2026-05-10T12:30:00Z")
        try await withApp(configure: { $0.clock = clock.clock }) { client in
            let created = try await client.post(
                "/api/budgets", #"{"name":"3h","period":"rolling","window_hours":3,"limit_usd":"2.50","hard":true}"#)
            #expect(created.status == .created)
            #expect(created.json["window_hours"] as? Int == 3)
            #expect(created.json["period_start"] as? String == "2026-05-10T10:00:00.000Z")
            _ = try await client.post("/api/usage/events", dollarEvent("a", ts: "2026-05-10T10:15:00Z"))
            _ = try await client.post("/api/usage/events", dollarEvent("b", ts: "2026-05-10T11:15:00Z"))
            var budget = try #require(try await client.budgets().first)
            #expect(budget["spent_usd"] as? String == "2.000000000")
            #expect(budget["resets_at"] as? String == "2026-05-10T13:00:00.000Z", "when the 10:00 dollar leaves")
            #expect(budget["projected_usd"] is NSNull)
            clock.set("2026-05-10T13:05:00Z")
            budget = try #require(try await client.budgets().first)
            #expect(budget["spent_usd"] as? String == "1.000000000")
            clock.set("2026-05-10T14:05:00Z")
            budget = try #require(try await client.budgets().first)
            #expect(budget["spent_usd"] as? String == "0.000000000")
            // Changing a rolling budget files its window as history, named as the API names periods.
            let id = try #require(created.json["id"] as? String)
            #expect(try await client.patch("/api/budgets/\(id)", #"{"period":"day"}"#).status == .ok)
            let history = try #require(
                try await client.get("/api/budgets/\(id)/history").json["periods"] as? [[String: Any]])
            #expect(history.first?["period"] as? String == "rolling")
            #expect(history.first?["window_hours"] as? Int == 3)
            let bad = try await client.post(
                "/api/budgets", #"{"name":"x","period":"rolling","window_hours":0,"limit_usd":"1"}"#)
            #expect(bad.error["field"] == "period")
        }
    }

    @Test("A hard rolling budget refuses through the gateway until its oldest spend leaves the window")
    func rollingHardBudgetThroughTheGateway() async throws {
        let clock = ManualClock("2026-05-10T12:30:00Z")
        try await withGateway(configure: { configuration, _ in configuration.clock = clock.clock }) { client, _ in
            _ = try await client.post(
                "/api/budgets", #"{"name":"2h","period":"rolling","window_hours":2,"limit_usd":"0.10","hard":true}"#)
            let probe = #"{"model":"gpt-4.1","max_tokens":10000,"messages":[{"role":"user","content":"budget-probe"}]}"#
            let headers: HTTPFields = [.authorization: "Bearer \(adminKey)"]
            #expect(try await client.call("/openai/v1/chat/completions", probe, headers: headers).status == .ok)
            clock.set("2026-05-10T13:10:00Z")
            let refused = try await client.call("/openai/v1/chat/completions", probe, headers: headers)
            #expect(refused.status == .tooManyRequests)
            // The 12:00 hour's spend leaves the window at 14:00: 50 minutes from now.
            #expect(refused.headers[.retryAfter] == "3000")
            #expect(String(buffer: refused.body).contains("per rolling 2 h"))
            clock.set("2026-05-10T14:00:00Z")
            #expect(try await client.call("/openai/v1/chat/completions", probe, headers: headers).status == .ok)
        }
    }

    @Test("A cool-down quiets repeats of an alert kind; a more severe alert still speaks")
    func coolDown() async throws {
        let clock = ManualClock("2026-06-01T09:00:00Z")
        try await withApp(configure: { $0.clock = clock.clock }) { client in
            let policy = try await client.put(
                "/api/policy", #"{"alerts":{"budget.threshold":{"cooldown_minutes":60}}}"#)
            #expect(policy.status == .ok)
            #expect((policy.json["alerts"] as? [String: Any])?["budget.threshold"] != nil)
            _ = try await client.post("/api/budgets", #"{"name":"b","limit_usd":"10","thresholds":[10,20,30,90]}"#)
            _ = try await client.post("/api/usage/events", dollarEvent("1", ts: "2026-06-01T09:00:00Z"))
            try await Task.sleep(for: .milliseconds(100))
            clock.advance(minutes: 10)
            _ = try await client.post("/api/usage/events", dollarEvent("2", ts: "2026-06-01T09:10:00Z"))
            try await Task.sleep(for: .milliseconds(100))
            clock.advance(minutes: 60)
            _ = try await client.post("/api/usage/events", dollarEvent("3", ts: "2026-06-01T10:10:00Z"))
            try await Task.sleep(for: .milliseconds(100))
            // 90 % is a warning: more severe than the cooling info alerts, so it passes at once.
            _ = try await client.post(
                "/api/usage/events",
                "[" + (4...9).map { dollarEvent("x\($0)", ts: "2026-06-01T10:11:00Z") }.joined(separator: ",") + "]")
            var messages: [String] = []
            for _ in 0..<200 {
                messages = try await client.alerts().compactMap { $0["message"] as? String }
                if messages.contains(where: { $0.contains("reached 90%") }) { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(messages.contains { $0.contains("reached 10%") })
            #expect(!messages.contains { $0.contains("reached 20%") }, "cooling down: \(messages)")
            #expect(messages.contains { $0.contains("reached 30%") })
            #expect(messages.contains { $0.contains("reached 90%") })
            let bad = try await client.put("/api/policy", #"{"alerts":{"budget.threshold":{"cooldown":5}}}"#)
            #expect(bad.error["field"] == "alerts.budget.threshold.cooldown")
            let unknown = try await client.put("/api/policy", #"{"alerts":{"budget.treshold":{"cooldown_minutes":5}}}"#)
            #expect(unknown.error["field"] == "alerts.budget.treshold")
            let falling = try await client.put("/api/policy", #"{"anomalies":{"block_multiple":2}}"#)
            #expect(falling.error["field"] == "anomalies", "block below alert: \(falling.json)")
        }
    }
}
