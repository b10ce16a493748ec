import Foundation
import MeterrCore
import MeterrStore
import MeterrTestSupport
import Synchronization
import Testing

@testable import MeterrServer

@Suite("The budget guard's reloads")
struct BudgetReloadTests {
    @Test("A reload that read the store first and finishes last does not drop a budget a later reload loaded")
    func reloadsKeepTheLatestRead() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meterr-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let inner = try SQLiteStore(directory: directory.path)
        let (organisation, _) = try await inner.createOrganisation(name: "acme", actor: "test")
        let now = try #require(Timestamp(rfc3339: ordinaryMoment))
        func budget(_ id: String) -> Budget {
            Budget(
                id: id, orgId: organisation.id, name: id, scope: .organisation, period: .month, timeZone: "UTC",
                limit: Money(nanos: 1_000_000_000), hard: true, thresholds: [100], createdAt: now)
        }
        _ = try await inner.createBudget(budget("bud_a"), actor: "test")
        let store = HeldBudgetStore(inner: inner)
        let guardian = BudgetGuard(store: store, clock: ManualClock(ordinaryMoment).clock)

        // The first reload reads [a], then is held before it applies what it read.
        let first = Task { try await guardian.reload() }
        await store.waitUntilHeld()
        // Meanwhile b is created; its own reload reads [a, b], and b's state is loaded.
        _ = try await inner.createBudget(budget("bud_b"), actor: "test")
        try await guardian.reload()
        let loaded = try await guardian.status(budget("bud_b"), now: now)
        #expect(loaded.periodStart == now.monthStart)
        // The first reload finishes last.
        store.release()
        try await first.value

        #expect(guardian.budgetCount(org: organisation.id) == 2, "the older read does not replace the newer")
        let event = UsageEvent(id: "e", ts: now, org: organisation.id, provider: .openai, model: "m", usage: Usage())
        #expect(Set(guardian.budgets(for: event).map(\.id)) == ["bud_a", "bud_b"], "b is enforced")
        #expect(try await guardian.status(budget("bud_b"), now: now).periodStart == now.monthStart)
    }
}

/// A budget store whose first `allBudgets` reads the store, then waits for `release` before it returns:
/// a reload held between its read and its use of what it read.
private final class HeldBudgetStore: BudgetStore, Sendable {
    let inner: SQLiteStore
    private let gate = Mutex((calls: 0, held: false, released: false))

    init(inner: SQLiteStore) { self.inner = inner }

    func allBudgets() async throws -> [Budget] {
        let all = try await inner.allBudgets()
        let first = gate.withLock { gate in
            gate.calls += 1
            if gate.calls == 1 { gate.held = true }
            return gate.calls == 1
        }
        if first { while !gate.withLock({ $0.released }) { try await Task.sleep(for: .milliseconds(5)) } }
        return all
    }

    func waitUntilHeld() async {
        while !gate.withLock({ $0.held }) { try? await Task.sleep(for: .milliseconds(5)) }
    }

    func release() { gate.withLock { $0.released = true } }

    func createBudget(_ budget: Budget, actor: String) async throws -> Budget {
        try await inner.createBudget(budget, actor: actor)
    }
    func budgets(org: String) async throws -> [Budget] { try await inner.budgets(org: org) }
    func updateBudget(_ budget: Budget, actor: String) async throws -> Bool {
        try await inner.updateBudget(budget, actor: actor)
    }
    func deleteBudget(org: String, id: String, actor: String) async throws -> Bool {
        try await inner.deleteBudget(org: org, id: id, actor: actor)
    }
    func spend(org: String, scope: BudgetScope, from: Timestamp, to: Timestamp) async throws -> Money {
        try await inner.spend(org: org, scope: scope, from: from, to: to)
    }
    func unpricedUsage(org: String, scope: BudgetScope, from: Timestamp, to: Timestamp) async throws -> (
        requests: Int, tokens: Int
    ) {
        try await inner.unpricedUsage(org: org, scope: scope, from: from, to: to)
    }
    func unpricedUsage(org: String, of periods: [BudgetPeriodScope]) async throws -> [(requests: Int, tokens: Int)] {
        try await inner.unpricedUsage(org: org, of: periods)
    }
    func hourlySpend(org: String, scope: BudgetScope, from: Timestamp, to: Timestamp) async throws -> [Int64: Int64] {
        try await inner.hourlySpend(org: org, scope: scope, from: from, to: to)
    }
    func recordClosedPeriods(_ periods: [ClosedPeriod]) async throws { try await inner.recordClosedPeriods(periods) }
    func closedPeriods(budgetId: String, limit: Int) async throws -> [ClosedPeriod] {
        try await inner.closedPeriods(budgetId: budgetId, limit: limit)
    }
}
