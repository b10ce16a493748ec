import Foundation
import MeterrCore
import Testing

@testable import MeterrStore

/// A budget's spend and unpriced calls come from the rollups (the events for part-hours); with many values
/// in a dimension (users, keys) each value's buckets are looked up instead of reading the dimension's range.
@Suite("Spend and unpriced calls among many users")
struct RollupPlanTests {
    @Test("Each user's spend, unpriced calls and tokens match the events, with few users and with many")
    func manyUsers() async throws {
        for userCount in [3, 40] {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meterr-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let store = try SQLiteStore(directory: directory.path)
            // Calls over December 2026 (reproducible), a third without a price, some in part-hours.
            var seed: UInt64 = 7
            func random(_ below: UInt64) -> UInt64 {
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return (seed >> 33) % below
            }
            let december = try #require(Timestamp(rfc3339: "2026-12-01T00:00:00Z"))
            let events = (0..<1_200).map { index in
                UsageEvent(
                    id: "e\(index)", ts: december.adding(milliseconds: Int64(random(20 * 86_400_000))), org: "o",
                    user: "u\(random(UInt64(userCount)))", keyId: "k\(random(UInt64(userCount)))", provider: .openai,
                    model: "gpt-4.1", usage: Usage(inputTokens: Int(random(900)), outputTokens: Int(random(90))),
                    cost: random(3) == 0 ? nil : Money(nanos: Int64(1_000 + random(5_000))))
            }
            _ = try await store.append(events)
            let ranges = [
                (december, try #require(Timestamp(rfc3339: "2027-01-01T00:00:00Z"))),
                (
                    try #require(Timestamp(rfc3339: "2026-12-03T05:30:00Z")),
                    try #require(Timestamp(rfc3339: "2026-12-11T17:45:10Z"))
                ),
                (
                    try #require(Timestamp(rfc3339: "2026-12-19T00:00:00Z")),
                    try #require(Timestamp(rfc3339: "2026-12-26T00:00:00Z"))
                ),
            ]
            var periods: [BudgetPeriodScope] = []
            var expected: [(requests: Int, tokens: Int)] = []
            for (from, to) in ranges {
                let spent = events.filter { $0.ts >= from && $0.ts < to }.reduce(0) { $0 + ($1.cost?.nanos ?? 0) }
                #expect(
                    try await store.spend(org: "o", scope: .organisation, from: from, to: to).nanos == spent,
                    "\(userCount) users, the organisation from \(from.rfc3339)")
                for index in [0, 1, userCount - 1, userCount] {
                    for scope in [BudgetScope.user("u\(index)"), .key("k\(index)")] {
                        let covered = events.filter { event in
                            guard event.ts >= from, event.ts < to else { return false }
                            return scope == .user(event.user ?? "") || scope == .key(event.keyId ?? "")
                        }
                        #expect(
                            try await store.spend(org: "o", scope: scope, from: from, to: to).nanos
                                == covered.reduce(0) { $0 + ($1.cost?.nanos ?? 0) },
                            "\(userCount) users, \(scope) from \(from.rfc3339)")
                        let counted = covered.filter { $0.cost == nil }
                        periods.append(BudgetPeriodScope(scope: scope, from: from, to: to))
                        expected.append(
                            (counted.count, counted.reduce(0) { $0 + $1.usage.inputTokens + $1.usage.outputTokens }))
                    }
                }
            }
            let counted = try await store.unpricedUsage(org: "o", of: periods)
            #expect(counted.map(\.requests) == expected.map(\.requests), "\(userCount) users")
            #expect(counted.map(\.tokens) == expected.map(\.tokens), "\(userCount) users")
            #expect(expected.contains { $0.requests > 0 }, "some user has unpriced calls")
        }
    }
}
