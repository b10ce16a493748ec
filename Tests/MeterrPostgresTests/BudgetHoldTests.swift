import Foundation
import MeterrCore
import PostgresNIO
import Testing

@testable import MeterrPostgres

@Suite("PostgreSQL: hard budgets exact across nodes", .enabled(if: TestCluster.unavailable == nil))
struct BudgetHoldTests {
    static let period = Timestamp(rfc3339: "2026-12-01T00:00:00Z")!

    @Test("300 calls spread over three nodes at once never overrun a hard budget; later calls fill it exactly")
    func threeNodes() async throws {
        try await TestCluster.withDatabase { ownerURL in
            let url = try DatabaseURL(ownerURL)
            var nodes: [PostgresStore] = []
            for _ in 0..<3 { nodes.append(try await PostgresStore(url: url, logger: TestCluster.logger)) }
            defer { nodes.forEach { $0.close() } }
            // Each call may cost at most 0.05 and costs 0.03; the team's budget (0.60) and the
            // organisation's (1.00) both cover it.
            let budgets = [
                BudgetPeriodLimit(budgetId: "bud_team", periodStart: Self.period, limit: Money(nanos: 600_000_000)),
                BudgetPeriodLimit(budgetId: "bud_org", periodStart: Self.period, limit: Money(nanos: 1_000_000_000)),
            ]
            let worst = Money(nanos: 50_000_000)
            let actual = Money(nanos: 30_000_000)
            let admitted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for call in 0..<300 {
                    let node = nodes[call % 3]
                    group.addTask {
                        switch try await node.hold(org: "org_a", amount: worst, budgets: budgets, ttl: .seconds(300)) {
                        case .held(let id):
                            try await node.settle(org: "org_a", holdId: id, actual: actual)
                            return true
                        case .refused(let budget, _):
                            #expect(budget == "bud_team")
                            return false
                        }
                    }
                }
                var admitted = 0
                for try await held in group where held { admitted += 1 }
                return admitted
            }
            // At least the 12 worst cases that fit at once were admitted, and never more than fit.
            #expect((12...19).contains(admitted), "\(admitted) admitted at once")
            // Calls one after another then fill it: 19 × 0.03 = 0.57, since a 20th could cost 0.05.
            var total = admitted
            while case .held(let id) = try await nodes[total % 3].hold(
                org: "org_a", amount: worst, budgets: budgets, ttl: .seconds(300))
            {
                try await nodes[total % 3].settle(org: "org_a", holdId: id, actual: actual)
                total += 1
            }
            #expect(total == 19)
            let team = try await nodes[0].budgetUse(org: "org_a", budgetId: "bud_team", periodStart: Self.period)
            let org = try await nodes[1].budgetUse(org: "org_a", budgetId: "bud_org", periodStart: Self.period)
            #expect(team.held == .zero && org.held == .zero)
            #expect(team.spent == Money(nanos: 570_000_000))
            #expect(org.spent == team.spent)
        }
    }

    @Test("A hold its node never settles is charged in full once it expires; a released one costs nothing")
    func deadNode() async throws {
        try await TestCluster.withStore { store, _ in
            let budget = [BudgetPeriodLimit(budgetId: "bud_a", periodStart: Self.period, limit: Money(nanos: 100))]
            // A node takes a hold and dies: the hold already expired on the database's clock.
            guard case .held = try await store.hold(org: "org_a", amount: Money(nanos: 60), budgets: budget, ttl: .zero)
            else { Issue.record("no hold"); return }
            // Until it is charged it still counts: a second call of 60 does not fit.
            #expect(
                try await store.hold(org: "org_a", amount: Money(nanos: 60), budgets: budget, ttl: .seconds(60))
                    == .refused(budgetId: "bud_a", room: Money(nanos: 40)))
            #expect(try await store.chargeExpiredHolds() == 1)
            let use = try await store.budgetUse(org: "org_a", budgetId: "bud_a", periodStart: Self.period)
            #expect(use.spent == Money(nanos: 60) && use.held == .zero)
            // A call that never reached the provider gives its hold back.
            guard
                case .held(let id) = try await store.hold(
                    org: "org_a", amount: Money(nanos: 40), budgets: budget, ttl: .seconds(60))
            else { Issue.record("no hold"); return }
            try await store.release(org: "org_a", holdId: id)
            #expect(
                try await store.budgetUse(org: "org_a", budgetId: "bud_a", periodStart: Self.period).spent
                    == Money(nanos: 60))
            // Another organisation's budget of the same id is its own.
            #expect(
                try await store.hold(org: "org_b", amount: Money(nanos: 100), budgets: budget, ttl: .seconds(60))
                    != .refused(budgetId: "bud_a", room: .zero))
        }
    }

    @Test(
        "Holds of several organisations and budgets settle together in one statement, each on its own counters",
        .disabled(if: TestCluster.unavailable != nil, "\(TestCluster.unavailable ?? "")"))
    func settleMany() async throws {
        try await TestCluster.withStore { store, _ in
            let both = [
                BudgetPeriodLimit(budgetId: "bud_org", periodStart: Self.period, limit: Money(nanos: 1_000)),
                BudgetPeriodLimit(budgetId: "bud_team", periodStart: Self.period, limit: Money(nanos: 500)),
            ]
            var holds: [(org: String, holdId: String, actual: Money)] = []
            for (org, amount, actual) in [("org_a", 100, 70), ("org_a", 200, 0), ("org_b", 300, 310)] {
                guard
                    case .held(let id) = try await store.hold(
                        org: org, amount: Money(nanos: Int64(amount)), budgets: both, ttl: .seconds(60))
                else { Issue.record("no hold"); return }
                holds.append((org, id, Money(nanos: Int64(actual))))
            }
            try await store.settle(holds)
            try await store.settle(holds)  // settled already: nothing more
            for budget in ["bud_org", "bud_team"] {
                let a = try await store.budgetUse(org: "org_a", budgetId: budget, periodStart: Self.period)
                let b = try await store.budgetUse(org: "org_b", budgetId: budget, periodStart: Self.period)
                #expect(a.spent == Money(nanos: 70) && a.held == .zero)
                #expect(b.spent == Money(nanos: 310) && b.held == .zero)
            }
        }
    }
}
