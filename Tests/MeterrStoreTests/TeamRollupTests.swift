import Foundation
import GRDB
import MeterrCore
import Testing

@testable import MeterrStore

/// The team drill-down's rollups give what the raw events give.
@Suite("Team × user rollups")
struct TeamRollupTests {
    static let start = Timestamp(rfc3339: "2026-12-31T20:00:00Z")!

    static func events() -> [UsageEvent] {
        (0..<240).map { index in
            let teams = ["search", "ml", "search␟odd"]
            let users: [String?] = ["ana", "bo", nil]
            let keys: [String?] = ["key_a", "key_b", nil]
            return UsageEvent(
                id: "e\(index)", ts: start.adding(milliseconds: Int64(index) * 97_000), org: "o",
                team: index % 7 == 0 ? nil : teams[index % 3], user: users[index % 3 == 1 ? 0 : index % 2 + 1],
                keyId: keys[index % 4 == 3 ? 2 : index % 2], provider: .openai, model: "gpt-4.1",
                usage: Usage(inputTokens: 100 + index, outputTokens: index),
                cost: index % 11 == 0 ? nil : Money(nanos: Int64(1_000 + index * 37)))
        }
    }

    static func compare(_ store: SQLiteStore, from: Timestamp, to: Timestamp) async throws {
        for team in ["search", "ml", "search␟odd"] {
            let rolled = try await store.teamUsers(org: "o", team: team, from: from, to: to)
            let raw = try await store.breakdown(
                org: "o", filter: EventFilter(from: from, to: to, team: team), by: [.user], limit: 1000)
            #expect(
                Dictionary(uniqueKeysWithValues: rolled.map { ($0.values, $0.totals) })
                    == Dictionary(uniqueKeysWithValues: raw.map { ($0.values, $0.totals) }), "\(team)")
            #expect(!rolled.isEmpty)
        }
    }

    @Test("Across a year's end, whole hours: the same groups and totals as the raw events, unpriced calls too")
    func sameAsRaw() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("teams-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteStore(directory: directory)
        _ = try await store.append(Self.events())
        try await Self.compare(store, from: Self.start, to: Self.start.adding(milliseconds: 8 * 3_600_000))
        // A range of whole hours inside: hourly rows at both edges, the day between from the daily ones.
        try await Self.compare(
            store, from: Self.start.adding(milliseconds: 3_600_000), to: Self.start.adding(milliseconds: 6 * 3_600_000))
    }

    @Test("The migration builds them from the events already stored")
    func backfill() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("teams-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let pool = try DatabasePool(path: directory + "/meterr.sqlite")
        try SQLiteStore.migrator.migrate(pool, upTo: "v16-call-health")
        try await pool.write { db in _ = try SQLiteStore.append(Self.events(), in: db) }
        try await pool.write { db in try db.execute(sql: "DELETE FROM usage_rollups WHERE dim >= 7") }
        try pool.close()
        let store = try SQLiteStore(directory: directory)
        try await Self.compare(store, from: Self.start, to: Self.start.adding(milliseconds: 8 * 3_600_000))
    }
}
