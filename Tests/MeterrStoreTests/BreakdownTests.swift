import Foundation
import GRDB
import MeterrCore
import Testing

@testable import MeterrStore

@Suite("Team drill-downs from the team-user-key rollups")
struct BreakdownTests {
    /// The raw-event answer and the rollup answer, for every team, column set and a few whole-hour
    /// and whole-day ranges.
    func expectRollupsMatchEvents(_ store: SQLiteStore) async throws {
        let ranges: [(String, String)] = [
            ("2026-09-01T00:00:00Z", "2026-12-01T00:00:00Z"),  // whole days: daily rows
            ("2026-09-03T05:00:00Z", "2026-10-17T13:00:00Z"),  // whole hours: hourly rows
            ("2026-10-02T07:00:00Z", "2026-10-02T08:00:00Z"),
        ]
        for (fromText, toText) in ranges {
            for team in ["ml", "search", "nobody"] {
                for columns: [BreakdownColumn] in [[.user], [.key], [.user, .key], []] {
                    let filter = EventFilter(
                        from: Timestamp(rfc3339: fromText)!, to: Timestamp(rfc3339: toText)!, team: team)
                    let fast = try #require(
                        try await store.teamBreakdownFromRollups(org: "org_a", filter: filter, by: columns, limit: 50))
                    let slow = try await store.breakdownFromEvents(org: "org_a", filter: filter, by: columns, limit: 50)
                    #expect(
                        Dictionary(uniqueKeysWithValues: fast.map { ($0.values, $0.totals) })
                            == Dictionary(uniqueKeysWithValues: slow.map { ($0.values, $0.totals) }),
                        "\(team) \(columns) \(fromText)…\(toText)")
                }
            }
        }
    }

    @Test("A team's users and keys from the rollups equal the raw events' totals")
    func rollupsEqualEvents() async throws {
        try await withStore { store in
            var factory = EventFactory(seed: 11)
            _ = try await store.append((0..<3_000).map { factory.event(index: $0) })
            try await expectRollupsMatchEvents(store)
            // A range that is not whole hours, or a filter beyond the team, reads the events.
            let partial = EventFilter(
                from: Timestamp(rfc3339: "2026-09-03T05:30:00Z")!, to: Timestamp(rfc3339: "2026-10-01T00:00:00Z")!,
                team: "ml")
            #expect(
                try await store.teamBreakdownFromRollups(org: "org_a", filter: partial, by: [.user], limit: 9) == nil)
        }
    }

    @Test("Upgrading fills the new rollups from the events already in the ledger")
    func migrationBackfills() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meterr-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var factory = EventFactory(seed: 12)
        do {
            let store = try SQLiteStore(directory: directory)
            _ = try await store.append((0..<2_000).map { factory.event(index: $0) })
            // As a ledger written before this rollup existed: none of its rows, the migration not run.
            try await store.write { db in
                try db.execute(sql: "DELETE FROM usage_rollups WHERE dim = 7")
                try db.execute(
                    sql: "DELETE FROM grdb_migrations WHERE identifier = 'v11-team-user-key-rollups'")
            }
        }
        try await expectRollupsMatchEvents(try SQLiteStore(directory: directory))
    }
}
