import Foundation
import GRDB
import MeterrCore
import Testing

@testable import MeterrStore

/// Each model's calls, failures, refusals and latency percentiles, from the day rollups.
@Suite("Call health by model")
struct CallHealthTests {
    static let day = Timestamp(rfc3339: "2028-02-28T23:00:00Z")!

    static func event(
        _ id: String, hours: Int64 = 0, model: String = "gpt-4.1", status: Int = 200, latency: Int? = nil,
        ttft: Int? = nil, route: String = "direct", hit: Bool = false
    ) -> UsageEvent {
        var event = UsageEvent(
            id: id, ts: day.adding(milliseconds: hours * 3_600_000), org: "o", provider: .openai, model: model,
            usage: Usage(inputTokens: 1, outputTokens: 1), stream: ttft != nil, status: status, latencyMs: latency,
            ttftMs: ttft, route: route)
        event.cacheHit = hit
        return event
    }

    @Test("Buckets are 20 % wide from 1 ms, and a percentile is the bound of the bucket that holds it")
    func buckets() {
        #expect(LatencyBuckets.index(0) == 0 && LatencyBuckets.index(1) == 0)
        #expect(LatencyBuckets.index(2) == 4)  // 1.2^3 = 1.728 < 2 <= 1.2^4 = 2.07
        #expect(LatencyBuckets.upperBound(LatencyBuckets.index(250)) >= 250)
        #expect(Double(LatencyBuckets.upperBound(LatencyBuckets.index(250))) <= 250 * 1.2)
        #expect(LatencyBuckets.index(100_000_000) == LatencyBuckets.count - 1)
        let counts = [LatencyBuckets.index(100): 90, LatencyBuckets.index(1_000): 10]
        #expect(LatencyBuckets.percentile(counts, 0.5) == LatencyBuckets.upperBound(LatencyBuckets.index(100)))
        #expect(LatencyBuckets.percentile(counts, 0.95) == LatencyBuckets.upperBound(LatencyBuckets.index(1_000)))
        #expect(LatencyBuckets.percentile([:], 0.5) == nil)
    }

    @Test("Calls across a leap day's midnight: failures, refusals, hits and streams each counted where they belong")
    func health() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("health-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteStore(directory: directory)
        var events: [UsageEvent] = []
        for index in 0..<18 { events.append(Self.event("ok\(index)", hours: Int64(index % 3), latency: 200)) }
        events.append(Self.event("slow", hours: 1, latency: 5_000))
        events.append(Self.event("slower", hours: 2, latency: 9_000))
        events.append(Self.event("failed", hours: 1, status: 500, latency: 30))
        events.append(Self.event("refused", hours: 1, status: 429, route: "refused:budget:monthly"))
        events.append(Self.event("hit", hours: 1, latency: 1, route: "cache", hit: true))
        events.append(Self.event("stream", hours: 1, model: "gpt-4.1-mini", latency: 900, ttft: 120))
        _ = try await store.append(events)
        let health = try await store.modelHealth(
            org: "o", from: Self.day.dayStart, to: Self.day.adding(milliseconds: 86_400_000 * 2))
        #expect(health.map(\.model) == ["gpt-4.1", "gpt-4.1-mini"])
        let main = try #require(health.first)
        #expect(main.calls == 23 && main.errors == 1 && main.refusals == 1)
        #expect(abs(main.errorRate - 1.0 / 22) < 1e-9)
        // 18 at 200 ms and 2 slow ones: the median is 200 ms's bucket, p95 the 5 s one (rank 19 of 20).
        #expect(main.latencyP50 == LatencyBuckets.upperBound(LatencyBuckets.index(200)))
        #expect(main.latencyP95 == LatencyBuckets.upperBound(LatencyBuckets.index(5_000)))
        #expect(main.ttftP50 == nil)
        let mini = try #require(health.last)
        #expect(mini.ttftP50 == LatencyBuckets.upperBound(LatencyBuckets.index(120)))
        // The first day alone: only the calls before midnight (hour 0).
        let first = try await store.modelHealth(org: "o", from: Self.day, to: Self.day.adding(milliseconds: 3_600_000))
        #expect(first.first?.calls == 6)
        // The same events again are duplicates: nothing is counted twice.
        _ = try await store.append(events)
        #expect(
            try await store.modelHealth(
                org: "o", from: Self.day.dayStart, to: Self.day.adding(milliseconds: 172_800_000)
            ).first?.calls == 23)
    }

    @Test("The migration counts the events already stored")
    func backfill() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("health-\(UUID().uuidString).sqlite")
            .path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let queue = try DatabaseQueue(path: path)
        try SQLiteStore.migrator.migrate(queue, upTo: "v15-call-shapes")
        try queue.write { db in
            for (id, status, latency) in [("a", 200, 300), ("b", 502, 40), ("c", 200, 310)] {
                try db.execute(
                    sql: """
                        INSERT INTO usage_events (org, id, ts, provider, model, input_tokens, cache_read_tokens,
                            cache_write_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens, usage_source,
                            stream, status, latency_ms, route)
                        VALUES ('o', ?, ?, 'openai', 'gpt-4.1', 1, 0, 0, 0, 1, 0, 'reported', 0, ?, ?, 'direct')
                        """, arguments: [id, Self.day.milliseconds, status, latency])
            }
        }
        try SQLiteStore.migrator.migrate(queue)
        let row = try queue.read { db in
            try Row.fetchOne(db, sql: "SELECT calls, errors, refusals FROM call_health WHERE model = 'openai/gpt-4.1'")
        }
        #expect(row?[0] == 3 && row?[1] == 1 && row?[2] == 0)
        let buckets = try queue.read { db in try Int.fetchOne(db, sql: "SELECT SUM(count) FROM latency_buckets") }
        #expect(buckets == 2)
    }
}
