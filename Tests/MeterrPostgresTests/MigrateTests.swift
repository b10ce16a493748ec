import Foundation
import Logging
import MeterrCore
import MeterrStore
import Synchronization
import Testing

@testable import MeterrPostgres

/// `meterr migrate`: an embedded database with rows in every table copied into PostgreSQL, which
/// then answers every store's questions as SQLite does.
@Suite("SQLite copied into PostgreSQL")
struct MigrateTests {
    static func at(_ text: String) -> Timestamp { Timestamp(rfc3339: text)! }

    static let now = at("2026-12-15T12:00:00Z")
    static let vault = try! CredentialVault(keyBytes: Array(repeating: 9, count: 32))
    static let adminKey = "mk_migrateadminkeymigrateadmin01"
    static let year = (from: at("2026-01-01T00:00:00Z"), to: at("2027-01-01T00:00:00Z"))

    /// A clock a millisecond later at each reading, so rows made one after another never tie on time.
    static func clock() -> WallClock {
        let ticks = Atomic<Int64>(0)
        return WallClock { Timestamp(milliseconds: now.milliseconds + ticks.add(1, ordering: .relaxed).newValue) }
    }

    /// What the seeded database holds that the checks name.
    struct Seed {
        var orgs: [String]
        var keyIds: [String]
        var budgetIds: [String]
        var sessionHash = "session-hash-1"
    }

    /// An embedded database with rows in every table, made through the stores' own API; events of
    /// October are then removed, so the rollups hold more than the events.
    static func seed(_ store: SQLiteStore) async throws -> Seed {
        let first = try await store.bootstrap(adminKey: adminKey).organisation.id
        let second = try await store.createOrganisation(name: "Second", actor: "cli").0.id
        for org in [first, second] {
            _ = try await store.createGroup(kind: .team, org: org, name: "search", team: nil, actor: "cli")
            _ = try await store.createGroup(kind: .project, org: org, name: "atlas", team: "search", actor: "cli")
        }
        var keyIds: [String] = []
        for (org, name) in [(first, "reader"), (second, "gateway")] {
            let (key, _) = try await store.createKey(
                org: org,
                KeyRequest(
                    name: name, scopes: [.read], team: "search", user: "ann", project: "atlas",
                    expiresAt: at("2027-06-01T00:00:00Z"), tier: .pro, requestsPerMinute: 60, tokensPerMinute: 9000),
                actor: "cli")
            keyIds.append(key.id)
        }
        try await store.setTier(org: second, tier: .free, actor: "cli")
        let user = try await store.createUser(
            org: first, email: "ann@example.com", name: "Ann", role: .admin, team: "search",
            passwordHash: "$2b$12$abcdefghijklmnopqrstuv", actor: "cli")
        _ = try await store.createUser(
            org: second, email: "bob@example.com", name: nil, role: .member, team: nil, passwordHash: nil, actor: "cli")
        try await store.createSession(
            tokenHash: "session-hash-1", user: user, csrfToken: "csrf-1", expiresAt: at("2026-12-16T00:00:00Z"))
        _ = try await store.setCredential(
            org: first, team: nil, provider: .openai, secret: "sk-org-secret-0001", baseURL: nil, vault: vault,
            actor: "cli")
        _ = try await store.setCredential(
            org: first, team: "search", provider: .anthropic, secret: "sk-ant-team-0002",
            baseURL: "https://llm.example.com", vault: vault, actor: "cli")

        var alert = AlertRecord(
            id: "alert_1", orgId: first, kind: "budget.threshold", subject: "bud_z", severity: "warning",
            message: "80% of the budget", dedupeKey: "dedupe-1", createdAt: at("2026-12-10T09:00:00Z")
        ).withDetails(["budget_name": "Org", "limit_usd": "100.00"])
        alert.renotifyAt = at("2026-12-20T09:00:00Z")
        let other = AlertRecord(
            id: "alert_2", orgId: second, kind: "anomaly.spike", subject: nil, severity: "critical",
            message: "spike", dedupeKey: "dedupe-2", createdAt: at("2026-12-11T09:00:00Z"))
        _ = try await store.recordAlerts([alert, other])
        _ = try await store.acknowledge(org: second, id: "alert_2", actor: "cli")
        try await store.createWebhook(
            Webhook(
                id: "whk_1", orgId: first, url: "https://hooks.example.com/a", format: "json",
                createdAt: at("2026-12-01T00:00:00Z")),
            secret: "whsec-one", vault: vault, actor: "cli")
        try await store.createWebhook(
            Webhook(
                id: "whk_2", orgId: first, url: "https://hooks.example.com/b", format: "slack",
                createdAt: at("2026-12-02T00:00:00Z")),
            secret: "whsec-two", vault: vault, actor: "cli")
        try await store.enqueueDeliveries(alert: alert, deliveryKey: "alert_1") { "{\"to\":\"\($0.id)\"}" }
        try await store.markFailed(
            seq: 1, attempts: 1, nextAttempt: at("2026-12-15T11:00:00Z"), error: "503 from the hook")

        var policy = OrgPolicy.defaults
        policy.eventRetentionDays = 400
        policy.alertRules["budget.threshold"] = AlertRule(cooldownMinutes: 30, renotifyMinutes: 120)
        try await store.setPolicy(org: first, policy, actor: "cli")
        try await store.recordBlock(
            AnomalyBlock(
                id: "blk_1", orgId: first, entity: "team:search", level: "block", reason: "spike",
                createdAt: at("2026-12-12T00:00:00Z"), until: at("2026-12-12T06:00:00Z")))
        try await store.recordBlock(
            AnomalyBlock(
                id: "blk_2", orgId: first, entity: "key:\(keyIds[0])", level: "escalation", reason: "again",
                createdAt: at("2026-12-13T00:00:00Z"), until: nil))
        _ = try await store.liftBlock(org: first, id: "blk_2", at: at("2026-12-13T01:00:00Z"), actor: "cli")
        try await store.recordKeyModel(
            org: first, keyId: keyIds[0], model: "openai/gpt-4o", at: at("2026-10-02T00:00:00Z"))
        try await store.putRoute(
            StoredRoute(
                orgId: first, name: "cheap", definition: #"{"policy":"cheapest","deployments":["openai/gpt-4o-mini"]}"#,
                updatedAt: at("2026-12-03T00:00:00Z")), actor: "cli")

        // Two budgets made in the same millisecond list in the order they were made, not by id.
        var budgetIds: [String] = []
        for (id, org, scope, hard) in [
            ("bud_z", first, BudgetScope.organisation, true), ("bud_a", first, .team("search"), false),
            ("bud_m", second, .tag("env", "prod"), true),
        ] {
            _ = try await store.createBudget(
                Budget(
                    id: id, orgId: org, name: "Budget \(id)", scope: scope, period: .month, timeZone: "Europe/Berlin",
                    limit: Money(nanos: 50_000_000_000), hard: hard, thresholds: [50, 80, 100],
                    createdAt: at("2026-10-01T00:00:00Z")), actor: "cli")
            budgetIds.append(id)
        }
        try await store.recordClosedPeriods([
            ClosedPeriod(
                budgetId: "bud_z", start: at("2026-10-01T00:00:00Z"), end: at("2026-11-01T00:00:00Z"), period: "month",
                limit: Money(nanos: 50_000_000_000), spent: Money(nanos: 1_234_567), reason: "ended"),
            ClosedPeriod(
                budgetId: "bud_z", start: at("2026-11-01T00:00:00Z"), end: at("2026-11-20T00:00:00Z"), period: "month",
                limit: Money(nanos: 50_000_000_000), spent: Money(nanos: 7_654_321), reason: "changed"),
        ])

        // More than two pages of events (5,000 a page) over three months, with their shapes.
        let models = ["gpt-4o", "gpt-4o-mini", "o3", "claude-sonnet-4-5"]
        var events: [UsageEvent] = []
        var shapes: [CallShape] = []
        for index in 0..<12_000 {
            let org = index % 3 == 0 ? second : first
            let model = models[index % models.count]
            let ts = Timestamp(milliseconds: at("2026-10-01T00:00:00Z").milliseconds + Int64(index) * 620_000)
            var event = UsageEvent(
                id: "evt_\(index)", ts: ts, org: org, team: index % 5 == 0 ? nil : "search",
                user: ["ann", "bob", nil][index % 3], project: index % 7 == 0 ? "atlas" : nil,
                keyId: index % 4 == 0 ? nil : keyIds[org == first ? 0 : 1],
                tags: index % 2 == 0 ? ["env": "prod", "app": "chat"] : [:],
                provider: model.hasPrefix("claude") ? .anthropic : .openai, model: model,
                modelRequested: index % 9 == 0 ? "fast" : nil, endpoint: "/v1/chat/completions",
                usage: Usage(
                    inputTokens: 100 + index % 900, cacheReadTokens: index % 50, cacheWriteTokens: index % 13,
                    cacheWrite1hTokens: index % 17 == 0 ? 5 : 0, outputTokens: 10 + index % 300,
                    reasoningTokens: model == "o3" ? 40 : 0),
                cost: index % 11 == 0 ? nil : Money(nanos: Int64(1_000 + index * 37)),
                priceId: index % 11 == 0 ? nil : "openai/\(model)@2026-01",
                usageSource: index % 6 == 0 ? .estimated : .reported,
                stream: index % 2 == 1, status: index % 23 == 0 ? 503 : 200, latencyMs: 50 + index % 4000,
                ttftMs: index % 2 == 1 ? 20 + index % 500 : nil, requestId: "req_\(index)",
                upstreamRequestId: index % 3 == 0 ? "up_\(index)" : nil, route: index % 9 == 0 ? "cheap" : nil)
            if index % 29 == 0 {
                event.cacheHit = true
                event.saved = Money(nanos: 5_000)
            }
            events.append(event)
            if index % 40 == 0 {
                shapes.append(
                    CallShape(
                        org: org, eventId: event.id, ts: ts, requestHash: "hash\(index % 8)", promptTokens: 2048,
                        prefixes: [.init(tokens: 1024, hash: "p\(index % 4)")], tools: index % 80 == 0,
                        maxTokens: index % 120 == 0 ? nil : 512))
            }
        }
        for start in stride(from: 0, to: events.count, by: 1000) {
            let part = Array(events[start..<min(start + 1000, events.count)])
            _ = try await store.append(
                part, shapes: shapes.filter { shape in part.contains { $0.id == shape.eventId } })
        }
        // Retention removed October's events: the rollups keep their totals.
        for org in [first, second] {
            _ = try await store.removeEvents(org: org, before: at("2026-11-01T00:00:00Z"), limit: 100_000)
        }
        return Seed(orgs: [first, second], keyIds: keyIds, budgetIds: budgetIds)
    }

    /// Copies and returns each table's last progress.
    static func migrate(_ source: SQLiteStore, _ target: PostgresStore) async throws -> [String: SQLiteImport.Progress]
    {
        var finished: [String: SQLiteImport.Progress] = [:]
        try await SQLiteImport(from: source, to: target).copy { progress in
            if progress.finished { finished[progress.table] = progress }
        }
        return finished
    }

    /// Every question a store answers, asked of both.
    static func expectSameAnswers(_ sqlite: SQLiteStore, _ postgres: PostgresStore, _ seed: Seed) async throws {
        #expect(try await postgres.organisations() == sqlite.organisations())
        #expect(try await postgres.allRoutes() == sqlite.allRoutes())
        #expect(try await postgres.allBudgets() == sqlite.allBudgets())
        #expect(try await postgres.credentialFingerprints() == sqlite.credentialFingerprints())
        let principal = try await postgres.principal(forKey: adminKey)
        let expectedPrincipal = try await sqlite.principal(forKey: adminKey)
        #expect(principal != nil && principal == expectedPrincipal)
        for org in seed.orgs {
            for grouping in [SummaryGrouping.model, .team, .user, .key, .day] {
                let expected = try await sqlite.summary(org: org, groupBy: grouping, from: year.from, to: year.to)
                #expect(
                    try await postgres.summary(org: org, groupBy: grouping, from: year.from, to: year.to) == expected,
                    "\(grouping)")
            }
            var filter = EventFilter()
            filter.tags = ["env": "prod"]
            for filter in [EventFilter(), filter] {
                let expected = try await sqlite.events(org: org, filter: filter, limit: 300, cursor: nil).events
                #expect(try await postgres.events(org: org, filter: filter, limit: 300, cursor: nil).events == expected)
            }
            #expect(try await postgres.keys(org: org) == sqlite.keys(org: org))
            #expect(try await postgres.groups(kind: .team, org: org) == sqlite.groups(kind: .team, org: org))
            #expect(try await postgres.groups(kind: .project, org: org) == sqlite.groups(kind: .project, org: org))
            #expect(try await postgres.audit(org: org, limit: 500) == sqlite.audit(org: org, limit: 500))
            #expect(try await postgres.users(org: org) == sqlite.users(org: org))
            #expect(try await postgres.credentials(org: org) == sqlite.credentials(org: org))
            for team in [nil, "search"] {
                let secret = try await postgres.credentialSecret(
                    org: org, team: team, provider: team == nil ? .openai : .anthropic, vault: vault)
                #expect(
                    secret
                        == (try await sqlite.credentialSecret(
                            org: org, team: team, provider: team == nil ? .openai : .anthropic, vault: vault)))
            }
            #expect(
                try await postgres.alerts(org: org, limit: 50, unacknowledgedOnly: false)
                    == sqlite.alerts(org: org, limit: 50, unacknowledgedOnly: false))
            #expect(try await postgres.webhooks(org: org) == sqlite.webhooks(org: org))
            #expect(try await postgres.policy(org: org) == sqlite.policy(org: org))
            #expect(try await postgres.blocks(org: org, limit: 50) == sqlite.blocks(org: org, limit: 50))
            #expect(try await postgres.keyModels(org: org) == sqlite.keyModels(org: org))
            #expect(try await postgres.budgets(org: org) == sqlite.budgets(org: org))
            #expect(
                try await postgres.modelHealth(org: org, from: year.from, to: year.to)
                    == sqlite.modelHealth(org: org, from: year.from, to: year.to))
            #expect(
                try await postgres.shapedCalls(org: org, from: year.from, to: year.to, team: nil, limit: 500)
                    == sqlite.shapedCalls(org: org, from: year.from, to: year.to, team: nil, limit: 500))
        }
        for id in seed.budgetIds {
            #expect(
                try await postgres.closedPeriods(budgetId: id, limit: 10)
                    == sqlite.closedPeriods(budgetId: id, limit: 10))
        }
        let session = try await postgres.session(tokenHash: seed.sessionHash)
        let expectedSession = try await sqlite.session(tokenHash: seed.sessionHash)
        #expect(session != nil && session?.0 == expectedSession?.0 && session?.1 == expectedSession?.1)
    }

    @Test(
        "Every table is copied: PostgreSQL answers as SQLite does, a second run writes nothing, a later one catches up",
        .disabled(if: TestCluster.unavailable != nil, "\(TestCluster.unavailable ?? "")"))
    func copiesEverything() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString).path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clock = Self.clock()
        let sqlite = try SQLiteStore(directory: directory, clock: clock)
        let seed = try await Self.seed(sqlite)
        let source = try SQLiteStore(directory: directory, readOnly: true, clock: clock)
        try await TestCluster.withStore(clock: clock) { postgres, _ in
            let first = try await Self.migrate(source, postgres)
            #expect(Set(first.keys) == Set(SQLiteImport.tableNames))
            for (table, progress) in first {
                #expect(progress.total > 0, "\(table) was seeded")
                #expect(progress.copied == progress.total && progress.written == progress.total, "\(table)")
            }
            // The rollups hold October's totals, whose events retention removed: copied, not recomputed.
            let summary = try await postgres.summary(
                org: seed.orgs[0], groupBy: .none, from: Self.year.from, to: Self.year.to)
            let events = try await postgres.events(org: seed.orgs[0], filter: EventFilter(), limit: 10_000, cursor: nil)
            #expect(summary.totals.requests > events.events.count && events.nextCursor == nil)
            try await Self.expectSameAnswers(sqlite, postgres, seed)
            let comparisons = try await SQLiteImport(from: source, to: postgres).compare()
            #expect(comparisons.map(\.org) == seed.orgs && comparisons.allSatisfy(\.matches))
            #expect(comparisons.allSatisfy { $0.sqlite.rollupRequests > Int64($0.sqlite.events) })

            // Again: every row is already there as it is.
            let second = try await Self.migrate(source, postgres)
            #expect(second.values.allSatisfy { $0.written == 0 }, "\(second.values.filter { $0.written > 0 })")
            #expect(try await SQLiteImport(from: source, to: postgres).compare() == comparisons)

            // SQLite changes (the server ran on it again): the next run brings PostgreSQL up to date.
            _ = try await sqlite.revokeKey(org: seed.orgs[0], id: seed.keyIds[0], actor: "cli", actorScopes: [.all])
            _ = try await sqlite.acknowledge(org: seed.orgs[0], id: "alert_1", actor: "cli")
            _ = try await sqlite.append([
                UsageEvent(
                    id: "evt_late", ts: Self.at("2026-12-14T10:00:00Z"), org: seed.orgs[0], provider: .openai,
                    model: "gpt-4o", usage: Usage(inputTokens: 10, outputTokens: 2), cost: Money(nanos: 777))
            ])
            let third = try await Self.migrate(source, postgres)
            #expect(third["api_keys"]?.written == 1 && third["alerts"]?.written == 1)
            #expect(third["usage_events"]?.written == 1 && third["usage_rollups"]?.written == 16)
            #expect(third["audit_log"]?.written == 1 && third["organisations"]?.written == 0)
            try await Self.expectSameAnswers(sqlite, postgres, seed)
            #expect(try await SQLiteImport(from: source, to: postgres).compare().allSatisfy(\.matches))

            // The webhook outbox keeps SQLite's numbers, and its secrets open with the same key.
            let soon = Self.at("2026-12-15T13:00:00Z")
            let due = try await postgres.dueDeliveries(now: soon, limit: 10, vault: Self.vault)
            #expect(due == (try await sqlite.dueDeliveries(now: soon, limit: 10, vault: Self.vault)))
            #expect(due.map(\.seq) == [1, 2] && due.map(\.secret) == ["whsec-one", "whsec-two"])

            // Rows made on PostgreSQL afterwards take numbers after the copied ones.
            try await postgres.recordAudit(
                org: seed.orgs[0], actor: "cli", action: "test.after", target: nil, detail: nil)
            #expect(try await postgres.audit(org: seed.orgs[0], limit: 1).map(\.action) == ["test.after"])
            _ = try await postgres.createBudget(
                Budget(
                    id: "bud_new", orgId: seed.orgs[0], name: "Later", scope: .organisation, period: .day,
                    timeZone: "UTC", limit: Money(nanos: 1_000), hard: false, thresholds: [100],
                    createdAt: Self.at("2026-10-01T00:00:00Z")), actor: "cli")
            #expect(try await postgres.budgets(org: seed.orgs[0]).map(\.id) == ["bud_z", "bud_a", "bud_new"])
            let later = AlertRecord(
                id: "alert_3", orgId: seed.orgs[0], kind: "budget.threshold", subject: nil, severity: "info",
                message: "later", dedupeKey: "dedupe-3", createdAt: Self.now)
            _ = try await postgres.recordAlerts([later])
            try await postgres.enqueueDeliveries(alert: later, deliveryKey: "alert_3") { _ in "{}" }
            let next = try await postgres.dueDeliveries(
                now: Self.at("2026-12-16T00:00:00Z"), limit: 10, vault: Self.vault)
            #expect(next.filter { $0.alertId == "alert_3" }.map(\.seq) == [3, 4])
        }
    }

    @Test(
        "A PostgreSQL database holding an organisation the data directory does not is refused, untouched",
        .disabled(if: TestCluster.unavailable != nil, "\(TestCluster.unavailable ?? "")"))
    func refusesAnotherDatabase() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString).path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let sqlite = try SQLiteStore(directory: directory, clock: Self.clock())
        _ = try await sqlite.bootstrap(adminKey: nil)
        try await TestCluster.withStore(clock: Self.clock()) { postgres, _ in
            let theirs = try await postgres.bootstrap(adminKey: nil).organisation
            do {
                _ = try await Self.migrate(sqlite, postgres)
                Issue.record("the copy went ahead")
            } catch let error as MeterrError {
                #expect(error.code == .conflict && error.message.contains(theirs.id))
            }
            #expect(try await postgres.organisations() == [theirs])
        }
    }
}
