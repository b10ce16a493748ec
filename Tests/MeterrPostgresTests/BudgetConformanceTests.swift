import Foundation
import Logging
import MeterrCore
import MeterrStore
import PostgresNIO
import Testing

@testable import MeterrPostgres

/// Budgets, breakdowns, call health and call shapes, the same on every database: each test runs on
/// SQLite and on PostgreSQL.
@Suite("Budgets, breakdowns, call health and call shapes on SQLite and PostgreSQL")
struct BudgetConformanceTests {
    typealias Stores = any BudgetStore & UsageLedger & UsageBreakdowns & CallHealthStore & CallShapeStore

    static let now = at("2026-12-15T12:00:00Z")
    static let clock = WallClock { now }

    static func at(_ text: String) -> Timestamp { Timestamp(rfc3339: text)! }

    static func event(
        _ id: String, _ ts: String, org: String = "org_a", team: String? = "ml", user: String? = "ana",
        project: String? = nil, key: String? = nil, tags: [String: String] = [:], provider: Provider = .openai,
        model: String = "gpt-4o", input: Int = 1000, output: Int = 100, nanos: Int64? = 1_000_000
    ) -> UsageEvent {
        UsageEvent(
            id: id, ts: at(ts), org: org, team: team, user: user, project: project, keyId: key, tags: tags,
            provider: provider, model: model, usage: Usage(inputTokens: input, outputTokens: output),
            cost: nanos.map(Money.init(nanos:)), status: 200, latencyMs: 250)
    }

    /// Makes an organisation (budgets belong to one that exists) and returns its id.
    static func organisation(_ store: Stores, _ name: String) async throws -> String {
        let accounts = try #require(store as? any AccountStore, "\(type(of: store)) keeps no organisations")
        return try await accounts.createOrganisation(name: name, actor: "test").0.id
    }

    static func budget(
        _ id: String, org: String, scope: BudgetScope = .organisation, period: BudgetPeriod = .month,
        nanos: Int64 = 100_000_000, created: String = "2026-12-01T00:00:00Z"
    ) -> Budget {
        Budget(
            id: id, orgId: org, name: "Budget \(id)", scope: scope, period: period, timeZone: "Europe/Berlin",
            limit: Money(nanos: nanos), hard: true, thresholds: [50, 80, 100], createdAt: at(created),
            baselineAt: at("2026-12-05T00:00:00Z"))
    }

    /// The events the spend and breakdown tests read: 2026-12-03 from 10:00 to 12:00 (UTC) holds
    /// a1…a4 and a7 (a3 unpriced); a5 is on the range's end, a6 just before its start.
    static let ledger: [UsageEvent] = [
        event(
            "a1", "2026-12-03T10:00:00.000Z", project: "p1", key: "k1", tags: ["env": "prod"], nanos: 4_000_000),
        event(
            "a2", "2026-12-03T10:30:00.000Z", user: "bo", project: "p1", key: "k2", tags: ["env": "dev"],
            provider: .anthropic, model: "claude-sonnet-4-5-20250929", input: 2000, output: 200, nanos: 9_000_000),
        event("a3", "2026-12-03T11:15:00.000Z", key: "k1", input: 500, output: 50, nanos: nil),
        event(
            "a4", "2026-12-03T11:59:59.999Z", team: "web", user: "cy", project: "p2", key: "k3", tags: ["env": "prod"],
            model: "gpt-4o-2024-08-06", nanos: 1_000_000),
        event("a5", "2026-12-03T12:00:00.000Z", nanos: 7_000_000),
        event("a6", "2026-12-03T09:59:59.999Z", user: nil, nanos: 3_000_000),
        event("a7", "2026-12-03T10:45:00.000Z", team: nil, user: nil, tags: ["env": "prod"], nanos: 2_000_000),
        event("a8", "2026-12-04T01:00:00.000Z", team: "web", user: "cy", nanos: 5_000_000),
        event("b1", "2026-12-03T10:10:00.000Z", org: "org_b", nanos: 50_000_000),
    ]

    @Test(
        "Budgets are made, listed in creation order, replaced and deleted within their organisation",
        arguments: StoreDatabase.available)
    func budgets(_ database: StoreDatabase) async throws {
        try await database.withStore(as: Stores.self, clock: Self.clock) { store in
            let ours = try await Self.organisation(store, "Ours")
            let theirs = try await Self.organisation(store, "Theirs")
            // Two made in the same millisecond list in the order they were made.
            var rolling = Self.budget("bud_z", org: ours, scope: .tag("env", "prod"), period: .rolling(hours: 24))
            rolling.thresholds = [90]
            rolling.hard = false
            let same = Self.budget("bud_a", org: ours, scope: .team("ml"))
            let earlier = Self.budget("bud_m", org: ours, scope: .user("ana"), created: "2026-11-01T00:00:00Z")
            let other = Self.budget("bud_b", org: theirs, scope: .key("k1"))
            for budget in [rolling, same, earlier, other] {
                #expect(try await store.createBudget(budget, actor: "alice") == budget)
            }
            #expect(try await store.budgets(org: ours) == [earlier, rolling, same])
            #expect(try await store.budgets(org: theirs) == [other])
            #expect(try await store.budgets(org: "org_none") == [])
            #expect(try await store.allBudgets() == [rolling, same, earlier, other])
            // Errors as SQLite's: a bad name, an unknown organisation, a taken id.
            var unnamed = Self.budget("bud_x", org: ours)
            unnamed.name = ""
            await #expect(throws: MeterrError.self) { try await store.createBudget(unnamed, actor: "alice") }
            await #expect {
                try await store.createBudget(Self.budget("bud_y", org: "org_none"), actor: "alice")
            } throws: {
                ($0 as? MeterrError)?.code == .notFound
            }
            await #expect {
                try await store.createBudget(Self.budget("bud_a", org: theirs), actor: "alice")
            } throws: {
                ($0 as? MeterrError)?.code == .storage
            }
            // Replaced only within its organisation.
            var changed = same
            changed.name = "ML monthly"
            changed.limit = Money(nanos: 5)
            changed.period = .week
            changed.baselineAt = Self.now
            #expect(try await store.updateBudget(changed, actor: "alice"))
            var forged = changed
            forged.orgId = theirs
            forged.limit = Money(nanos: 1)
            #expect(try await store.updateBudget(forged, actor: "mallory") == false)
            var missing = changed
            missing.id = "bud_none"
            #expect(try await store.updateBudget(missing, actor: "alice") == false)
            #expect(try await store.budgets(org: ours) == [earlier, rolling, changed])
            // Deleted only within its organisation, once.
            #expect(try await store.deleteBudget(org: theirs, id: "bud_z", actor: "mallory") == false)
            #expect(try await store.deleteBudget(org: ours, id: "bud_z", actor: "alice"))
            #expect(try await store.deleteBudget(org: ours, id: "bud_z", actor: "alice") == false)
            #expect(try await store.budgets(org: ours) == [earlier, changed])
            #expect(try await store.allBudgets().map(\.id) == ["bud_a", "bud_m", "bud_b"])
            // The audit entries, newest first, at the store's clock; none for what changed nothing.
            let accounts = try #require(store as? any AccountStore)
            let entries = try await accounts.audit(org: ours, limit: 10).filter { $0.action.hasPrefix("budget.") }
            #expect(
                entries.map { "\($0.action) \($0.target ?? "") \($0.actor) \($0.detail ?? "-")" } == [
                    "budget.delete bud_z alice -",
                    "budget.update bud_a alice ML monthly: 0.000000005 per week (hard)",
                    "budget.create bud_m alice Budget bud_m: 0.100000000 per month (hard)",
                    "budget.create bud_a alice Budget bud_a: 0.100000000 per month (hard)",
                    "budget.create bud_z alice Budget bud_z: 0.100000000 per rolling 24 h",
                ])
            #expect(entries.allSatisfy { $0.at == Self.now })
            #expect(
                try await accounts.audit(org: theirs, limit: 10).filter { $0.action.hasPrefix("budget.") }.count == 1)
        }
    }

    @Test(
        "Unpriced usage over any range and scope is the events' own count, part-hours at the edges included",
        arguments: StoreDatabase.available)
    func unpricedCount(_ database: StoreDatabase) async throws {
        try await database.withStore(as: Stores.self, clock: Self.clock) { store in
            let ranges = [
                ("2026-12-02T18:30:00.123Z", "2026-12-20T05:15:00Z"), ("2026-12-02T00:00:00Z", "2026-12-29T00:00:00Z"),
                ("2026-12-10T10:05:00Z", "2026-12-10T10:55:00Z"), ("2026-12-10T10:30:00Z", "2026-12-10T11:30:00Z"),
                ("2026-12-10T10:30:00Z", "2026-12-12T12:30:00.001Z"), ("2026-12-10T03:00:00Z", "2026-12-10T07:00:00Z"),
            ].map { (Self.at($0.0), Self.at($0.1)) }
            // Reproducible calls over December, and 40 in the hour either side of every bound, where
            // the part-hours are counted from the events; about half without a price.
            var state: UInt64 = 11
            func random(_ below: UInt64) -> UInt64 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return (state >> 33) % below
            }
            func pick<T>(_ options: [T]) -> T { options[Int(random(UInt64(options.count)))] }
            var events: [UsageEvent] = []
            func call(at ts: Timestamp) {
                events.append(
                    UsageEvent(
                        id: "u\(events.count)", ts: ts, org: pick(["org_a", "org_b"]),
                        team: pick(["ml", "search", nil]),
                        user: pick(["ana", "bo", nil]), project: pick(["p1", "p2", nil]), keyId: pick(["k1", "k2"]),
                        tags: pick([[:], ["env": "prod"]]), provider: .openai, model: "gpt-4o",
                        usage: Usage(inputTokens: Int(random(5_000)), outputTokens: Int(random(500))),
                        cost: random(2) == 0 ? nil : Money(nanos: Int64(random(1_000_000)))))
            }
            let december = Self.at("2026-12-01T01:00:00Z")
            for _ in 0..<1_500 { call(at: december.adding(milliseconds: Int64(random(28 * 86_400_000)))) }
            for bound in ranges.flatMap({ [$0.0, $0.1] }) {
                for _ in 0..<40 { call(at: bound.adding(milliseconds: Int64(random(7_200_000)) - 3_600_000)) }
            }
            _ = try await store.append(events)
            let scopes: [BudgetScope] = [
                .organisation, .team("ml"), .team("nobody"), .user("ana"), .project("p2"), .key("k1"),
                .tag("env", "prod"),
            ]
            var periods: [BudgetPeriodScope] = []
            var expected: [(requests: Int, tokens: Int)] = []
            for (from, to) in ranges {
                for scope in scopes {
                    let counted = events.filter { event in
                        guard event.org == "org_a", event.cost == nil, event.ts >= from, event.ts < to else {
                            return false
                        }
                        switch scope {
                        case .organisation: return true
                        case .team(let team): return event.team == team
                        case .user(let user): return event.user == user
                        case .project(let project): return event.project == project
                        case .key(let key): return event.keyId == key
                        case .tag(let key, let value): return event.tags[key] == value
                        }
                    }
                    let usage = try await store.unpricedUsage(org: "org_a", scope: scope, from: from, to: to)
                    let tokens = counted.reduce(0) { $0 + $1.usage.inputTokens + $1.usage.outputTokens }
                    #expect(usage.requests == counted.count, "\(scope) \(from) \(to)")
                    #expect(usage.tokens == tokens, "\(scope) \(from) \(to)")
                    periods.append(BudgetPeriodScope(scope: scope, from: from, to: to))
                    expected.append((counted.count, tokens))
                }
            }
            // All of them at once (as a page of budgets asks), each in its place.
            let batch = try await store.unpricedUsage(org: "org_a", of: periods)
            #expect(batch.map(\.requests) == expected.map(\.requests))
            #expect(batch.map(\.tokens) == expected.map(\.tokens))
        }
    }

    @Test(
        "Spend, unpriced usage and hourly spend count the events a scope covers, to the millisecond",
        arguments: StoreDatabase.available)
    func spend(_ database: StoreDatabase) async throws {
        try await database.withStore(as: Stores.self, clock: Self.clock) { store in
            _ = try await store.append(Self.ledger)
            let from = Self.at("2026-12-03T10:00:00Z")
            let to = Self.at("2026-12-03T12:00:00Z")
            func spend(_ scope: BudgetScope) async throws -> Int64 {
                try await store.spend(org: "org_a", scope: scope, from: from, to: to).nanos
            }
            #expect(try await spend(.organisation) == 16_000_000)
            #expect(try await spend(.team("ml")) == 13_000_000)
            #expect(try await spend(.user("ana")) == 4_000_000)
            #expect(try await spend(.project("p1")) == 13_000_000)
            #expect(try await spend(.key("k1")) == 4_000_000)
            #expect(try await spend(.tag("env", "prod")) == 7_000_000)
            #expect(try await spend(.team("nobody")) == 0)
            #expect(try await store.spend(org: "org_b", scope: .organisation, from: from, to: to).nanos == 50_000_000)
            #expect(try await store.spend(org: "org_c", scope: .organisation, from: from, to: to) == .zero)
            // The bounds are exact: from inclusive, to exclusive, to the millisecond.
            #expect(
                try await store.spend(
                    org: "org_a", scope: .organisation, from: Self.at("2026-12-03T11:59:59.999Z"),
                    to: Self.at("2026-12-03T12:00:00.001Z")
                ).nanos == 8_000_000)
            #expect(
                try await store.spend(
                    org: "org_a", scope: .organisation, from: Self.at("2026-12-03T10:00:00.001Z"), to: to
                ).nanos == 12_000_000)
            let unpriced = try await store.unpricedUsage(org: "org_a", scope: .organisation, from: from, to: to)
            #expect(unpriced.requests == 1 && unpriced.tokens == 550)
            let key = try await store.unpricedUsage(org: "org_a", scope: .key("k1"), from: from, to: to)
            #expect(key.requests == 1 && key.tokens == 550)
            let web = try await store.unpricedUsage(org: "org_a", scope: .team("web"), from: from, to: to)
            #expect(web.requests == 0 && web.tokens == 0)
            let hour = Self.at("2026-12-03T10:00:00Z").milliseconds
            #expect(
                try await store.hourlySpend(org: "org_a", scope: .organisation, from: from, to: to) == [
                    hour: 15_000_000, hour + 3_600_000: 1_000_000,
                ])
            // An hour of unpriced calls alone counts nothing, but is there.
            #expect(
                try await store.hourlySpend(org: "org_a", scope: .user("ana"), from: from, to: to) == [
                    hour: 4_000_000, hour + 3_600_000: 0,
                ])
            #expect(try await store.hourlySpend(org: "org_b", scope: .tag("env", "prod"), from: from, to: to) == [:])
        }
    }

    @Test(
        "Closed periods are kept once per budget, start and end, newest first, and go with their budget",
        arguments: StoreDatabase.available)
    func closedPeriods(_ database: StoreDatabase) async throws {
        try await database.withStore(as: Stores.self, clock: Self.clock) { store in
            let ours = try await Self.organisation(store, "Ours")
            let theirs = try await Self.organisation(store, "Theirs")
            _ = try await store.createBudget(Self.budget("bud_a", org: ours), actor: "alice")
            _ = try await store.createBudget(Self.budget("bud_b", org: theirs), actor: "bob")
            func period(_ budget: String, _ start: String, _ end: String, spent: Int64, reason: String = "ended")
                -> ClosedPeriod
            {
                ClosedPeriod(
                    budgetId: budget, start: Self.at(start), end: Self.at(end), period: "month",
                    limit: Money(nanos: 100), spent: Money(nanos: spent), reason: reason)
            }
            let october = period("bud_a", "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z", spent: 10)
            let november = period("bud_a", "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z", spent: 20)
            // Cut short by a change of period: the same start, another end.
            let changed = period("bud_a", "2026-11-01T00:00:00Z", "2026-11-20T00:00:00Z", spent: 5, reason: "changed")
            let theirsOctober = period("bud_b", "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z", spent: 30)
            try await store.recordClosedPeriods([])
            try await store.recordClosedPeriods([
                november, october, period("bud_a", "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z", spent: 99),
                period("bud_gone", "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z", spent: 1), theirsOctober,
            ])
            // Recorded again (another node, a restart): nothing changes.
            try await store.recordClosedPeriods([
                period("bud_a", "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z", spent: 77), changed,
            ])
            let history = try await store.closedPeriods(budgetId: "bud_a", limit: 10)
            #expect(history.count == 3)
            #expect(history.first == november || history.first == changed)
            #expect(Set(history.prefix(2)) == [november, changed])
            #expect(history.last == october)
            #expect(try await store.closedPeriods(budgetId: "bud_a", limit: 1).count == 1)
            #expect(try await store.closedPeriods(budgetId: "bud_b", limit: 10) == [theirsOctober])
            #expect(try await store.closedPeriods(budgetId: "bud_gone", limit: 10) == [])
            // Deleting a budget deletes its history.
            #expect(try await store.deleteBudget(org: ours, id: "bud_a", actor: "alice"))
            #expect(try await store.closedPeriods(budgetId: "bud_a", limit: 10) == [])
            #expect(try await store.closedPeriods(budgetId: "bud_b", limit: 10) == [theirsOctober])
        }
    }

    /// A breakdown row as text: `values=requests/cost/unpriced requests/unpriced tokens`.
    static func text(_ rows: [BreakdownRow]) -> [String] {
        rows.map { row in
            row.values.map { $0 ?? "-" }.joined(separator: ",") + "=\(row.totals.requests)/"
                + "\(row.totals.pricedCost.nanos)/\(row.totals.unpricedRequests)/\(row.totals.unpricedTokens)"
        }
    }

    @Test("Breakdowns group the filtered events by several columns, dearest first", arguments: StoreDatabase.available)
    func breakdowns(_ database: StoreDatabase) async throws {
        try await database.withStore(as: Stores.self, clock: Self.clock) { store in
            _ = try await store.append(Self.ledger)
            var range = EventFilter(from: Self.at("2026-12-03T10:00:00Z"), to: Self.at("2026-12-03T12:00:00Z"))
            #expect(
                Self.text(try await store.breakdown(org: "org_a", filter: range, by: [.team, .user], limit: 10)) == [
                    "ml,bo=1/9000000/0/0", "ml,ana=2/4000000/1/550", "-,-=1/2000000/0/0", "web,cy=1/1000000/0/0",
                ])
            let first = try await store.breakdown(org: "org_a", filter: range, by: [.team, .user], limit: 2)
            #expect(Self.text(first) == ["ml,bo=1/9000000/0/0", "ml,ana=2/4000000/1/550"])
            #expect(first[0].totals.usage == Usage(inputTokens: 2000, outputTokens: 200))
            #expect(first[1].totals.usage == Usage(inputTokens: 1500, outputTokens: 150))
            var family = range
            family.model = "gpt-4o"
            #expect(
                Self.text(try await store.breakdown(org: "org_a", filter: family, by: [.model], limit: 10)) == [
                    "gpt-4o=3/6000000/1/550", "gpt-4o-2024-08-06=1/1000000/0/0",
                ])
            family.model = "claude-sonnet-4-5"
            #expect(
                Self.text(try await store.breakdown(org: "org_a", filter: family, by: [.provider, .model], limit: 10))
                    == ["anthropic,claude-sonnet-4-5-20250929=1/9000000/0/0"])
            var tagged = range
            tagged.tags = ["env": "prod"]
            #expect(
                Self.text(try await store.breakdown(org: "org_a", filter: tagged, by: [.key], limit: 10)) == [
                    "k1=1/4000000/0/0", "-=1/2000000/0/0", "k3=1/1000000/0/0",
                ])
            var narrow = range
            narrow.provider = .anthropic
            narrow.project = "p1"
            narrow.user = "bo"
            narrow.keyId = "k2"
            narrow.team = "ml"
            #expect(
                Self.text(try await store.breakdown(org: "org_a", filter: narrow, by: [], limit: 10)) == [
                    "=1/9000000/0/0"
                ])
            range.team = "nobody"
            #expect(try await store.breakdown(org: "org_a", filter: range, by: [], limit: 10) == [])
            #expect(try await store.breakdown(org: "org_a", filter: range, by: [.user], limit: 10) == [])
            #expect(
                Self.text(try await store.breakdown(org: "org_b", filter: EventFilter(), by: [.team], limit: 10)) == [
                    "ml=1/50000000/0/0"
                ])

            // Cost per UTC day and team from the daily rollups, in the rollups' order.
            let days = try await store.dailyCost(
                org: "org_a", by: .team, from: Self.at("2026-12-03T00:00:00Z"), to: Self.at("2026-12-05T00:00:00Z"),
                calendar: .utc)
            #expect(
                days.map { "\($0.day.rfc3339) \($0.value)=\($0.cost.nanos)" } == [
                    "2026-12-03T00:00:00.000Z =2000000", "2026-12-03T00:00:00.000Z ml=23000000",
                    "2026-12-03T00:00:00.000Z web=1000000", "2026-12-04T00:00:00.000Z web=5000000",
                ])
            // Days of Berlin, made of hours.
            let berlin = try #require(LocalCalendar(identifier: "Europe/Berlin"))
            let local = try await store.dailyCost(
                org: "org_a", by: .model, from: Self.at("2026-12-02T23:00:00Z"), to: Self.at("2026-12-04T23:00:00Z"),
                calendar: berlin)
            #expect(
                local.map { "\($0.day.rfc3339) \($0.value)=\($0.cost.nanos)" }.sorted() == [
                    "2026-12-02T23:00:00.000Z anthropic/claude-sonnet-4-5-20250929=9000000",
                    "2026-12-02T23:00:00.000Z openai/gpt-4o-2024-08-06=1000000",
                    "2026-12-02T23:00:00.000Z openai/gpt-4o=16000000",
                    "2026-12-03T23:00:00.000Z openai/gpt-4o=5000000",
                ])

            // A team's users from the rollups, dearest first; calls without a user as nil.
            #expect(
                Self.text(
                    try await store.teamUsers(
                        org: "org_a", team: "ml", from: Self.at("2026-12-03T00:00:00Z"),
                        to: Self.at("2026-12-04T00:00:00Z"))) == [
                        "ana=3/11000000/1/550", "bo=1/9000000/0/0", "-=1/3000000/0/0",
                    ])
            #expect(
                try await store.teamUsers(
                    org: "org_a", team: "m", from: Self.at("2026-12-03T00:00:00Z"), to: Self.at("2026-12-04T00:00:00Z")
                ) == [])
        }
    }

    static let day = at("2028-02-28T23:00:00Z")

    static func call(
        _ id: String, hours: Int64 = 0, org: String = "org_a", model: String = "gpt-4.1", status: Int = 200,
        latency: Int? = nil, ttft: Int? = nil, route: String = "direct", hit: Bool = false
    ) -> UsageEvent {
        var event = UsageEvent(
            id: id, ts: day.adding(milliseconds: hours * 3_600_000), org: org, provider: .openai, model: model,
            usage: Usage(inputTokens: 1, outputTokens: 1), stream: ttft != nil, status: status, latencyMs: latency,
            ttftMs: ttft, route: route)
        event.cacheHit = hit
        return event
    }

    @Test(
        "Model health over whole UTC days: calls, failures, refusals and latency percentiles",
        arguments: StoreDatabase.available)
    func modelHealth(_ database: StoreDatabase) async throws {
        try await database.withStore(as: Stores.self, clock: Self.clock) { store in
            var events: [UsageEvent] = []
            for index in 0..<18 { events.append(Self.call("ok\(index)", hours: Int64(index % 3), latency: 200)) }
            events.append(Self.call("slow", hours: 1, latency: 5_000))
            events.append(Self.call("slower", hours: 2, latency: 9_000))
            events.append(Self.call("failed", hours: 1, status: 500, latency: 30))
            events.append(Self.call("refused", hours: 1, status: 429, route: "refused:budget:monthly"))
            events.append(Self.call("hit", hours: 1, latency: 1, route: "cache", hit: true))
            events.append(Self.call("stream", hours: 1, model: "gpt-4.1-mini", latency: 900, ttft: 120))
            events.append(Self.call("theirs", hours: 1, org: "org_b", model: "gpt-4.1-nano", latency: 10))
            _ = try await store.append(Array(events.prefix(10)))
            _ = try await store.append(Array(events.dropFirst(10)), shapes: [])
            let twoDays = Self.day.adding(milliseconds: 86_400_000 * 2)
            let health = try await store.modelHealth(org: "org_a", from: Self.day.dayStart, to: twoDays)
            #expect(health.map(\.model) == ["gpt-4.1", "gpt-4.1-mini"])
            let main = try #require(health.first)
            #expect(main.provider == .openai && main.calls == 23 && main.errors == 1 && main.refusals == 1)
            // 18 at 200 ms and 2 slow ones: the median is 200 ms's bucket, p95 the 5 s one (rank 19 of 20).
            #expect(main.latencyP50 == LatencyBuckets.upperBound(LatencyBuckets.index(200)))
            #expect(main.latencyP95 == LatencyBuckets.upperBound(LatencyBuckets.index(5_000)))
            #expect(main.ttftP50 == nil && main.ttftP95 == nil)
            let mini = try #require(health.last)
            #expect(mini.calls == 1 && mini.latencyP50 == LatencyBuckets.upperBound(LatencyBuckets.index(900)))
            #expect(mini.ttftP50 == LatencyBuckets.upperBound(LatencyBuckets.index(120)))
            // The first day alone: the calls before midnight (hour 0); a range that starts within a
            // day covers the whole day.
            let first = try await store.modelHealth(
                org: "org_a", from: Self.day.adding(milliseconds: 60_000), to: Self.day.adding(milliseconds: 3_600_000))
            #expect(first.map(\.calls) == [6])
            // The same events again are duplicates: nothing is counted twice.
            _ = try await store.append(events)
            #expect(try await store.modelHealth(org: "org_a", from: Self.day.dayStart, to: twoDays).first?.calls == 23)
            #expect(
                try await store.modelHealth(org: "org_b", from: Self.day.dayStart, to: twoDays).map(\.model) == [
                    "gpt-4.1-nano"
                ])
            #expect(try await store.modelHealth(org: "org_c", from: Self.day.dayStart, to: twoDays) == [])
        }
    }

    static func shape(_ event: UsageEvent, hash: String, tools: Bool = true, maxTokens: Int? = 500) -> CallShape {
        CallShape(
            org: event.org, eventId: event.id, ts: event.ts, requestHash: hash, promptTokens: 1500,
            prefixes: tools ? [CallShape.Prefix(tokens: 1024, hash: "aa")] : [], tools: tools, maxTokens: maxTokens)
    }

    @Test("Shaped calls carry their shape where one was stored, in time order", arguments: StoreDatabase.available)
    func shapedCalls(_ database: StoreDatabase) async throws {
        try await database.withStore(as: Stores.self, clock: Self.clock) { store in
            let one = Self.event("s1", "2026-12-03T10:00:00.000Z")
            let two = Self.event("s2", "2026-12-03T10:01:00.000Z", team: "web")
            let three = Self.event("s3", "2026-12-03T10:02:00.000Z")
            let theirs = Self.event("s1", "2026-12-03T10:00:00.000Z", org: "org_b")
            let first = Self.shape(one, hash: "h1")
            let third = Self.shape(three, hash: "h3", tools: false, maxTokens: nil)
            #expect(
                try await store.append(
                    [three, one, two, theirs], shapes: [first, third, Self.shape(theirs, hash: "hb")])
                    == [true, true, true, true])
            let from = Self.at("2026-12-03T10:00:00Z")
            let to = Self.at("2026-12-03T11:00:00Z")
            #expect(
                try await store.shapedCalls(org: "org_a", from: from, to: to, team: nil, limit: 10) == [
                    ShapedCall(shape: first, event: one), ShapedCall(shape: nil, event: two),
                    ShapedCall(shape: third, event: three),
                ])
            #expect(
                try await store.shapedCalls(org: "org_a", from: from, to: to, team: "ml", limit: 10).map(\.event.id)
                    == [
                        "s1", "s3",
                    ])
            #expect(
                try await store.shapedCalls(org: "org_a", from: from, to: to, team: nil, limit: 2).map(\.event.id) == [
                    "s1", "s2",
                ])
            #expect(
                try await store.shapedCalls(
                    org: "org_a", from: Self.at("2026-12-03T10:01:00Z"), to: Self.at("2026-12-03T10:02:00Z"), team: nil,
                    limit: 10
                ).map(\.event.id) == ["s2"])
            // A shape stored stays: the same call again, with another shape, changes nothing.
            #expect(try await store.append([one], shapes: [Self.shape(one, hash: "other")]) == [false])
            // A shape may come without its event (already stored), and an event without a shape.
            let four = Self.event("s4", "2026-12-03T10:03:00.000Z")
            #expect(try await store.append([], shapes: [Self.shape(two, hash: "h2")]) == [])
            #expect(try await store.append([four]) == [true])
            let calls = try await store.shapedCalls(org: "org_a", from: from, to: to, team: nil, limit: 10)
            #expect(calls.map { $0.shape?.requestHash ?? "-" } == ["h1", "h2", "h3", "-"])
            #expect(
                try await store.shapedCalls(org: "org_b", from: from, to: to, team: nil, limit: 10) == [
                    ShapedCall(shape: Self.shape(theirs, hash: "hb"), event: theirs)
                ])
        }
    }
}

/// What only PostgreSQL has: row-level security on the new tables, and several nodes writing at once.
@Suite(
    "PostgreSQL: budgets, history, call shapes and health by organisation", .enabled(if: TestCluster.unavailable == nil)
)
struct BudgetPostgresTests {
    typealias Fixture = BudgetConformanceTests

    func count(_ store: PostgresStore, _ sql: String, org: String) async throws -> Int {
        let query = PostgresQuery(unsafeSQL: sql)
        return try await store.tenant(org) { connection in
            var total = 0
            for try await value in try await connection.query(query, logger: TestCluster.logger).decode(Int64.self) {
                total = Int(value)
            }
            return total
        }
    }

    @Test("Each new table shows an organisation its own rows only, and refuses another's")
    func rowLevelSecurity() async throws {
        try await TestCluster.withStore(clock: Fixture.clock) { store, _ in
            let org = try await Fixture.organisation(store, "Theirs")
            _ = try await store.createBudget(Fixture.budget("bud_b", org: org), actor: "bob")
            try await store.recordClosedPeriods([
                ClosedPeriod(
                    budgetId: "bud_b", start: Fixture.at("2026-10-01T00:00:00Z"),
                    end: Fixture.at("2026-11-01T00:00:00Z"),
                    period: "month", limit: Money(nanos: 1), spent: Money(nanos: 1), reason: "ended")
            ])
            let event = Fixture.call("c1", org: org, latency: 100)
            _ = try await store.append([event], shapes: [Fixture.shape(event, hash: "h")])
            for table in ["budgets", "budget_history", "call_shapes", "call_health", "latency_buckets"] {
                #expect(try await count(store, "SELECT count(*) FROM \(table)", org: org) == 1, "\(table)")
                #expect(try await count(store, "SELECT count(*) FROM \(table)", org: "org_a") == 0, "\(table)")
            }
            #expect(
                try await count(
                    store,
                    """
                    SELECT count(*) FROM pg_class WHERE relname IN ('budgets', 'budget_history', 'call_shapes',
                        'call_health', 'latency_buckets') AND relrowsecurity AND relforcerowsecurity
                    """, org: "org_a") == 5)
            await #expect(throws: (any Error).self) {
                try await store.tenant("org_a") { connection in
                    _ = try await connection.query(
                        "INSERT INTO call_shapes VALUES ('\(unescaped: org)', 'forged', 0, 'h', 1, '', false, NULL)",
                        logger: TestCluster.logger)
                }
            }
            #expect(try await count(store, "SELECT count(*) FROM call_shapes", org: org) == 1)
        }
    }

    @Test("Nodes appending overlapping batches at once count every call once and never deadlock")
    func concurrentNodes() async throws {
        try await TestCluster.withStore(clock: Fixture.clock) { store, url in
            let other = try await PostgresStore(
                url: try DatabaseURL(url), clock: Fixture.clock, logger: TestCluster.logger)
            defer { other.close() }
            let models = ["gpt-4.1", "gpt-4.1-mini", "gpt-4o"]
            var batches: [[UsageEvent]] = []
            for batch in 0..<12 {
                var events: [UsageEvent] = []
                // Each call is in three batches, written in different orders.
                for index in 0..<60 {
                    let call = (batch / 3) * 30 + index % 45
                    events.append(
                        Fixture.call(
                            "c\(call)", hours: Int64(call % 30), org: call % 2 == 0 ? "org_a" : "org_b",
                            model: models[call % 3], latency: 100 + call))
                }
                batches.append(batch % 2 == 0 ? events : events.reversed())
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, batch) in batches.enumerated() {
                    let node = index % 2 == 0 ? store : other
                    group.addTask {
                        _ = try await node.append(batch, shapes: batch.map { Fixture.shape($0, hash: $0.id) })
                    }
                }
                try await group.waitForAll()
            }
            let ids = Set(batches.joined().map { "\($0.org)/\($0.id)" })
            var calls = 0
            var shaped = 0
            for org in ["org_a", "org_b"] {
                let health = try await store.modelHealth(
                    org: org, from: Fixture.day.dayStart, to: Fixture.day.adding(milliseconds: 3 * 86_400_000))
                calls += health.map(\.calls).reduce(0, +)
                shaped += try await store.shapedCalls(
                    org: org, from: Fixture.day.dayStart, to: Fixture.day.adding(milliseconds: 3 * 86_400_000),
                    team: nil, limit: 1000
                ).filter { $0.shape?.requestHash == $0.event.id }.count
            }
            #expect(calls == ids.count)
            #expect(shaped == ids.count)
        }
    }
}
