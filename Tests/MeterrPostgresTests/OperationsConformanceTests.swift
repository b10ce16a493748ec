import Foundation
import Logging
import MeterrCore
import MeterrStore
import PostgresNIO
import Testing

@testable import MeterrPostgres

/// Alerts, webhooks and their outbox, policies, anomaly blocks, keys' models and routes: the same
/// answers on every database. Each test runs on SQLite and on PostgreSQL.
@Suite("Alerts, webhooks, policies and routes on SQLite and PostgreSQL")
struct OperationsConformanceTests {
    typealias Store = any AlertStore & WebhookStore & PolicyStore & RouteStore & AccountStore & UsageLedger

    static func at(_ text: String) -> Timestamp { Timestamp(rfc3339: text)! }

    /// The time the stores write: tests pin it.
    static let now = at("2026-12-15T12:00:00Z")
    static let clock = WallClock { OperationsConformanceTests.now }
    static let vault = try! CredentialVault(keyBytes: Array(repeating: 7, count: 32))

    static func alert(
        _ id: String, org: String = "org_a", kind: String = "budget.threshold", subject: String? = "budget_1",
        severity: String = "warning", dedupe: String? = nil, at time: String = "2026-12-15T10:00:00Z",
        renotifyAt: String? = nil, details: [String: String] = [:]
    ) -> AlertRecord {
        var alert = AlertRecord(
            id: id, orgId: org, kind: kind, subject: subject, severity: severity, message: "about \(id)",
            dedupeKey: dedupe ?? "dedupe:\(id)", createdAt: at(time)
        )
        .withDetails(details)
        alert.renotifyAt = renotifyAt.map(at)
        return alert
    }

    /// The code of the `MeterrError` `body` throws.
    static func errorCode(_ body: () async throws -> Void) async -> MeterrError.Code? {
        do {
            try await body()
            return nil
        } catch let error as MeterrError {
            return error.code
        } catch {
            return MeterrError.Code(rawValue: "not a MeterrError: \(error)")
        }
    }

    @Test(
        "Alerts are recorded once per dedupe key, listed newest first, acknowledged within their organisation",
        arguments: StoreDatabase.available)
    func alerts(_ database: StoreDatabase) async throws {
        try await database.withStore(as: Store.self, clock: Self.clock) { store in
            let first = Self.alert("alert_1", details: ["budget_name": "Team ML", "limit_usd": "100.00"])
            let recorded = try await store.recordAlerts([
                first, Self.alert("alert_2", at: "2026-12-15T11:00:00Z"),
                Self.alert("alert_3", dedupe: "dedupe:alert_1"),  // the same dedupe key again
                Self.alert("alert_4", org: "org_b", kind: "anomaly.spike", subject: nil),
            ])
            #expect(recorded.map(\.id) == ["alert_1", "alert_2", "alert_4"])
            #expect(try await store.recordAlerts([Self.alert("alert_5", dedupe: "dedupe:alert_2")]).isEmpty)
            #expect(try await store.recordAlerts([]).isEmpty)
            // Newest first, ties by id; every field as recorded.
            _ = try await store.recordAlerts([Self.alert("alert_0", at: "2026-12-15T10:00:00Z")])
            let listed = try await store.alerts(org: "org_a", limit: 10, unacknowledgedOnly: false)
            #expect(listed.map(\.id) == ["alert_2", "alert_0", "alert_1"])
            #expect(listed.last == first)
            #expect(try await store.alerts(org: "org_a", limit: 1, unacknowledgedOnly: false).map(\.id) == ["alert_2"])

            // Another organisation's alert is neither acknowledged nor seen.
            #expect(try await store.acknowledge(org: "org_b", id: "alert_1", actor: "key_b") == false)
            #expect(try await store.acknowledge(org: "org_a", id: "alert_404", actor: "key_a") == false)
            #expect(try await store.acknowledge(org: "org_a", id: "alert_1", actor: "key_a"))
            #expect(try await store.acknowledge(org: "org_a", id: "alert_1", actor: "key_later"))
            let acknowledged = try #require(
                try await store.alerts(org: "org_a", limit: 10, unacknowledgedOnly: false).first { $0.id == "alert_1" })
            #expect(acknowledged.acknowledgedAt == Self.now && acknowledged.acknowledgedBy == "key_a")
            #expect(
                try await store.alerts(org: "org_a", limit: 10, unacknowledgedOnly: true).map(\.id) == [
                    "alert_2", "alert_0",
                ])

            // The newest of a kind about a subject; no subject is a subject of its own.
            #expect(
                try await store.latestAlert(org: "org_a", kind: "budget.threshold", subject: "budget_1")?.id
                    == "alert_2")
            #expect(try await store.latestAlert(org: "org_a", kind: "budget.threshold", subject: nil) == nil)
            #expect(try await store.latestAlert(org: "org_b", kind: "anomaly.spike", subject: nil)?.id == "alert_4")
            #expect(try await store.latestAlert(org: "org_b", kind: "budget.threshold", subject: "budget_1") == nil)

            // Acknowledging all: only open ones of the kind asked for, audited; nothing open, nothing logged.
            _ = try await store.recordAlerts([Self.alert("alert_6", kind: "anomaly.spike", severity: "info")])
            #expect(
                try await store.acknowledgeAll(org: "org_a", kind: "budget.threshold", severity: nil, actor: "key_a")
                    == 2)
            #expect(
                try await store.acknowledgeAll(org: "org_a", kind: "budget.threshold", severity: nil, actor: "key_a")
                    == 0)
            #expect(
                try await store.acknowledgeAll(org: "org_a", kind: nil, severity: "warning", actor: "key_a") == 0)
            #expect(try await store.acknowledgeAll(org: "org_a", kind: nil, severity: "info", actor: "key_a") == 1)
            #expect(try await store.alerts(org: "org_a", limit: 10, unacknowledgedOnly: true).isEmpty)
            #expect(try await store.alerts(org: "org_b", limit: 10, unacknowledgedOnly: true).map(\.id) == ["alert_4"])
            let audit = try await store.audit(org: "org_a", limit: 10)
            #expect(
                audit.map { "\($0.action) \($0.detail ?? "")" } == [
                    "alert.acknowledge_all 1 alerts, info", "alert.acknowledge_all 2 alerts of kind budget.threshold",
                ])
            #expect(audit.allSatisfy { $0.at == Self.now && $0.actor == "key_a" })
            #expect(try await store.audit(org: "org_b", limit: 10).isEmpty)
        }
    }

    @Test(
        "Unacknowledged alerts due again come oldest first, of every organisation; markNotified counts and reschedules",
        arguments: StoreDatabase.available)
    func renotifications(_ database: StoreDatabase) async throws {
        try await database.withStore(as: Store.self, clock: Self.clock) { store in
            _ = try await store.recordAlerts([
                Self.alert("late", renotifyAt: "2026-12-15T11:30:00Z"),
                Self.alert("early", org: "org_b", renotifyAt: "2026-12-15T11:00:00Z"),
                Self.alert("later", renotifyAt: "2026-12-15T13:00:00Z"),
                Self.alert("never"),
                Self.alert("seen", renotifyAt: "2026-12-15T10:30:00Z"),
            ])
            _ = try await store.acknowledge(org: "org_a", id: "seen", actor: "key_a")
            let due = try await store.dueRenotifications(now: Self.now, limit: 10)
            #expect(due.map { "\($0.0.id)#\($0.1)" } == ["early#1", "late#1"])
            #expect(due.first?.0.orgId == "org_b")

            try await store.markNotified(id: "early", sent: true, next: Self.at("2026-12-15T14:00:00Z"))
            try await store.markNotified(id: "late", sent: false, next: nil)
            let next = try await store.dueRenotifications(now: Self.at("2026-12-15T14:00:00Z"), limit: 10)
            #expect(next.map { "\($0.0.id)#\($0.1)" } == ["later#1", "early#2"])
        }
    }

    @Test(
        "Webhooks: sealed secrets, oldest first, each alert queued once per webhook, retried, deleted with their queue",
        arguments: StoreDatabase.available)
    func webhooks(_ database: StoreDatabase) async throws {
        try await database.withStore(as: Store.self, clock: Self.clock) { store in
            let (acme, _) = try await store.createOrganisation(name: "Acme", actor: "cli")
            let (other, _) = try await store.createOrganisation(name: "Other", actor: "cli")
            let first = Webhook(
                id: "wh_1", orgId: acme.id, url: "https://hooks.example/1", format: "json",
                createdAt: Self.at("2026-12-01T00:00:00Z"))
            let second = Webhook(
                id: "wh_2", orgId: acme.id, url: "https://hooks.example/2", format: "slack",
                createdAt: Self.at("2026-12-02T00:00:00Z"))
            let theirs = Webhook(
                id: "wh_3", orgId: other.id, url: "https://hooks.example/3", format: "json",
                createdAt: Self.at("2026-12-01T00:00:00Z"))
            try await store.createWebhook(second, secret: "secret-two", vault: Self.vault, actor: "key_a")
            try await store.createWebhook(first, secret: "secret-one", vault: Self.vault, actor: "key_a")
            try await store.createWebhook(theirs, secret: "secret-three", vault: Self.vault, actor: "key_b")
            var missing = first
            missing.id = "wh_4"
            missing.orgId = "org_missing"
            #expect(
                await Self.errorCode {
                    try await store.createWebhook(missing, secret: "s", vault: Self.vault, actor: "key_a")
                } == .notFound)
            #expect(try await store.webhooks(org: acme.id) == [first, second])
            #expect(try await store.webhooks(org: other.id) == [theirs])

            // Each webhook gets the alert once per delivery key, whatever the repeats.
            let alert = Self.alert("alert_1", org: acme.id)
            for _ in 0..<2 {
                try await store.enqueueDeliveries(alert: alert, deliveryKey: alert.id) { "\($0.format):\(alert.id)" }
            }
            try await store.enqueueDeliveries(alert: Self.alert("alert_2", org: other.id), deliveryKey: "alert_2") {
                _ in "theirs"
            }
            try await store.enqueueDeliveries(alert: Self.alert("alert_3", org: "org_none"), deliveryKey: "alert_3") {
                _ in "nobody's"
            }
            let due = try await store.dueDeliveries(now: Self.now, limit: 10, vault: Self.vault)
            #expect(due.map(\.payload) == ["json:alert_1", "slack:alert_1", "theirs"])
            #expect(due.map(\.secret) == ["secret-one", "secret-two", "secret-three"])
            #expect(due.map(\.webhook) == [first, second, theirs])
            #expect(
                due.allSatisfy { $0.attempts == 0 && $0.alertId == ($0.payload == "theirs" ? "alert_2" : "alert_1") })
            #expect(zip(due, due.dropFirst()).allSatisfy { $0.seq < $1.seq })

            // Failed: due again at its next attempt; delivered: never again.
            try await store.markFailed(
                seq: due[1].seq, attempts: 1, nextAttempt: Self.at("2026-12-15T12:01:00Z"),
                error: String(repeating: "x", count: 600))
            try await store.markDelivered(seq: due[0].seq, at: Self.now)
            try await store.markDelivered(seq: due[2].seq, at: Self.now)
            #expect(try await store.dueDeliveries(now: Self.now, limit: 10, vault: Self.vault).isEmpty)
            let retry = try await store.dueDeliveries(
                now: Self.at("2026-12-15T12:01:00Z"), limit: 10, vault: Self.vault)
            #expect(retry.map(\.seq) == [due[1].seq] && retry.first?.attempts == 1)

            // A master key that does not open the secrets says so.
            let wrong = try CredentialVault(keyBytes: Array(repeating: 9, count: 32))
            try await store.markFailed(
                seq: due[1].seq, attempts: 2, nextAttempt: Self.at("2026-12-15T12:02:00Z"), error: "HTTP 500")
            #expect(
                await Self.errorCode {
                    _ = try await store.dueDeliveries(now: Self.at("2026-12-15T12:02:00Z"), limit: 10, vault: wrong)
                } == .configuration)
            #expect(
                try await store.dueDeliveries(now: Self.at("2026-12-15T12:02:00Z"), limit: 10, vault: Self.vault)
                    .map(\.attempts) == [2])

            // Deleted within its organisation only, with its queue, audited.
            #expect(try await store.deleteWebhook(org: other.id, id: second.id, actor: "key_b") == false)
            #expect(try await store.deleteWebhook(org: acme.id, id: second.id, actor: "key_a"))
            #expect(try await store.deleteWebhook(org: acme.id, id: second.id, actor: "key_a") == false)
            #expect(try await store.webhooks(org: acme.id) == [first])
            #expect(
                try await store.dueDeliveries(now: Self.at("2026-12-16T00:00:00Z"), limit: 10, vault: Self.vault)
                    .isEmpty)
            let audit = try await store.audit(org: acme.id, limit: 10).filter { $0.action.hasPrefix("webhook.") }
            #expect(
                audit.map { "\($0.action) \($0.target ?? "") \($0.detail ?? "")" } == [
                    "webhook.delete wh_2 ", "webhook.create wh_1 https://hooks.example/1",
                    "webhook.create wh_2 https://hooks.example/2",
                ])
        }
    }

    @Test(
        "Policies: the defaults until one is saved, saved whole and audited, for known organisations only",
        arguments: StoreDatabase.available)
    func policies(_ database: StoreDatabase) async throws {
        try await database.withStore(as: Store.self, clock: Self.clock) { store in
            let (acme, _) = try await store.createOrganisation(name: "Acme", actor: "cli")
            let (other, _) = try await store.createOrganisation(name: "Other", actor: "cli")
            #expect(try await store.policy(org: acme.id) == .defaults)
            var policy = OrgPolicy.defaults
            policy.alertRules["budget.threshold"] = AlertRule(cooldownMinutes: 30, renotifyMinutes: 120)
            policy.anomalies.alpha = 0.25
            policy.anomalies.minHourlyCost = Money(nanos: 250_000_000)
            policy.unpriced = .fallback(model: "gpt-4o")
            policy.eventRetentionDays = 90
            policy.calendar = try #require(LocalCalendar(identifier: "Europe/Berlin"))
            try await store.setPolicy(org: acme.id, policy, actor: "key_a")
            #expect(try await store.policy(org: acme.id) == policy)
            policy.refuseUnknownTeams = true
            try await store.setPolicy(org: acme.id, policy, actor: "key_a")
            #expect(try await store.policy(org: acme.id) == policy)
            #expect(try await store.policy(org: other.id) == .defaults)
            #expect(
                await Self.errorCode { try await store.setPolicy(org: "org_missing", policy, actor: "key_a") }
                    == .notFound)
            let audit = try await store.audit(org: acme.id, limit: 10).filter { $0.action == "policy.update" }
            #expect(audit.count == 2 && audit.allSatisfy { $0.actor == "key_a" && $0.at == Self.now })
        }
    }

    @Test(
        "Anomaly blocks: recorded once, newest first, lifted once within their organisation; unlifted ones of all",
        arguments: StoreDatabase.available)
    func blocks(_ database: StoreDatabase) async throws {
        try await database.withStore(as: Store.self, clock: Self.clock) { store in
            func block(_ id: String, org: String = "org_a", at time: String, until: String?) -> AnomalyBlock {
                AnomalyBlock(
                    id: id, orgId: org, entity: "team:ml", level: until == nil ? "escalation" : "block",
                    reason: "spend \(id)", createdAt: Self.at(time), until: until.map(Self.at))
            }
            let old = block("block_1", at: "2026-12-15T09:00:00Z", until: "2026-12-15T10:00:00Z")
            let new = block("block_2", at: "2026-12-15T11:00:00Z", until: nil)
            let theirs = block("block_3", org: "org_b", at: "2026-12-15T10:00:00Z", until: nil)
            for each in [old, new, theirs] { try await store.recordBlock(each) }
            var changed = old
            changed.reason = "recorded again"
            try await store.recordBlock(changed)
            #expect(try await store.blocks(org: "org_a", limit: 10) == [new, old])
            #expect(try await store.blocks(org: "org_a", limit: 1) == [new])
            #expect(Set(try await store.unliftedBlocks()) == [old, new, theirs])

            #expect(
                try await store.liftBlock(org: "org_b", id: "block_1", at: Self.now, actor: "key_b") == nil)
            #expect(
                try await store.liftBlock(org: "org_a", id: "block_404", at: Self.now, actor: "key_a") == nil)
            var lifted = old
            lifted.liftedAt = Self.now
            lifted.liftedBy = "key_a"
            #expect(try await store.liftBlock(org: "org_a", id: "block_1", at: Self.now, actor: "key_a") == lifted)
            #expect(
                try await store.liftBlock(
                    org: "org_a", id: "block_1", at: Self.at("2026-12-15T13:00:00Z"), actor: "key_later") == lifted)
            #expect(Set(try await store.unliftedBlocks()) == [new, theirs])
            #expect(try await store.blocks(org: "org_a", limit: 10) == [new, lifted])
            #expect(try await store.blocks(org: "org_b", limit: 10) == [theirs])
            let audit = try await store.audit(org: "org_a", limit: 10)
            #expect(
                audit.map { "\($0.action) \($0.target ?? "") \($0.actor)" } == [
                    "anomaly.lift block_1 key_later", "anomaly.lift block_1 key_a",
                ])
        }
    }

    @Test(
        "Hourly totals of the organisation, its teams, users and keys come from the rollups, oldest hour first",
        arguments: StoreDatabase.available)
    func hourlyTotals(_ database: StoreDatabase) async throws {
        try await database.withStore(as: Store.self, clock: Self.clock) { store in
            func event(
                _ id: String, _ time: String, org: String = "org_a", team: String?, user: String?, key: String?,
                nanos: Int64
            ) -> UsageEvent {
                UsageEvent(
                    id: id, ts: Self.at(time), org: org, team: team, user: user, keyId: key, provider: .openai,
                    model: "gpt-4o", usage: Usage(inputTokens: 100, outputTokens: 10), cost: Money(nanos: nanos))
            }
            _ = try await store.append([
                event("before", "2026-12-15T08:59:00.000Z", team: "ml", user: "ana", key: "key_1", nanos: 1),
                event("a", "2026-12-15T09:10:00.000Z", team: "ml", user: "ana", key: "key_1", nanos: 10),
                event("b", "2026-12-15T09:40:00.000Z", team: "Web", user: "bo", key: "key_2", nanos: 20),
                event("c", "2026-12-15T09:50:00.000Z", team: "ml", user: nil, key: nil, nanos: 40),
                event("d", "2026-12-15T10:05:00.000Z", team: nil, user: nil, key: nil, nanos: 80),
                event("x", "2026-12-15T09:30:00.000Z", org: "org_b", team: "ml", user: "eve", key: "key_9", nanos: 5),
            ])
            let totals = try await store.hourlyTotals(org: "org_a", from: Self.at("2026-12-15T09:00:00Z"))
            let nine = Self.at("2026-12-15T09:00:00Z")
            let ten = Self.at("2026-12-15T10:00:00Z")
            #expect(
                totals == [
                    HourlyTotals(entity: "org", hour: nine, requests: 3, tokens: 330, costNanos: 70),
                    HourlyTotals(entity: "team:Web", hour: nine, requests: 1, tokens: 110, costNanos: 20),
                    HourlyTotals(entity: "team:ml", hour: nine, requests: 2, tokens: 220, costNanos: 50),
                    HourlyTotals(entity: "user:ana", hour: nine, requests: 1, tokens: 110, costNanos: 10),
                    HourlyTotals(entity: "user:bo", hour: nine, requests: 1, tokens: 110, costNanos: 20),
                    HourlyTotals(entity: "key:key_1", hour: nine, requests: 1, tokens: 110, costNanos: 10),
                    HourlyTotals(entity: "key:key_2", hour: nine, requests: 1, tokens: 110, costNanos: 20),
                    HourlyTotals(entity: "org", hour: ten, requests: 1, tokens: 110, costNanos: 80),
                ])
            #expect(try await store.hourlyTotals(org: "org_c", from: nine).isEmpty)
        }
    }

    @Test("Keys' models: each remembered once, per organisation", arguments: StoreDatabase.available)
    func keyModels(_ database: StoreDatabase) async throws {
        try await database.withStore(as: Store.self, clock: Self.clock) { store in
            try await store.recordKeyModel(org: "org_a", keyId: "key_1", model: "openai/gpt-4o", at: Self.now)
            try await store.recordKeyModel(org: "org_a", keyId: "key_1", model: "openai/gpt-4o", at: Self.now)
            try await store.recordKeyModel(
                org: "org_a", keyId: "key_1", model: "anthropic/claude-haiku-4-5", at: Self.now)
            try await store.recordKeyModel(org: "org_a", keyId: "key_2", model: "openai/gpt-4o", at: Self.now)
            try await store.recordKeyModel(org: "org_b", keyId: "key_9", model: "openai/o3", at: Self.now)
            #expect(
                try await store.keyModels(org: "org_a") == [
                    "key_1": ["openai/gpt-4o", "anthropic/claude-haiku-4-5"], "key_2": ["openai/gpt-4o"],
                ])
            #expect(try await store.keyModels(org: "org_b") == ["key_9": ["openai/o3"]])
            #expect(try await store.keyModels(org: "org_c").isEmpty)
        }
    }

    @Test(
        "Routes: created or replaced and deleted within their organisation, audited; all of them in name order",
        arguments: StoreDatabase.available)
    func routes(_ database: StoreDatabase) async throws {
        try await database.withStore(as: Store.self, clock: Self.clock) { store in
            let (acme, _) = try await store.createOrganisation(name: "Acme", actor: "cli")
            let (other, _) = try await store.createOrganisation(name: "Other", actor: "cli")
            func route(_ org: String, _ name: String, _ definition: String = #"{"policy":"cheapest"}"#) -> StoredRoute {
                StoredRoute(orgId: org, name: name, definition: definition, updatedAt: Self.now)
            }
            for each in [route(acme.id, "fast"), route(acme.id, "Zeta"), route(other.id, "fast")] {
                try await store.putRoute(each, actor: "key_a")
            }
            var replaced = route(acme.id, "fast", #"{"policy":"fallback"}"#)
            replaced.updatedAt = Self.at("2026-12-15T13:00:00Z")
            try await store.putRoute(replaced, actor: "key_a")
            #expect(
                await Self.errorCode { try await store.putRoute(route("org_missing", "fast"), actor: "key_a") }
                    == .notFound)
            // By organisation, then name byte by byte ("Zeta" before "fast").
            let ours = [route(acme.id, "Zeta"), replaced]
            let expected = acme.id < other.id ? ours + [route(other.id, "fast")] : [route(other.id, "fast")] + ours
            #expect(try await store.allRoutes() == expected)

            #expect(try await store.deleteRoute(org: other.id, name: "Zeta", actor: "key_b") == false)
            #expect(try await store.deleteRoute(org: acme.id, name: "Zeta", actor: "key_a"))
            #expect(try await store.deleteRoute(org: acme.id, name: "Zeta", actor: "key_a") == false)
            #expect(try await store.allRoutes().map(\.name) == ["fast", "fast"])
            let audit = try await store.audit(org: acme.id, limit: 10).filter { $0.action.hasPrefix("route.") }
            #expect(
                audit.map { "\($0.action) \($0.target ?? "") \($0.detail ?? "")" } == [
                    "route.delete Zeta ", #"route.put fast {"policy":"fallback"}"#,
                    #"route.put Zeta {"policy":"cheapest"}"#,
                    #"route.put fast {"policy":"cheapest"}"#,
                ])
        }
    }
}

/// What only PostgreSQL has to prove: several nodes share the outbox, and the database keeps each
/// organisation's rows to itself.
@Suite(
    "PostgreSQL: the webhook outbox and reminders shared by nodes; tenancy of the operations tables",
    .enabled(if: TestCluster.unavailable == nil))
struct OperationsPostgresTests {
    typealias Fixture = OperationsConformanceTests

    @Test("Nodes claiming due deliveries at once never get the same one; a claim is due again after its lease")
    func deliveryClaims() async throws {
        try await TestCluster.withStore(clock: Fixture.clock) { node, ownerURL in
            let other = try await PostgresStore(
                url: try DatabaseURL(ownerURL), clock: Fixture.clock, logger: TestCluster.logger)
            defer { other.close() }
            let (org, _) = try await node.createOrganisation(name: "Acme", actor: "cli")
            for index in 0..<2 {
                try await node.createWebhook(
                    Webhook(
                        id: "wh_\(index)", orgId: org.id, url: "https://hooks.example/\(index)", format: "json",
                        createdAt: Fixture.now), secret: "secret", vault: Fixture.vault, actor: "key_a")
            }
            for index in 0..<30 {
                let alert = Fixture.alert("alert_\(index)", org: org.id)
                try await node.enqueueDeliveries(alert: alert, deliveryKey: alert.id) { _ in alert.id }
            }
            // Six senders on two nodes, 10 each at most, against 60 deliveries.
            let claims = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for sender in 0..<6 {
                    let store = sender % 2 == 0 ? node : other
                    group.addTask {
                        try await store.dueDeliveries(now: Fixture.now, limit: 10, vault: Fixture.vault).map(\.seq)
                    }
                }
                var claims: [[Int64]] = []
                for try await claim in group { claims.append(claim) }
                return claims
            }
            let claimed = claims.flatMap { $0 }
            #expect(claims.allSatisfy { $0.count <= 10 })
            #expect(Set(claimed).count == claimed.count, "a delivery was claimed twice")
            let rest = try await node.dueDeliveries(now: Fixture.now, limit: 100, vault: Fixture.vault).map(\.seq)
            #expect(Set(claimed).isDisjoint(with: rest))
            #expect(claimed.count + rest.count == 60)
            // Claimed: not due again before the lease ends, even for the node that claimed it.
            #expect(try await other.dueDeliveries(now: Fixture.now, limit: 100, vault: Fixture.vault).isEmpty)
            let leaseEnd = Fixture.now.adding(milliseconds: PostgresStore.deliveryLease)
            #expect(
                try await other.dueDeliveries(now: leaseEnd.adding(milliseconds: -1), limit: 100, vault: Fixture.vault)
                    .isEmpty)
            // Delivered ones stay delivered; the rest come due again (their node died), attempts unchanged.
            let delivered = Set((claimed + rest).sorted().prefix(20))
            for seq in delivered { try await node.markDelivered(seq: seq, at: Fixture.now) }
            let again = try await other.dueDeliveries(now: leaseEnd, limit: 100, vault: Fixture.vault)
            #expect(Set(again.map(\.seq)) == Set(claimed + rest).subtracting(delivered))
            #expect(again.allSatisfy { $0.attempts == 0 })
        }
    }

    @Test("Nodes claiming due reminders at once never get the same alert; a claim is due again after its lease")
    func renotificationClaims() async throws {
        try await TestCluster.withStore(clock: Fixture.clock) { node, ownerURL in
            let other = try await PostgresStore(
                url: try DatabaseURL(ownerURL), clock: Fixture.clock, logger: TestCluster.logger)
            defer { other.close() }
            _ = try await node.recordAlerts(
                (0..<40).map { Fixture.alert("alert_\($0)", org: "org_\($0 % 3)", renotifyAt: "2026-12-15T11:00:00Z") })
            let claims = try await withThrowingTaskGroup(of: [String].self) { group in
                for sender in 0..<4 {
                    let store = sender % 2 == 0 ? node : other
                    group.addTask { try await store.dueRenotifications(now: Fixture.now, limit: 15).map(\.0.id) }
                }
                var claims: [[String]] = []
                for try await claim in group { claims.append(claim) }
                return claims
            }
            let claimed = claims.flatMap { $0 }
            #expect(claims.allSatisfy { $0.count <= 15 })
            #expect(Set(claimed).count == claimed.count, "an alert was claimed twice")
            let rest = try await node.dueRenotifications(now: Fixture.now, limit: 100).map(\.0.id)
            #expect(Set(claimed + rest).count == 40 && Set(claimed).isDisjoint(with: rest))
            #expect(try await other.dueRenotifications(now: Fixture.now, limit: 100).isEmpty)
            // Noted ones follow their schedule; the others are due again once the lease ends.
            try await node.markNotified(id: "alert_0", sent: true, next: nil)
            let leaseEnd = Fixture.now.adding(milliseconds: PostgresStore.renotificationLease)
            #expect(try await node.dueRenotifications(now: leaseEnd.adding(milliseconds: -1), limit: 100).isEmpty)
            let again = try await other.dueRenotifications(now: leaseEnd, limit: 100)
            #expect(again.count == 39 && !again.contains { $0.0.id == "alert_0" })
            #expect(again.allSatisfy { $0.1 == 1 })
        }
    }

    @Test("Each operations table shows an organisation its own rows only, and refuses another's")
    func rowLevelSecurity() async throws {
        try await TestCluster.withStore(clock: Fixture.clock) { store, _ in
            let (theirs, _) = try await store.createOrganisation(name: "Theirs", actor: "cli")
            let (ours, _) = try await store.createOrganisation(name: "Ours", actor: "cli")
            let alert = Fixture.alert("alert_1", org: theirs.id)
            _ = try await store.recordAlerts([alert])
            try await store.createWebhook(
                Webhook(
                    id: "wh_1", orgId: theirs.id, url: "https://hooks.example", format: "json", createdAt: Fixture.now),
                secret: "secret", vault: Fixture.vault, actor: "key_b")
            try await store.enqueueDeliveries(alert: alert, deliveryKey: alert.id) { _ in "{}" }
            try await store.setPolicy(org: theirs.id, .defaults, actor: "key_b")
            try await store.recordBlock(
                AnomalyBlock(
                    id: "block_1", orgId: theirs.id, entity: "org", level: "block", reason: "spend",
                    createdAt: Fixture.now, until: nil))
            try await store.recordKeyModel(org: theirs.id, keyId: "key_1", model: "openai/gpt-4o", at: Fixture.now)
            try await store.putRoute(
                StoredRoute(orgId: theirs.id, name: "fast", definition: "{}", updatedAt: Fixture.now), actor: "key_b")
            let tables = [
                "alerts", "webhooks", "webhook_deliveries", "org_policies", "anomaly_blocks", "key_models", "routes",
            ]
            func count(_ table: String, as org: String) async throws -> Int64 {
                try await store.tenant(org) { connection in
                    var count: Int64 = 0
                    for try await value in try await connection.query(
                        PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table)"), logger: TestCluster.logger
                    ).decode(Int64.self) { count = value }
                    return count
                }
            }
            for table in tables {
                #expect(try await count(table, as: theirs.id) == 1, "\(table)")
                #expect(try await count(table, as: ours.id) == 0, "\(table)")
            }
            // Writing a row of another organisation is refused by the policy's check (insufficient_privilege).
            let refused = await #expect(throws: (any Error).self) {
                try await store.tenant(ours.id) { connection in
                    _ = try await connection.query(
                        """
                        INSERT INTO routes (org, name, definition, updated_at) VALUES (\(theirs.id), 'forged', '{}', 0)
                        """,
                        logger: TestCluster.logger)
                }
            }
            #expect(refused.flatMap(PostgresStore.sqlState(of:)) == "42501")
            // Statements without WHERE org change nothing of another organisation's.
            for table in tables {
                let touched = try await store.tenant(ours.id) { connection in
                    var touched = 0
                    for try await _ in try await connection.query(
                        PostgresQuery(unsafeSQL: "DELETE FROM \(table) RETURNING org"), logger: TestCluster.logger
                    ) { touched += 1 }
                    return touched
                }
                #expect(touched == 0, "\(table)")
                #expect(try await count(table, as: theirs.id) == 1, "\(table)")
            }
            let forced = try await store.tenant(ours.id) { connection in
                var count: Int64 = 0
                for try await value in try await connection.query(
                    """
                    SELECT count(*) FROM pg_class
                    WHERE relname = ANY(\(tables)) AND relrowsecurity AND relforcerowsecurity
                    """, logger: TestCluster.logger
                ).decode(Int64.self) { count = value }
                return count
            }
            #expect(forced == Int64(tables.count))
        }
    }
}

extension PolicyStore {
    /// Hourly totals of the organisation, its teams, users and keys since `from`, oldest first: what
    /// anomaly detection folds, gathered.
    fileprivate func hourlyTotals(org: String, from: Timestamp) async throws -> [HourlyTotals] {
        try await foldHourlyTotals(org: org, from: from, into: []) { $0.append($1) }.sorted { $0.hour < $1.hour }
    }
}
