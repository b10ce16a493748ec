import Foundation
import MeterrCore
import MeterrStore
import Testing

@testable import MeterrPostgres

/// A person's erasure and export, the same on every database.
@Suite("A person's data (GDPR) on SQLite and PostgreSQL")
struct PrivacyConformanceTests {
    typealias Store = any AccountStore & UserStore & UsageLedger & BudgetStore

    static func at(_ text: String) -> Timestamp { Timestamp(rfc3339: text)! }

    static func event(_ id: String, org: String, at time: String, user: String, team: String, cost: Int64)
        -> UsageEvent
    {
        UsageEvent(
            id: id, ts: at(time), org: org, team: team, user: user, keyId: "key_1", tags: ["owner": user],
            provider: .openai, model: "gpt-4o", usage: Usage(inputTokens: 10, outputTokens: 1),
            cost: Money(nanos: cost), status: 200)
    }

    @Test(
        "Forgetting a person keeps every total and replaces them in events, tags, rollups, keys and budgets",
        arguments: StoreDatabase.available)
    func forget(_ database: StoreDatabase) async throws {
        try await database.withStore(as: Store.self) { store in
            let org = try await store.bootstrap(adminKey: nil).organisation.id
            let email = "ada.lovelace@example.com"
            let person = try await store.createUser(
                org: org, email: email, name: "Ada", role: .member, team: nil, passwordHash: nil, actor: "test")
            _ = try await store.createKey(
                org: org, KeyRequest(name: "ada-key", scopes: .ingest, user: email), actor: "test")
            _ = try await store.createBudget(
                Budget(
                    id: "bud_ada", orgId: org, name: "Ada's", scope: .user(email), period: .month, timeZone: "UTC",
                    limit: Money(nanos: 1_000_000), hard: false, thresholds: [],
                    createdAt: Self.at("2026-11-01T00:00:00Z")),
                actor: "test")
            var events = (0..<4).map {
                Self.event("f\($0)", org: org, at: "2026-11-10T12:00:00Z", user: email, team: "ml", cost: 3)
            }
            events += (0..<2).map {
                Self.event("g\($0)", org: org, at: "2026-11-11T12:00:00Z", user: person.id, team: "ml", cost: 5)
            }
            events += [Self.event("h0", org: org, at: "2026-11-11T12:00:00Z", user: "grace", team: "ml", cost: 11)]
            _ = try await store.append(events)
            let (from, to) = (Self.at("2026-11-01T00:00:00Z"), Self.at("2026-12-01T00:00:00Z"))
            let before = try await store.summary(org: org, groupBy: .user, from: from, to: to)

            let export = try await store.exportPerson(org: org, person: email, actor: "test")
            let exported = try #require(try JSONSerialization.jsonObject(with: Data(export)) as? [String: Any])
            #expect((exported["events"] as? [Any])?.count == 6)
            #expect((exported["keys"] as? [Any])?.count == 1)
            #expect((exported["budgets"] as? [Any])?.count == 1)
            #expect((exported["account"] as? [String: Any])?["email"] as? String == email)

            let result = try await store.forgetPerson(org: org, person: email, actor: "test")
            #expect(result.accountDeleted && result.events == 6 && result.keys == 1)
            let after = try await store.summary(org: org, groupBy: .user, from: from, to: to)
            #expect(after.totals == before.totals)
            let groups = Dictionary(uniqueKeysWithValues: after.groups.map { ($0.value ?? "", $0.totals) })
            #expect(Set(groups.keys) == [result.token, "grace"])
            #expect(groups[result.token]?.requests == 6)
            #expect(groups[result.token]?.pricedCost == Money(nanos: 4 * 3 + 2 * 5))
            let page = try await store.events(org: org, filter: EventFilter(), limit: 10, cursor: nil)
            for event in page.events where event.id != "h0" {
                #expect(event.user == result.token && event.tags["owner"] == result.token)
            }
            #expect(try await store.users(org: org).isEmpty)
            #expect(try await store.keys(org: org).first { $0.name == "ada-key" }?.user == result.token)
            #expect(try await store.budgets(org: org).first?.scope == .user(result.token))

            await #expect(throws: MeterrError.self) {
                try await store.forgetPerson(org: org, person: email, actor: "t")
            }
            await #expect(throws: MeterrError.self) {
                try await store.exportPerson(org: org, person: email, actor: "t")
            }
            let audit = try await store.audit(org: org, limit: 20)
            #expect(audit.contains { $0.action == "user.forget" && $0.target == result.token })
            #expect(audit.contains { $0.action == "user.export" })
        }
    }
}
