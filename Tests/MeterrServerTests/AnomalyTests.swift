import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MeterrCore
import MeterrStore
import MeterrTestSupport
import Synchronization
import Testing

@testable import MeterrServer

/// A detector over a real store, its findings collected, on a clock the test moves.
final class DetectorHarness: Sendable {
    final class Collector: Sendable {
        let findings = Mutex<[Finding]>([])
    }

    let store: SQLiteStore
    let org: String
    let detector: AnomalyDetector
    let clock: ManualClock
    let collector = Collector()
    let directory: String

    init(start: String) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meterr-\(UUID().uuidString)").path
        store = try SQLiteStore(directory: directory)
        org = try await store.bootstrap(adminKey: nil).organisation.id
        clock = ManualClock(start)
        let collector = self.collector
        detector = AnomalyDetector(
            store: store, policies: PolicyCache(store: store), clock: clock.clock,
            report: { finding in collector.findings.withLock { $0.append(finding) } })
        try await detector.prepare(org: org)
    }

    /// One call at the clock's time.
    func call(cost: String, tokens: Int = 2_000, model: String = "gpt-4o", key: String = "key_a", team: String = "ml") {
        var event = UsageEvent(
            id: UUID().uuidString, ts: clock.now, org: org, team: team, user: nil, project: nil, keyId: key, tags: [:],
            provider: .openai, model: model, usage: Usage(inputTokens: tokens))
        event.cost = Money(decimalString: cost)
        detector.observe(event)
    }

    var alerts: [AlertRecord] {
        collector.findings.withLock { $0 }.compactMap { if case .alert(let alert) = $0 { alert } else { nil } }
    }

    var blocks: [AnomalyBlock] {
        collector.findings.withLock { $0 }.compactMap { if case .block(let block) = $0 { block } else { nil } }
    }

    /// A week of ordinary traffic: busy days (12 calls an hour from 08:00 to 18:00), quiet nights
    /// (2 calls an hour), each call's cost varying by up to ±25 %.
    func ordinaryWeek(from start: Timestamp) {
        var seed: UInt64 = 42
        for hour in 0..<(7 * 24) {
            let calls = (8..<18).contains(hour % 24) ? 12 : 2
            for call in 0..<calls {
                clock.set(start.adding(milliseconds: Int64(hour) * 3_600_000 + Int64(call) * 60_000))
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let cents = 15 + Int(seed >> 33) % 11  // 0.015 to 0.025
                self.call(cost: "0.0\(cents)")
            }
        }
    }
}

@Suite("Anomaly detection")
struct AnomalyTests {
    @Test("An ordinary week trips nothing; a spike climbs the ladder to a block, which an admin lifts")
    func ordinaryWeekThenSpike() async throws {
        let harness = try await DetectorHarness(start: "2026-06-01T00:00:00Z")
        defer { try? FileManager.default.removeItem(atPath: harness.directory) }
        let start = harness.clock.now
        harness.ordinaryWeek(from: start)
        #expect(harness.alerts.isEmpty, "\(harness.alerts.map(\.message))")
        #expect(harness.blocks.isEmpty)
        let org = harness.org
        #expect(harness.detector.admit(org: org, team: "ml", user: nil, keyId: "key_a", now: harness.clock.now) == nil)

        // Day eight, 02:00: forty calls of ten cents in a night hour that usually costs four.
        let spikeHour = start.adding(milliseconds: 7 * 24 * 3_600_000 + 2 * 3_600_000)
        for call in 0..<40 {
            harness.clock.set(spikeHour.adding(milliseconds: Int64(call) * 30_000))
            harness.call(cost: "0.10")
        }
        let kinds = Set(harness.alerts.map(\.kind))
        #expect(kinds.contains("anomaly.spike"))
        #expect(kinds.contains("anomaly.block"))
        #expect(kinds.contains("anomaly.escalation"))
        #expect(kinds.contains("anomaly.rate"), "40 requests against a night baseline of a few")
        let spike = try #require(harness.alerts.first { $0.kind == "anomaly.spike" && $0.subject == "key:key_a" })
        #expect(spike.message.contains("key:key_a cost is"))
        let escalated = harness.blocks.filter { $0.level == "escalation" }
        #expect(Set(escalated.map(\.entity)).isSuperset(of: ["key:key_a", "team:ml"]))
        #expect(escalated.allSatisfy { $0.until == nil }, "escalations hold until lifted")
        let refusal = try #require(
            harness.detector.admit(org: org, team: "ml", user: nil, keyId: "key_a", now: harness.clock.now))
        #expect(refusal.message.contains("blocked by anomaly detection"))

        // An admin lifts every block: only this hour's rate cap still holds, until the hour ends.
        for block in harness.blocks {
            try await harness.store.recordBlock(block)
            let lifted = try #require(
                try await harness.store.liftBlock(org: org, id: block.id, at: harness.clock.now, actor: "test"))
            harness.detector.lifted(lifted)
        }
        let capped = harness.detector.admit(org: org, team: "ml", user: nil, keyId: "key_a", now: harness.clock.now)
        #expect(capped?.message.contains("rate-limited") == true)
        #expect(capped?.retryAt == spikeHour.adding(milliseconds: 3_600_000))
        harness.clock.set(spikeHour.adding(milliseconds: 3_600_000))
        #expect(harness.detector.admit(org: org, team: "ml", user: nil, keyId: "key_a", now: harness.clock.now) == nil)
    }

    @Test("During the warm-up a spike alerts but never blocks")
    func warmUp() async throws {
        let harness = try await DetectorHarness(start: "2026-06-01T00:00:00Z")
        defer { try? FileManager.default.removeItem(atPath: harness.directory) }
        let start = harness.clock.now
        for hour in 0..<30 {
            harness.clock.set(start.adding(milliseconds: Int64(hour) * 3_600_000))
            harness.call(cost: "0.20")
        }
        harness.clock.set(start.adding(milliseconds: 30 * 3_600_000))
        for _ in 0..<30 { harness.call(cost: "0.50") }
        #expect(harness.alerts.contains { $0.kind == "anomaly.spike" && $0.severity == "warning" })
        #expect(harness.blocks.isEmpty, "30 hours of baseline is inside the 72-hour warm-up")
        #expect(!harness.alerts.contains { $0.kind == "anomaly.rate" })
        #expect(
            harness.detector.admit(
                org: harness.org, team: "ml", user: nil, keyId: "key_a", now: harness.clock.now) == nil)
    }

    @Test("A settled key's first call to a model it never used raises one review alert an hour; a new key's do not")
    func newModel() async throws {
        let harness = try await DetectorHarness(start: "2026-06-01T00:00:00Z")
        defer { try? FileManager.default.removeItem(atPath: harness.directory) }
        let start = harness.clock.now
        harness.call(cost: "0.01")
        harness.call(cost: "0.01")
        // A key still finding its models (no settled baseline yet) is not alerted on.
        harness.call(cost: "0.01", model: "o1")
        #expect(harness.alerts.isEmpty)
        for hour in 1...30 {
            harness.clock.set(start.adding(milliseconds: Int64(hour) * 3_600_000))
            harness.call(cost: "0.01")
        }
        #expect(harness.alerts.isEmpty)
        harness.call(cost: "0.01", model: "o3")
        let review = try #require(harness.alerts.first)
        #expect(review.kind == "anomaly.new_model")
        #expect(review.message.contains("key_a called openai/o3 for the first time"))
        harness.call(cost: "0.01", model: "o3")
        // Another new model in the same hour shares that alert's dedupe key: the alert log keeps one.
        harness.call(cost: "0.01", model: "o4-mini")
        #expect(harness.alerts.count == 2)
        #expect(Set(harness.alerts.map(\.dedupeKey)).count == 1)
        harness.clock.set(start.adding(milliseconds: 32 * 3_600_000))
        harness.call(cost: "0.01", model: "gpt-4.1")
        #expect(Set(harness.alerts.map(\.dedupeKey)).count == 2)
    }

    @Test("A call reported a year ahead counts in the current hour and does not fold a year of hours")
    func futureTimestamp() async throws {
        let harness = try await DetectorHarness(start: "2026-06-01T00:00:00Z")
        defer { try? FileManager.default.removeItem(atPath: harness.directory) }
        harness.call(cost: "0.01")
        var event = UsageEvent(
            id: "future", ts: Timestamp(rfc3339: "2027-06-01T00:00:00Z")!, org: harness.org, team: "ml", user: nil,
            project: nil, keyId: "key_a", tags: [:], provider: .openai, model: "gpt-4o", usage: Usage(inputTokens: 10))
        event.cost = Money(decimalString: "0.01")
        harness.detector.observe(event)
        let team = try #require(harness.detector.activity(org: harness.org)["team:ml"])
        #expect(team.hoursObserved == 0)
        #expect(team.requests == 2)
    }

    @Test("Baselines are learnt again from the ledger's rollups after a restart")
    func baselinesFromRollups() async throws {
        let harness = try await DetectorHarness(start: "2026-06-01T00:00:00Z")
        defer { try? FileManager.default.removeItem(atPath: harness.directory) }
        let start = harness.clock.now
        var events: [UsageEvent] = []
        for hour in 0..<48 {
            var event = UsageEvent(
                id: "e\(hour)", ts: start.adding(milliseconds: Int64(hour) * 3_600_000), org: harness.org, team: "ml",
                user: nil, project: nil, keyId: "key_a", tags: [:], provider: .openai, model: "gpt-4o",
                usage: Usage(inputTokens: 4_000))
            event.cost = Money(decimalString: "0.01")
            events.append(event)
        }
        _ = try await harness.store.append(events)
        harness.clock.set(start.adding(milliseconds: 48 * 3_600_000))
        let restarted = AnomalyDetector(
            store: harness.store, policies: PolicyCache(store: harness.store), clock: harness.clock.clock,
            report: { _ in })
        try await restarted.prepare(org: harness.org)
        let team = try #require(restarted.activity(org: harness.org)["team:ml"])
        #expect(team.hoursObserved == 48)
        #expect(abs(team.costBaseline.mean - 10_000_000) < 1, "one cent an hour")
        #expect(team.requestsBaseline.mean == 1)
    }

    @Test("Through the gateway: a spike blocks the team with a 429 in the provider's shape until it is lifted")
    func gatewayBlockAndLift() async throws {
        let clock = ManualClock("2026-07-01T00:00:00Z")
        try await withGateway(configure: { configuration, _ in configuration.clock = clock.clock }) { client, _ in
            let policy = try await client.put(
                "/api/policy",
                #"{"anomalies":{"warmup_hours":24,"min_baseline_hours":24,"min_hourly_cost_usd":"0.01","escalate_multiple":1000}}"#
            )
            #expect(policy.status == .ok)
            // Two days of one cent an hour from the ml team, reported.
            let batch = (0..<48).map { hour in
                event(
                    "h\(hour)",
                    ts: Timestamp(rfc3339: "2026-07-01T00:30:00Z")!
                        .adding(milliseconds: Int64(hour) * 3_600_000).rfc3339, input: 4_000, output: 0, cost: nil)
            }
            clock.set("2026-07-03T00:05:00Z")
            #expect(try await client.post("/api/usage/events", "[" + batch.joined(separator: ",") + "]").status == .ok)
            let probe = #"{"model":"gpt-4.1","max_tokens":10000,"messages":[{"role":"user","content":"budget-probe"}]}"#
            let headers: HTTPFields = [.authorization: "Bearer \(adminKey)", .init("x-meterr-team")!: "ml"]
            // One call costs $0.08: eight times the hourly baseline, past the block rung (5×).
            #expect(try await client.call("/openai/v1/chat/completions", probe, headers: headers).status == .ok)
            let refused = try await client.call("/openai/v1/chat/completions", probe, headers: headers)
            #expect(refused.status == .tooManyRequests)
            let error = try #require(refused.json["error"] as? [String: Any])
            #expect((error["message"] as? String)?.contains("blocked by anomaly detection") == true)
            #expect(refused.headers[.retryAfter] == "3600", "a block for the default 60 minutes")
            var open: [[String: Any]] = []
            for _ in 0..<200 {
                open = try #require(try await client.get("/api/anomalies/blocks").json["blocks"] as? [[String: Any]])
                if open.count >= 3 { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            // The reported hours were the admin key's too, so the organisation, the team and the key are blocked.
            let entities = Set(open.compactMap { $0["entity"] as? String })
            #expect(entities.isSuperset(of: ["org", "team:ml"]) && entities.contains { $0.hasPrefix("key:") })
            #expect(open.allSatisfy { $0["status"] as? String == "open" })
            let baselines = try #require(
                try await client.get("/api/anomalies/baselines").json["entities"] as? [[String: Any]])
            let team = try #require(baselines.first { $0["entity"] as? String == "team:ml" })
            #expect(team["baseline_cost_usd"] as? String == "0.010000000")
            #expect(team["warmed_up"] as? Bool == true)
            for block in open {
                let lifted = try await client.post("/api/anomalies/blocks/\(block["id"] as! String)/lift", "{}")
                #expect(lifted.json["status"] as? String == "lifted")
            }
            #expect(try await client.call("/openai/v1/chat/completions", probe, headers: headers).status == .ok)
            let viewer = try await client.post("/api/anomalies/blocks/nope/lift", "{}")
            #expect(viewer.status == .notFound)
        }
    }
}

@Suite("Alert messages in webhooks")
struct AlertNamingTests {
    @Test("A webhook's message names a key as people know it; the alert log keeps the message as raised")
    func keyNames() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meterr-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteStore(directory: directory)
        let org = try await store.bootstrap(adminKey: nil).organisation.id
        let (key, _) = try await store.createKey(
            org: org, KeyRequest(name: "ci-bot", scopes: [.gateway]), actor: "test")
        let service = AlertService(
            store: store, webhooks: store, policies: PolicyCache(store: store), clock: .system, tick: .seconds(30),
            logger: Logger(label: "test"), accounts: store)
        let alert = AlertRecord(
            id: "alt_1", orgId: org, kind: "anomaly.new_model", subject: "key:\(key.id)", severity: "warning",
            message: "key \(key.id) called gpt-5 for the first time; review that it should", dedupeKey: "d",
            createdAt: Timestamp(milliseconds: 0))
        let named = await service.named(alert)
        #expect(named.message == "key \"ci-bot\" (\(key.id)) called gpt-5 for the first time; review that it should")
        #expect(alert.message.hasPrefix("key \(key.id) called"))
        let unnamed = AlertRecord(
            id: "alt_2", orgId: org, kind: "budget.threshold", subject: nil, severity: "info", message: "budget at 50%",
            dedupeKey: "e", createdAt: Timestamp(milliseconds: 0))
        #expect(await service.named(unnamed).message == "budget at 50%")
    }
}
