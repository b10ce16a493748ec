import MeterrCore
import Testing

@testable import MeterrServer

@Suite("Budget leases of a node")
struct BudgetLeaseTests {
    static let period = Timestamp(rfc3339: "2026-12-01T00:00:00Z")!

    func lease(_ id: String, budget: String, granted: Int64) -> BudgetLeases.Lease {
        BudgetLeases.Lease(id: id, org: "org_a", budgetId: budget, periodStart: Self.period, granted: granted)
    }

    @Test("Calls take their worst case from every budget's lease, all or none, and give back what they did not spend")
    func takeAndGive() throws {
        let leases = BudgetLeases()
        let both = [(id: "bud_org", periodStart: Self.period), (id: "bud_team", periodStart: Self.period)]
        guard case .failure(let lacking) = leases.take(both, org: "org_a", amount: 10) else {
            Issue.record("took from no lease")
            return
        }
        #expect(lacking.budgets == ["bud_org", "bud_team"])
        #expect(leases.install(lease("l1", budget: "bud_org", granted: 100)) == nil)
        #expect(leases.install(lease("l2", budget: "bud_team", granted: 25)) == nil)
        let first = try leases.take(both, org: "org_a", amount: 10).get()
        let second = try leases.take(both, org: "org_a", amount: 10).get()
        // The team's lease has 5 left: a third call takes nothing from either.
        guard case .failure(let short) = leases.take(both, org: "org_a", amount: 10) else {
            Issue.record("overdrew a lease")
            return
        }
        #expect(short.budgets == ["bud_team"])
        // Another organisation's budget of the same id, or another period, is not this lease.
        #expect((try? leases.take([(id: "bud_org", periodStart: Self.period)], org: "org_b", amount: 1).get()) == nil)
        #expect(leases.give(first, cost: 4).isEmpty)
        // 25 - 10 in flight - 4 spent: room for one more call of 10.
        let third = try leases.take(both, org: "org_a", amount: 10).get()
        #expect(third.map(\.leaseId) == ["l1", "l2"])
        // A new lease replaces the team's: the old one is settled once its last call ends, with what
        // its calls spent.
        #expect(leases.install(lease("l3", budget: "bud_team", granted: 50)) == nil, "two calls still run on it")
        #expect(leases.give(second, cost: 7).isEmpty)
        let settled = leases.give(third, cost: 1)
        #expect(settled.map(\.id) == ["l2"] && settled.first?.spent == 12)
        // Retiring hands back the leases no call runs on.
        #expect(Set(leases.retire(takenBefore: .now + .seconds(1)).map(\.id)) == ["l1", "l3"])
    }
}
