import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import MeterrStore
import MeterrTestSupport
import Testing

@testable import MeterrServer

@Suite("Budgets hold under concurrency")
struct BudgetTests {
    @Test("200 concurrent calls against a $1.00 hard budget: recorded spend never exceeds the limit")
    func concurrentHardBudget() async throws {
        try await withGateway { client, _ in
            let created = try await client.post(
                "/api/budgets", #"{"name":"pilot","scope":"org","period":"month","limit_usd":"1.00","hard":true}"#)
            #expect(created.status == .created)
            // Each call may cost up to 10,000 output tokens of gpt-4.1 ($0.08) and really does.
            let body = #"{"model":"gpt-4.1","max_tokens":10000,"messages":[{"role":"user","content":"budget-probe"}]}"#
            let statuses = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for _ in 0..<200 {
                    group.addTask {
                        let response = try await client.call(
                            "/openai/v1/chat/completions", body, headers: [.authorization: "Bearer \(adminKey)"])
                        return (Int(response.status.code), String(buffer: response.body))
                    }
                }
                var all: [(Int, String)] = []
                for try await status in group { all.append(status) }
                return all
            }
            let admitted = statuses.filter { $0.0 == 200 }.count
            let refused = statuses.filter { $0.0 == 429 }
            #expect(admitted + refused.count == 200)
            #expect(admitted >= 1 && !refused.isEmpty, "the budget bound: \(admitted) admitted")
            #expect(refused.first?.1.contains("budget \\\"pilot\\\"") == true, "\(refused.first?.1 ?? "")")
            #expect(refused.first?.1.contains("reset") == true)
            // Wait for every call's event (refused ones are recorded too, at no cost), then check the spend.
            var spent = Money.zero
            var requests = 0
            for _ in 0..<300 {
                let summary = try await client.get("/api/usage/summary?from=2026-01-01T00:00:00Z")
                let totals = summary.json["totals"] as? [String: Any]
                requests = totals?["requests"] as? Int ?? 0
                spent = Money(decimalString: totals?["cost_usd"] as? String ?? "0") ?? .zero
                if requests == 200 { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(requests == 200)
            #expect(spent <= Money(decimalString: "1.00")!, "spent \(spent)")
            let budgets = try #require(try await client.get("/api/budgets").json["budgets"] as? [[String: Any]])
            #expect(budgets.first?["reserved_usd"] as? String == "0.000000000", "every hold was settled")
            #expect(budgets.first?["spent_usd"] as? String == spent.decimalString)
        }
    }

    @Test("A refusal with room left says what the call could cost, why, and what to do")
    func refusalExplainsTheWorstCase() async throws {
        try await withGateway { client, _ in
            let created = try await client.post(
                "/api/budgets", #"{"name":"pilot","scope":"org","period":"month","limit_usd":"0.05","hard":true}"#)
            #expect(created.status == .created)
            // 32,000 output tokens of gpt-4.1 at $8 per million: $0.256, more than the whole budget.
            let greedy = try await client.call(
                "/openai/v1/chat/completions",
                #"{"model":"gpt-4.1","max_tokens":32000,"messages":[{"role":"user","content":"hi"}]}"#,
                headers: [.authorization: "Bearer \(adminKey)"])
            #expect(greedy.status == .tooManyRequests)
            let message = (greedy.json["error"] as? [String: Any])?["message"] as? String ?? ""
            #expect(message.contains("budget \"pilot\" (org, per month) cannot hold this call"), "\(message)")
            #expect(message.contains("it could cost up to 0.256"), "\(message)")
            #expect(message.contains("32000 output tokens (its max_tokens)"), "\(message)")
            #expect(message.contains("0.000000000 of 0.050000000 USD is spent"), "\(message)")
            #expect(message.contains("lower max_tokens to what the call needs"), "\(message)")
            // Without max_tokens the model's own output limit is the worst case, and the advice changes.
            let open = try await client.call(
                "/openai/v1/chat/completions", #"{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}"#,
                headers: [.authorization: "Bearer \(adminKey)"])
            let openMessage = (open.json["error"] as? [String: Any])?["message"] as? String ?? ""
            #expect(openMessage.contains("the model's output limit, as the call sets no max_tokens"), "\(openMessage)")
            #expect(openMessage.contains("set max_tokens to what the call needs"))
            // A call that fits is served.
            let small = try await client.call(
                "/openai/v1/chat/completions",
                #"{"model":"gpt-4.1","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}"#,
                headers: [.authorization: "Bearer \(adminKey)"])
            #expect(small.status == .ok)
            // The refused calls are in the ledger: their status, why, and no cost.
            var events: [[String: Any]] = []
            for _ in 0..<100 {
                events = try await client.get("/api/usage/events?limit=10").json["events"] as? [[String: Any]] ?? []
                if events.count == 3 { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            let refused = events.filter { ($0["route"] as? String)?.hasPrefix("refused:") == true }
            #expect(refused.count == 2)
            for event in refused {
                #expect(event["route"] as? String == "refused:budget:pilot")
                #expect(event["status"] as? Int == 429)
                #expect(event["cost_usd"] as? String == "0.000000000")
                #expect(event["input_tokens"] as? Int == 0 && event["model"] as? String == "gpt-4.1")
            }
        }
    }

    @Test("Only the calls a budget covers count against it, and reported usage counts at once")
    func scopes() async throws {
        let clock = ManualClock(ordinaryMoment, ticking: true)
        try await withGateway(clock: clock) { client, _ in
            _ = try await client.post("/api/teams", #"{"name":"ml"}"#)
            _ = try await client.post(
                "/api/budgets",
                #"{"name":"ml daily","scope":"team","value":"ml","period":"day","limit_usd":"0.10","hard":true}"#)
            let probe = #"{"model":"gpt-4.1","max_tokens":10000,"messages":[{"role":"user","content":"budget-probe"}]}"#
            // The ml team's second call would cross $0.10 ($0.08 each); another team is not limited.
            let first = try await client.call(
                "/openai/v1/chat/completions", probe,
                headers: [.authorization: "Bearer \(adminKey)", .init("x-meterr-team")!: "ml"])
            #expect(first.status == .ok)
            let second = try await client.call(
                "/openai/v1/chat/completions", probe,
                headers: [.authorization: "Bearer \(adminKey)", .init("x-meterr-team")!: "ml"])
            #expect(second.status == .tooManyRequests)
            #expect(second.headers[.retryAfter] != nil)
            let other = try await client.call(
                "/openai/v1/chat/completions", probe,
                headers: [.authorization: "Bearer \(adminKey)", .init("x-meterr-team")!: "search"])
            #expect(other.status == .ok)
            // Spend reported through the API counts too.
            let reported = event("r1", ts: clock.now.rfc3339, team: "ml")
            #expect(try await client.post("/api/usage/events", reported).status == .ok)
            let budgets = try #require(try await client.get("/api/budgets").json["budgets"] as? [[String: Any]])
            let spent = Money(decimalString: budgets.first?["spent_usd"] as? String ?? "") ?? .zero
            #expect(spent > Money(decimalString: "0.08")!, "the gateway call and the reported one: \(spent)")
        }
    }

    @Test("Bad budgets are refused with the field named")
    func badBudgets() async throws {
        try await withApp { client in
            for (body, field) in [
                (#"{"limit_usd":"1"}"#, "name"), (#"{"name":"x","limit_usd":"-1"}"#, "limit_usd"),
                (#"{"name":"x","limit_usd":"1","period":"fortnight"}"#, "period"),
                (#"{"name":"x","limit_usd":"1","scope":"team"}"#, "scope"),
                (#"{"name":"x","limit_usd":"1","time_zone":"Mars/Olympus"}"#, "time_zone"),
                (#"{"name":"x","limit_usd":"1","thresholds":[0]}"#, "thresholds"),
            ] {
                let response = try await client.post("/api/budgets", body)
                #expect(response.status == .badRequest, "\(body)")
                #expect(response.error["field"] == field, "\(body)")
            }
        }
    }

    @Test("Calendar periods follow the budget's time zone, across month ends and DST")
    func periods() throws {
        let zone = TimeZone(identifier: "America/New_York")!
        let time = Timestamp(rfc3339: "2026-12-01T03:00:00Z")!  // still 30 November in New York
        let month = BudgetPeriod.month.bounds(of: time, in: zone)
        #expect(month.start.rfc3339 == "2026-11-01T04:00:00.000Z")  // EDT until 1 November 06:00 UTC
        #expect(month.end.rfc3339 == "2026-12-01T05:00:00.000Z")  // EST
        let day = BudgetPeriod.day.bounds(of: time, in: zone)
        #expect(day.start.rfc3339 == "2026-11-30T05:00:00.000Z")
        let week = BudgetPeriod.week.bounds(of: time, in: TimeZone(identifier: "UTC")!)
        #expect(week.start.rfc3339 == "2026-11-30T00:00:00.000Z")  // a Monday
    }

    @Test(
        "Crossing a threshold raises one alert per threshold and period, a pace past the limit one forecast; alerts acknowledge",
        arguments: HostileMoment.all)
    func thresholdAlerts(moment: HostileMoment) async throws {
        let clock = ManualClock(moment.time, ticking: true)
        // The first call spends 80% of the limit: a forecast follows when an hour or more of the month
        // has passed and that pace (80% in `elapsed`) reaches 100% before the month ends.
        let month = BudgetPeriod.month.bounds(of: clock.now, in: TimeZone(identifier: moment.zone)!)
        let elapsed = clock.now.milliseconds - month.start.milliseconds
        let forecast = elapsed >= 3_600_000 && elapsed * 5 / 4 < month.end.milliseconds - month.start.milliseconds
        try await withGateway(clock: clock) { client, _ in
            _ = try await client.post(
                "/api/budgets",
                #"{"name":"soft","period":"month","limit_usd":"0.10","thresholds":[50,100],"time_zone":"\#(moment.zone)"}"#
            )
            let probe = #"{"model":"gpt-4.1","max_tokens":10000,"messages":[{"role":"user","content":"budget-probe"}]}"#
            for _ in 0..<3 {
                let call = try await client.call(
                    "/openai/v1/chat/completions", probe, headers: [.authorization: "Bearer \(adminKey)"])
                #expect(call.status == .ok, "a soft budget never refuses")
            }
            let expected = forecast ? 3 : 2
            var alerts: [[String: Any]] = []
            for _ in 0..<200 {
                alerts = try await client.get("/api/alerts").json["alerts"] as? [[String: Any]] ?? []
                if alerts.count >= expected { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            try await Task.sleep(for: .milliseconds(50))  // long enough for a wrong extra alert to show
            alerts = try await client.get("/api/alerts").json["alerts"] as? [[String: Any]] ?? []
            let thresholds = alerts.filter { $0["kind"] as? String == "budget.threshold" }
            #expect(thresholds.count == 2, "50% and 100%, once each: \(alerts)")
            #expect(Set(thresholds.compactMap { $0["severity"] as? String }) == ["info", "critical"])
            let forecasts = alerts.filter { $0["kind"] as? String == "budget.forecast" }
            #expect(forecasts.count == (forecast ? 1 : 0), "\(moment.name): \(forecasts)")
            #expect(alerts.count == expected)
            let id = try #require(thresholds.first?["id"] as? String)
            let acknowledged = try await client.execute(
                uri: "/api/alerts/\(id)/acknowledge", method: .post, headers: [.authorization: "Bearer \(adminKey)"])
            #expect(acknowledged.status == .noContent)
            let open = try await client.get("/api/alerts?unacknowledged=true").json["alerts"] as? [[String: Any]]
            #expect(open?.count == expected - 1)
        }
    }

    @Test("The forecast projects the period's end from its pace and says when the limit would be crossed")
    func forecast() throws {
        let start = Timestamp(rfc3339: "2026-11-01T00:00:00Z")!
        let end = Timestamp(rfc3339: "2026-12-01T00:00:00Z")!
        let tenDays = Timestamp(rfc3339: "2026-11-11T00:00:00Z")!
        // $40 in 10 of 30 days: $120 at this pace; a $100 limit falls on day 25.
        let over = try #require(
            BudgetGuard.forecast(
                spent: 40_000_000_000, limit: 100_000_000_000, periodStart: start, periodEnd: end, now: tenDays))
        #expect(over.projected == Money(decimalString: "120"))
        #expect(over.exceedsAt?.rfc3339 == "2026-11-26T00:00:00.000Z")
        let under = try #require(
            BudgetGuard.forecast(
                spent: 20_000_000_000, limit: 100_000_000_000, periodStart: start, periodEnd: end, now: tenDays))
        #expect(under.projected == Money(decimalString: "60"))
        #expect(under.exceedsAt == nil)
        #expect(
            BudgetGuard.forecast(
                spent: 1, limit: 2, periodStart: start, periodEnd: end, now: start.adding(milliseconds: 60_000)) == nil,
            "too early to tell")
    }
}
