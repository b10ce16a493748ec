import Foundation
import Logging
import MeterrCore
import MeterrStore
import Testing

@testable import MeterrPostgres

@Suite("PostgreSQL: retention drops whole months")
struct PostgresRetentionTests {
    static func at(_ text: String) -> Timestamp { Timestamp(rfc3339: text)! }

    @Test(
        "Months past every organisation's retention are dropped as partitions; only a shorter retention deletes rows",
        .disabled(if: TestCluster.unavailable != nil, "\(TestCluster.unavailable ?? "")"))
    func months() async throws {
        let now = Self.at("2026-12-15T12:00:00Z")
        try await TestCluster.withStore(clock: WallClock { now }) { store, _ in
            let short = try await store.bootstrap(adminKey: nil).organisation.id
            let long = try await store.createOrganisation(name: "Long", actor: "test").0.id
            var policy = OrgPolicy.defaults
            policy.eventRetentionDays = 30
            try await store.setPolicy(org: short, policy, actor: "test")
            policy.eventRetentionDays = 90
            try await store.setPolicy(org: long, policy, actor: "test")
            let months = ["2026-08", "2026-09", "2026-10", "2026-11", "2026-12"]
            var events: [UsageEvent] = []
            for org in [short, long] {
                for month in months {
                    events.append(
                        UsageEvent(
                            id: "\(org)-\(month)", ts: Self.at("\(month)-10T12:00:00Z"), org: org, provider: .openai,
                            model: "gpt-4o", usage: Usage(inputTokens: 10, outputTokens: 1), cost: Money(nanos: 7)))
                }
            }
            _ = try await store.append(events)
            let year = (Self.at("2026-01-01T00:00:00Z"), Self.at("2027-01-01T00:00:00Z"))
            let before = try await store.summary(org: short, groupBy: .none, from: year.0, to: year.1).totals

            let retention = EventRetention(
                store: store, defaultDays: nil, clock: WallClock { now }, logger: Logger(label: "test"))
            let removed = try await retention.sweep()
            // 30 days before 15 December is in November: the short organisation keeps November on.
            // 90 days is in September: August's partition is dropped for both, no row deleted.
            #expect(removed[short] == 2, "September and October rows of the short organisation")
            #expect(removed[long] == 0)
            func ids(_ org: String) async throws -> [String] {
                var ids: [String] = []
                try await store.forEachEvent(org: org, from: nil, to: nil) { ids.append($0.id) }
                return ids
            }
            #expect(try await ids(short) == ["\(short)-2026-11", "\(short)-2026-12"])
            #expect(try await ids(long) == ["2026-09", "2026-10", "2026-11", "2026-12"].map { "\(long)-\($0)" })
            #expect(!(try await store.dropEventMonths(before: Self.at("2026-09-01T00:00:00Z"))).contains("2026-08"))
            // The rollups keep every month's totals.
            #expect(try await store.summary(org: short, groupBy: .none, from: year.0, to: year.1).totals == before)
        }
    }
}
