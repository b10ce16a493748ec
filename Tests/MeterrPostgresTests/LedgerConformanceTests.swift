import Foundation
import Logging
import MeterrCore
import MeterrStore
import PostgresNIO
import Testing

@testable import MeterrPostgres

/// The ledger's behaviour, the same on every database: each test runs on SQLite and on PostgreSQL.
@Suite("The usage ledger on SQLite and PostgreSQL")
struct LedgerConformanceTests {
    enum Database: String, CaseIterable, CustomTestStringConvertible {
        case sqlite, postgres
        var testDescription: String { rawValue }
    }

    static var databases: [Database] { TestCluster.unavailable == nil ? Database.allCases : [.sqlite] }

    /// Runs `body` with a fresh ledger of `database`.
    func withLedger(_ database: Database, _ body: (any UsageLedger) async throws -> Void) async throws {
        switch database {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString).path
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try await body(try SQLiteStore(directory: directory))
        case .postgres:
            try await TestCluster.withStore { store, _ in try await body(store) }
        }
    }

    static func at(_ text: String) -> Timestamp { Timestamp(rfc3339: text)! }

    static func event(
        _ id: String, _ ts: String, org: String = "org_a", team: String? = "ml", user: String? = "ana",
        model: String = "gpt-4o", input: Int = 1000, output: Int = 100, nanos: Int64? = 4_500_000,
        tags: [String: String] = [:]
    ) -> UsageEvent {
        UsageEvent(
            id: id, ts: at(ts), org: org, team: team, user: user, keyId: "key_1", tags: tags, provider: .openai,
            model: model, usage: Usage(inputTokens: input, outputTokens: output),
            cost: nanos.map(Money.init(nanos:)), status: 200, latencyMs: 250)
    }

    @Test("Appends are idempotent by (organisation, id); the summary's totals are exact", arguments: databases)
    func idempotentAppend(_ database: Database) async throws {
        try await withLedger(database) { ledger in
            let first = try await ledger.append([
                Self.event("a", "2026-11-30T22:30:00.000Z"),
                Self.event("b", "2026-11-30T23:30:00.000Z", model: "gpt-4o-2024-08-06", nanos: 1_000_000_001),
                Self.event("a", "2026-11-30T22:31:00.000Z"),  // the same id again in the batch
                Self.event("a", "2026-12-01T10:00:00.000Z", org: "org_b", team: "web", nanos: nil),
            ])
            #expect(first == [true, true, false, true])
            let again = try await ledger.append([
                Self.event("b", "2026-11-30T23:30:00.000Z"), Self.event("c", "2026-12-01T09:00:00.000Z"),
            ])
            #expect(again == [false, true])
            let month = try await ledger.summary(
                org: "org_a", groupBy: .none, from: Self.at("2026-11-01T00:00:00Z"), to: Self.at("2027-01-01T00:00:00Z")
            )
            #expect(month.totals.requests == 3)
            #expect(month.totals.pricedCost == Money(nanos: 4_500_000 + 1_000_000_001 + 4_500_000))
            #expect(month.totals.usage.inputTokens == 3000)
            let other = try await ledger.summary(
                org: "org_b", groupBy: .none, from: Self.at("2026-11-01T00:00:00Z"), to: Self.at("2027-01-01T00:00:00Z")
            )
            #expect(other.totals.requests == 1 && other.totals.unpricedRequests == 1)
            let models = try await ledger.summary(
                org: "org_a", groupBy: .model, from: Self.at("2026-11-01T00:00:00Z"),
                to: Self.at("2027-01-01T00:00:00Z"))
            #expect(
                models.groups.map { "\($0.provider ?? "")/\($0.value ?? "")=\($0.totals.requests)" } == [
                    "openai/gpt-4o-2024-08-06=1", "openai/gpt-4o=2",
                ])
            // Days of the organisation's calendar: in Berlin the 23:30 call is on 1 December.
            let berlin = try #require(LocalCalendar(identifier: "Europe/Berlin"))
            let days = try await ledger.summary(
                org: "org_a", groupBy: .day, from: Self.at("2026-11-30T00:00:00Z"), to: Self.at("2026-12-02T00:00:00Z"),
                calendar: berlin)
            #expect(
                days.groups.map { "\($0.value ?? "")=\($0.totals.requests)" } == [
                    "2026-11-29T23:00:00.000Z=1", "2026-11-30T23:00:00.000Z=2",
                ])
            let hours = try await ledger.summary(
                org: "org_a", groupBy: .hour, from: Self.at("2026-11-30T22:00:00Z"), to: Self.at("2026-12-01T00:00:00Z")
            )
            #expect(hours.groups.map(\.totals.requests) == [1, 1])
        }
    }

    @Test(
        "Pages of events: newest first, filtered by team, model family and tag, with a stable cursor",
        arguments: databases)
    func eventPages(_ database: Database) async throws {
        try await withLedger(database) { ledger in
            var events: [UsageEvent] = []
            for index in 0..<25 {
                let minute = index < 10 ? "0\(index)" : "\(index)"
                events.append(
                    Self.event(
                        "e\(index)", "2026-12-03T10:\(minute):00.000Z", team: index % 2 == 0 ? "ml" : "web",
                        model: index % 3 == 0 ? "claude-sonnet-4-5-20250929" : "gpt-4o",
                        tags: index % 5 == 0 ? ["env": "prod"] : [:]))
            }
            events.append(Self.event("other", "2026-12-03T10:30:00.000Z", org: "org_b"))
            _ = try await ledger.append(events)
            var seen: [String] = []
            var cursor: EventCursor?
            repeat {
                let page = try await ledger.events(org: "org_a", filter: EventFilter(), limit: 10, cursor: cursor)
                seen += page.events.map(\.id)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(seen == (0..<25).reversed().map { "e\($0)" })
            let ml = try await ledger.events(org: "org_a", filter: EventFilter(team: "ml"), limit: 100, cursor: nil)
            #expect(ml.events.count == 13 && ml.events.allSatisfy { $0.team == "ml" })
            var family = EventFilter()
            family.model = "claude-sonnet-4-5"
            let claude = try await ledger.events(org: "org_a", filter: family, limit: 100, cursor: nil)
            #expect(claude.events.map(\.id) == ["e24", "e21", "e18", "e15", "e12", "e9", "e6", "e3", "e0"])
            var tagged = EventFilter()
            tagged.tags = ["env": "prod"]
            let prod = try await ledger.events(org: "org_a", filter: tagged, limit: 100, cursor: nil)
            #expect(prod.events.map(\.id) == ["e20", "e15", "e10", "e5", "e0"])
            #expect(prod.events.first?.tags == ["env": "prod"])
            // Every field comes back as stored.
            let stored = try #require(prod.events.last)
            #expect(stored == events[0])
        }
    }

    @Test("Every event of a range, in time order, for one organisation or all", arguments: databases)
    func everyEvent(_ database: Database) async throws {
        try await withLedger(database) { ledger in
            _ = try await ledger.append([
                Self.event("late", "2026-12-03T12:00:00.000Z"), Self.event("early", "2026-12-01T00:00:00.000Z"),
                Self.event("theirs", "2026-12-02T00:00:00.000Z", org: "org_b"),
                Self.event("outside", "2027-01-01T00:00:00.000Z"),
            ])
            var ours: [String] = []
            try await ledger.forEachEvent(
                org: "org_a", from: Self.at("2026-12-01T00:00:00Z"), to: Self.at("2027-01-01T00:00:00Z")
            ) { ours.append($0.id) }
            #expect(ours == ["early", "late"])
            var all: [String] = []
            try await ledger.forEachEvent(org: nil, from: nil, to: nil) { all.append($0.id) }
            #expect(all == ["early", "theirs", "late", "outside"])
        }
    }
}
