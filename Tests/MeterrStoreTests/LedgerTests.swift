import Foundation
import GRDB
import Logging
import MeterrCore
import Synchronization
import Testing

@testable import MeterrStore

/// A fresh data directory per test, removed afterwards.
func withStore<T>(_ body: (SQLiteStore) async throws -> T) async throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meterr-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return try await body(try SQLiteStore(directory: directory))
}

/// Random but reproducible events spread over three months, in no particular time order.
struct EventFactory {
    var generator: SplitMix
    let start = Timestamp(rfc3339: "2026-09-01T00:00:00Z")!

    init(seed: UInt64) { generator = SplitMix(state: seed) }

    mutating func pick<T>(_ options: [T]) -> T { options[Int(generator.next() % UInt64(options.count))] }

    mutating func event(index: Int) -> UsageEvent {
        let input = Int(generator.next() % 50_000)
        let cacheRead = input > 0 ? Int(generator.next() % UInt64(input / 2 + 1)) : 0
        let cacheWrite = input > 0 ? Int(generator.next() % UInt64(input - cacheRead + 1)) / 2 : 0
        let output = Int(generator.next() % 4_000)
        let reasoning = output > 0 ? Int(generator.next() % UInt64(output + 1)) / 3 : 0
        let priced = generator.next() % 5 != 0
        return UsageEvent(
            id: "evt-\(index)",
            ts: start.adding(milliseconds: Int64(generator.next() % (92 * 86_400_000))),
            org: pick(["org_a", "org_b"]), team: pick(["ml", "search", nil]), user: pick(["ana", "bo", "cy", nil]),
            project: pick(["p1", "p2", nil]), keyId: pick(["key_1", "key_2"]), tags: pick([[:], ["env": "prod"]]),
            provider: pick([.openai, .anthropic, .gemini, .azure]),
            model: pick(["gpt-4o", "claude-sonnet-4-5", "m/x"]),
            usage: Usage(
                inputTokens: input, cacheReadTokens: cacheRead, cacheWriteTokens: cacheWrite, outputTokens: output,
                reasoningTokens: reasoning),
            cost: priced ? Money(nanos: Int64(generator.next() % 5_000_000)) : nil)
    }
}

/// A small deterministic generator, so failures can be replayed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The summary computed the slow way, straight from raw events.
func recompute(_ events: [UsageEvent], org: String, groupBy: SummaryGrouping, from: Timestamp, to: Timestamp)
    -> [String: UsageTotals]
{
    let lower = from.hourStart
    let upper = to.hourStart == to ? to : to.hourStart.adding(milliseconds: 3_600_000)
    var groups: [String: UsageTotals] = [:]
    for event in events where event.org == org && event.ts >= lower && event.ts < upper {
        let key: String
        switch groupBy {
        case .none: key = ""
        case .model: key = event.provider.rawValue + "/" + event.model
        case .provider: key = event.provider.rawValue
        case .team: key = event.team ?? "-"
        case .user: key = event.user ?? "-"
        case .project: key = event.project ?? "-"
        case .key: key = event.keyId ?? "-"
        case .day: key = event.ts.dayStart.rfc3339
        case .hour: key = event.ts.hourStart.rfc3339
        }
        groups[key, default: UsageTotals()].add(event)
    }
    return groups
}

func keyed(_ summary: UsageSummary) -> [String: UsageTotals] {
    var groups: [String: UsageTotals] = [:]
    for group in summary.groups {
        let key: String
        switch summary.groupBy {
        case .none: key = ""
        case .model: key = (group.provider ?? "") + "/" + (group.value ?? "")
        default: key = group.value ?? "-"
        }
        groups[key] = group.totals
    }
    if summary.groupBy == .none { groups[""] = summary.totals.requests > 0 ? summary.totals : nil }
    return groups
}

@Suite("Usage ledger on SQLite")
struct LedgerTests {
    @Test("Rollups always equal a recomputation from the raw events, whatever order events arrive in")
    func rollupsMatchRecomputation() async throws {
        try await withStore { store in
            var factory = EventFactory(seed: 42)
            let events = (0..<3_000).map { factory.event(index: $0) }
            // Random batch sizes, with some events sent twice: duplicates must not count.
            var offset = 0
            var generator = SplitMix(state: 7)
            while offset < events.count {
                let size = Int(generator.next() % 300) + 1
                var batch = Array(events[offset..<min(offset + size, events.count)])
                if offset > 0 { batch.append(events[Int(generator.next() % UInt64(offset))]) }
                _ = try await store.append(batch)
                offset += size
            }
            let ranges: [(String, String)] = [
                ("2026-09-01T00:00:00Z", "2026-12-01T00:00:00Z"),
                ("2026-09-03T05:30:00Z", "2026-10-17T13:10:00Z"),
                ("2026-10-02T07:00:00Z", "2026-10-02T19:00:00Z"),
                ("2026-11-30T23:00:00Z", "2026-12-01T00:00:00Z"),
            ]
            for (fromText, toText) in ranges {
                let from = Timestamp(rfc3339: fromText)!
                let to = Timestamp(rfc3339: toText)!
                for org in ["org_a", "org_b"] {
                    for grouping in SummaryGrouping.allCases {
                        let summary = try await store.summary(org: org, groupBy: grouping, from: from, to: to)
                        let expected = recompute(events, org: org, groupBy: grouping, from: from, to: to)
                        #expect(keyed(summary) == expected, "\(org) \(grouping) \(fromText)…\(toText)")
                    }
                }
            }
        }
    }

    @Test("A ledger from before unpriced tokens were counted gets them from its events when it opens")
    func unpricedTokensMigration() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meterr-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var factory = EventFactory(seed: 11)
        let events = (0..<500).map { factory.event(index: $0) }
        #expect(events.contains { $0.cost == nil } && events.contains { $0.cost != nil })
        do {
            let store = try SQLiteStore(directory: directory)
            _ = try await store.append(events)
            // Back to the schema before v11: no unpriced_tokens column, the migration not yet run.
            try await store.pool.write { db in
                try db.execute(sql: "ALTER TABLE usage_rollups DROP COLUMN unpriced_tokens")
                try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v11-unpriced-tokens'")
            }
        }
        let store = try SQLiteStore(directory: directory)
        let from = Timestamp(rfc3339: "2026-09-01T00:00:00Z")!
        let to = Timestamp(rfc3339: "2026-12-01T00:00:00Z")!
        for org in ["org_a", "org_b"] {
            for grouping in SummaryGrouping.allCases {
                let summary = try await store.summary(org: org, groupBy: grouping, from: from, to: to)
                #expect(keyed(summary) == recompute(events, org: org, groupBy: grouping, from: from, to: to))
                #expect(summary.totals.unpricedTokens > 0, "\(org) \(grouping)")
            }
        }
    }

    @Test("A retried batch is stored once and reports which events were new")
    func appendIsIdempotent() async throws {
        try await withStore { store in
            var factory = EventFactory(seed: 1)
            let events = (0..<10).map { factory.event(index: $0) }
            #expect(try await store.append(events) == Array(repeating: true, count: 10))
            #expect(try await store.append(events) == Array(repeating: false, count: 10))
            let mixed = [events[0], factory.event(index: 99)]
            #expect(try await store.append(mixed) == [false, true])
            var count = 0
            try await store.forEachEvent(org: nil, from: nil, to: nil) { _ in count += 1 }
            #expect(count == 11)
            // The same id in another organisation is another event.
            var other = events[0]
            other.org = other.org == "org_a" ? "org_b" : "org_a"
            #expect(try await store.append([other]) == [true])
        }
    }

    @Test("Event pages follow each other with no gap and no repeat, and filters select exactly")
    func pagination() async throws {
        try await withStore { store in
            var factory = EventFactory(seed: 3)
            var events = (0..<450).map { factory.event(index: $0) }
            // Many events share a millisecond: the cursor must still not skip or repeat any.
            for index in stride(from: 0, to: 450, by: 3) {
                events[index].ts = Timestamp(milliseconds: 1_790_000_000_000)
            }
            _ = try await store.append(events)
            for filter in [
                EventFilter(), EventFilter(team: "ml"), EventFilter(provider: .anthropic),
                EventFilter(tags: ["env": "prod"]),
                EventFilter(
                    from: Timestamp(rfc3339: "2026-10-01T00:00:00Z"), to: Timestamp(rfc3339: "2026-11-01T00:00:00Z")),
                EventFilter(user: "ana", project: "p1"), EventFilter(keyId: "key_2", model: "gpt-4o"),
                EventFilter(team: "search", provider: .openai, model: "m/x", tags: ["env": "prod"]),
            ] {
                var seen: [UsageEvent] = []
                var cursor: EventCursor?
                repeat {
                    let page = try await store.events(org: "org_a", filter: filter, limit: 37, cursor: cursor)
                    seen += page.events
                    cursor = page.nextCursor
                } while cursor != nil
                let expected = events.filter { event in
                    event.org == "org_a" && (filter.team == nil || event.team == filter.team)
                        && (filter.user == nil || event.user == filter.user)
                        && (filter.project == nil || event.project == filter.project)
                        && (filter.keyId == nil || event.keyId == filter.keyId)
                        && (filter.model == nil || event.model == filter.model)
                        && (filter.provider == nil || event.provider == filter.provider)
                        && filter.tags.allSatisfy { event.tags[$0.key] == $0.value }
                        && (filter.from.map { event.ts >= $0 } ?? true) && (filter.to.map { event.ts < $0 } ?? true)
                }
                #expect(!expected.isEmpty, "\(filter) selects some events")
                #expect(Set(seen.map(\.id)) == Set(expected.map(\.id)))
                #expect(seen.count == expected.count)
                #expect(zip(seen, seen.dropFirst()).allSatisfy { $0.ts >= $1.ts })
            }
        }
    }

    @Test("An event page reads through the (org, ts, seq) index in its order, whatever its filters")
    func eventPagePlan() async throws {
        try await withStore { store in
            for (filter, cursor) in [
                (EventFilter(), nil),
                (
                    EventFilter(
                        from: Timestamp(milliseconds: 1), to: Timestamp(milliseconds: 2), team: "t", user: "u",
                        project: "p", keyId: "k", provider: .openai, model: "gpt-4o", tags: ["a": "1", "b": "2"]),
                    EventCursor(ts: 2, sequence: 9)
                ),
            ] as [(EventFilter, EventCursor?)] {
                let (sql, arguments) = SQLiteStore.eventPage(org: "o", filter: filter, limit: 20, cursor: cursor)
                let plan = try await store.read { db in
                    try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map {
                        $0["detail"] as String
                    }
                }
                #expect(plan.contains { $0.contains("USING INDEX usage_events_org_ts") }, "\(plan)")
                #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "\(plan)")
            }
        }
    }

    @Test("Stored events read back exactly as they were written")
    func roundTrip() async throws {
        try await withStore { store in
            let event = UsageEvent(
                id: "e1", ts: Timestamp(rfc3339: "2026-11-29T10:45:58.123Z")!, org: "org_a", team: "ml",
                user: "ana", project: "p", keyId: "key_1", tags: ["env": "prod", "quote\"d": "a\\b"],
                provider: .anthropic, model: "claude-sonnet-4-5", modelRequested: "claude-sonnet-4-5-latest",
                endpoint: "messages",
                usage: Usage(
                    inputTokens: 1000, cacheReadTokens: 600, cacheWriteTokens: 100, cacheWrite1hTokens: 50,
                    outputTokens: 300, reasoningTokens: 120),
                cost: Money(decimalString: "0.004251"), priceId: "anthropic/claude-sonnet-4-5@2025-09-29",
                usageSource: .estimated, stream: true, status: 200, latencyMs: 1234, ttftMs: 210,
                requestId: "req_1", upstreamRequestId: "msg_1", route: "primary")
            _ = try await store.append([event])
            var read: [UsageEvent] = []
            try await store.forEachEvent(org: "org_a", from: nil, to: nil) { read.append($0) }
            #expect(read == [event])
        }
    }

    @Test("The export walks every event in time order across its internal pages")
    func exportOrder() async throws {
        try await withStore { store in
            var factory = EventFactory(seed: 9)
            let events = (0..<12_000).map { factory.event(index: $0) }
            for start in stride(from: 0, to: events.count, by: 1000) {
                _ = try await store.append(Array(events[start..<start + 1000]))
            }
            var read: [UsageEvent] = []
            try await store.forEachEvent(org: nil, from: nil, to: nil) { read.append($0) }
            #expect(read.count == events.count)
            #expect(Set(read.map { "\($0.org)/\($0.id)" }).count == events.count)
            #expect(zip(read, read.dropFirst()).allSatisfy { $0.ts <= $1.ts })
        }
    }

    @Test("The writer commits what callers hand it, answers each caller, and drains on close")
    func writerGroupsAndDrains() async throws {
        try await withStore { store in
            let writer = LedgerWriter(ledger: store, logger: Logger(label: "test"))
            let runner = Task { try await writer.run() }
            var factory = EventFactory(seed: 5)
            let batches = (0..<40).map { batch in (0..<25).map { factory.event(index: batch * 25 + $0) } }
            let results = try await withThrowingTaskGroup(of: [Bool].self) { group in
                for batch in batches { group.addTask { try await writer.submit(batch) } }
                var all: [[Bool]] = []
                for try await result in group { all.append(result) }
                return all
            }
            #expect(results.count == 40)
            #expect(results.allSatisfy { $0 == Array(repeating: true, count: 25) })
            for index in 0..<100 { writer.enqueue(factory.event(index: 10_000 + index)) }
            writer.close()
            try await runner.value
            var count = 0
            try await store.forEachEvent(org: nil, from: nil, to: nil) { _ in count += 1 }
            #expect(count == 1_100)
            #expect(writer.stats.committed == 1_100)
            await #expect(throws: MeterrError.self) { try await writer.submit([factory.event(index: 0)]) }
            writer.enqueue(factory.event(index: 20_000))
            #expect(writer.stats.dropped == 1)
        }
    }

    @Test(
        "Queued call shapes hold at most max_shape_bytes of prompts: past it a call's shape is skipped and counted, its event kept",
        .timeLimit(.minutes(2)))
    func shapeBytesBound() async throws {
        try await withStore { store in
            // An hour's wait for company: only the awaited batches below commit.
            let writer = LedgerWriter(
                ledger: store, maxShapeBytes: 1_000, linger: .seconds(3600), logger: Logger(label: "test"))
            let runner = Task { try await writer.run() }
            var factory = EventFactory(seed: 33)
            let worked = ShapeCount()
            let shape: @Sendable () -> CallShape? = {
                worked.count.withLock { $0 += 1 }
                return nil
            }
            // Three shapes of 300 bytes fit under 1,000; the fourth and fifth do not.
            for index in 0..<5 { writer.enqueue(factory.event(index: index), shape: shape, shapeBytes: 300) }
            #expect(writer.stats.shapesSkipped == 2)
            _ = try await writer.submit([factory.event(index: 100)])
            #expect(worked.count.withLock { $0 } == 3)
            // Committed, their bytes are free again: a shape of the whole bound fits.
            writer.enqueue(factory.event(index: 5), shape: shape, shapeBytes: 1_000)
            writer.enqueue(factory.event(index: 6), shape: shape, shapeBytes: 1)
            #expect(writer.stats.shapesSkipped == 3)
            _ = try await writer.submit([factory.event(index: 101)])
            #expect(worked.count.withLock { $0 } == 4)
            // Every event is committed, shape or none.
            writer.close()
            try await runner.value
            var count = 0
            try await store.forEachEvent(org: nil, from: nil, to: nil) { _ in count += 1 }
            #expect(count == 9)
            #expect(writer.stats.committed == 9)
            #expect(writer.stats.dropped == 0)
        }
    }

    // The writer below waits an hour for company: each test hangs (and fails at its time limit) if
    // what should end that wait does not.
    @Test(
        "Events nobody waits for wait for company; an awaited batch, enough queued events and shutdown end the wait",
        .timeLimit(.minutes(2)))
    func lingerEndsEarly() async throws {
        try await withStore { store in
            let writer = LedgerWriter(ledger: store, linger: .seconds(3600), logger: Logger(label: "test"))
            let runner = Task { try await writer.run() }
            var factory = EventFactory(seed: 21)
            writer.enqueue(factory.event(index: 0))
            // An awaited batch is committed at once, with the fire-and-forget event queued before it.
            #expect(try await writer.submit([factory.event(index: 1)]) == [true])
            #expect(writer.stats.committed == 2)
            // A group's worth of queued events is committed without waiting for more.
            for index in 0..<LedgerWriter.enoughCompany { writer.enqueue(factory.event(index: 100 + index)) }
            while writer.stats.committed < 2 + LedgerWriter.enoughCompany {
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(writer.stats.commits == 2)
            // A few events left waiting for company are committed on shutdown, without waiting it out.
            for index in 0..<3 { writer.enqueue(factory.event(index: 5_000 + index)) }
            writer.close()
            try await runner.value
            #expect(writer.stats.committed == 5 + LedgerWriter.enoughCompany)
        }
    }

    @Test(
        "flush returns once everything handed over before it is committed, without waiting for company",
        .timeLimit(.minutes(2)))
    func flushCommitsWhatIsQueued() async throws {
        try await withStore { store in
            let writer = LedgerWriter(ledger: store, linger: .seconds(3600), logger: Logger(label: "test"))
            let runner = Task { try await writer.run() }
            var factory = EventFactory(seed: 23)
            // Nothing handed over: at once.
            await writer.flush()
            for index in 0..<3 { writer.enqueue(factory.event(index: index)) }
            await writer.flush()
            var count = 0
            try await store.forEachEvent(org: nil, from: nil, to: nil) { _ in count += 1 }
            #expect(count == 3, "the flushed events are in the ledger")
            #expect(writer.stats.committed == 3)
            writer.close()
            try await runner.value
        }
    }

    @Test(
        "Events queued without waking the writer are counted by a flush, and committed once it is woken",
        .timeLimit(.minutes(2)))
    func quietEnqueue() async throws {
        try await withStore { store in
            let writer = LedgerWriter(ledger: store, logger: Logger(label: "test"))
            let runner = Task { try await writer.run() }
            var factory = EventFactory(seed: 29)
            writer.enqueue(factory.event(index: 0), wakesWriter: false)
            await writer.flush()
            #expect(writer.stats.committed == 1, "a flush wakes the writer for what is queued")
            for index in 1...3 { writer.enqueue(factory.event(index: index), wakesWriter: false) }
            writer.wake()
            while writer.stats.committed < 4 { try await Task.sleep(for: .milliseconds(5)) }
            // Nothing queued: waking is harmless.
            writer.wake()
            writer.close()
            try await runner.value
            #expect(writer.stats.committed == 4)
        }
    }

    @Test("The first start creates one organisation and one admin key; later starts create none")
    func bootstrap() async throws {
        try await withStore { store in
            let first = try await store.bootstrap(adminKey: nil)
            let key = try #require(first.createdAdminKey)
            #expect(key.hasPrefix("mk_"))
            let principal = try await store.principal(forKey: key)
            #expect(principal?.orgId == first.organisation.id)
            let second = try await store.bootstrap(adminKey: nil)
            #expect(second.createdAdminKey == nil)
            #expect(second.organisation == first.organisation)
            let scripted = "mk_scriptedscriptedscripted"
            _ = try await store.bootstrap(adminKey: scripted)
            #expect(try await store.principal(forKey: scripted) != nil)
            #expect(try await store.principal(forKey: "mk_wrongwrongwrongwrongwrong") == nil)
            await #expect(throws: MeterrError.self) { try await store.bootstrap(adminKey: "short") }
            // Same display prefix, different secret: no match.
            let lookalike = String(key.prefix(9)) + String(repeating: "x", count: key.count - 9)
            #expect(try await store.principal(forKey: lookalike) == nil)
            #expect(APIKey.constantTimeEqual(Array("abc".utf8), Array("abc".utf8)))
            #expect(!APIKey.constantTimeEqual(Array("abc".utf8), Array("abd".utf8)))
        }
    }
}

/// A ledger whose first commits fail, as a full or briefly unavailable disk would, then recover.
final class FlakyLedger: UsageLedger, Sendable {
    let store: SQLiteStore
    let failures = Synchronization.Mutex(0)
    let failuresToInject: Int

    init(store: SQLiteStore, failing count: Int) {
        self.store = store
        self.failuresToInject = count
    }

    func append(_ events: [UsageEvent]) async throws -> [Bool] {
        let fail = failures.withLock { count in
            count += 1
            return count <= failuresToInject
        }
        if fail { throw MeterrError(.storage, "disk full (injected)") }
        return try await store.append(events)
    }

    func events(org: String, filter: EventFilter, limit: Int, cursor: EventCursor?) async throws -> EventPage {
        try await store.events(org: org, filter: filter, limit: limit, cursor: cursor)
    }

    func summary(
        org: String, groupBy: SummaryGrouping, from: Timestamp, to: Timestamp, calendar: LocalCalendar
    ) async throws -> UsageSummary {
        try await store.summary(org: org, groupBy: groupBy, from: from, to: to, calendar: calendar)
    }

    func forEachEvent(org: String?, from: Timestamp?, to: Timestamp?, _ body: (UsageEvent) throws -> Void) async throws
    {
        try await store.forEachEvent(org: org, from: from, to: to, body)
    }
}

@Suite("Ledger writer under storage failures")
struct WriterFailureTests {
    @Test("A waiting caller hears of a failed commit; events nobody waits for are retried and kept")
    func retriesFireAndForget() async throws {
        try await withStore { store in
            let flaky = FlakyLedger(store: store, failing: 2)
            let writer = LedgerWriter(ledger: flaky, logger: Logger(label: "test"))
            let runner = Task { try await writer.run() }
            var factory = EventFactory(seed: 11)
            await #expect(throws: MeterrError.self) { try await writer.submit([factory.event(index: 0)]) }
            for index in 1...10 { writer.enqueue(factory.event(index: index)) }
            // The caller of a failed submit retries, as a client would after a 503.
            var retried: [Bool] = []
            for _ in 0..<20 where retried.isEmpty {
                retried = (try? await writer.submit([factory.event(index: 100)])) ?? []
            }
            writer.close()
            try await runner.value
            var ids = Set<String>()
            try await store.forEachEvent(org: nil, from: nil, to: nil) { ids.insert($0.id) }
            #expect(ids.isSuperset(of: (1...10).map { "evt-\($0)" }))
            #expect(ids.contains("evt-100"))
            #expect(writer.stats.dropped == 0)
            #expect(writer.stats.failures >= 2)
        }
    }
}

/// Counts shapes worked out, from the writer's commits.
final class ShapeCount: Sendable {
    let count = Mutex(0)
}
