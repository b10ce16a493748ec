import Logging
import MeterrCore
import PostgresNIO

/// One budget period a call's hold covers: the budget, the start of its current period, its limit.
public struct BudgetPeriodLimit: Sendable, Hashable {
    public var budgetId: String
    public var periodStart: Timestamp
    public var limit: Money
    /// What the ledger says the period had spent when this node loaded it: the period's counter
    /// starts from it when no node has counted the period yet.
    public var spentBefore: Money

    public init(budgetId: String, periodStart: Timestamp, limit: Money, spentBefore: Money = .zero) {
        self.budgetId = budgetId
        self.periodStart = periodStart
        self.limit = limit
        self.spentBefore = spentBefore
    }
}

/// What a hold request got: the hold, or the first budget (in id order) without room for it.
public enum BudgetHoldOutcome: Sendable, Hashable {
    case held(id: String)
    case refused(budgetId: String, room: Money)
}

/// Hard budgets exact across nodes: a call's worst-case cost is held against every budget that
/// covers it, all or none, in one transaction that locks the budgets' rows in id order (so nodes
/// never deadlock); the call's real cost then replaces the hold.
///
/// A hold whose node never settles it (the node died) is charged in full once it expires, on the
/// database's clock: money is never held for ever, and a dead node can never cause an overrun,
/// since until then the hold counts as spent.
extension PostgresStore {
    /// Holds `amount` against every budget in `budgets`, or none of them: one statement
    /// (`meterr_hold`), one round trip.
    public func hold(
        org: String, amount: Money, budgets: [BudgetPeriodLimit], ttl: Duration
    ) async throws -> BudgetHoldOutcome {
        let id = Identifier.make("hold", length: 20)
        guard !budgets.isEmpty else { return .held(id: id) }
        let ordered = budgets.sorted { ($0.budgetId, $0.periodStart) < ($1.budgetId, $1.periodStart) }
        let ttlMilliseconds = ttl.components.seconds * 1000 + ttl.components.attoseconds / 1_000_000_000_000_000
        let rows = try await client.query(
            """
            SELECT refused_budget, refused_room FROM meterr_hold(\(org), \(id), \(amount.nanos), \(ordered.map(\.budgetId)),
                \(ordered.map(\.periodStart.milliseconds)), \(ordered.map(\.limit.nanos)),
                \(ordered.map(\.spentBefore.nanos)), \(ttlMilliseconds))
            """, logger: logger)
        for try await (budget, room) in rows.decode((String, Int64).self) {
            return .refused(budgetId: budget, room: Money(nanos: room))
        }
        return .held(id: id)
    }

    /// Replaces a hold with the call's real cost, on every budget it was held against. A hold
    /// already charged (it expired first) is left as charged: its worst case stays spent.
    public func settle(org: String, holdId: String, actual: Money) async throws {
        try await client.query("SELECT meterr_settle(\(org), \(holdId), \(actual.nanos))", logger: logger)
    }

    /// Settles many holds, of any organisations, in one statement (`meterr_settle_many`).
    public func settle(_ holds: [(org: String, holdId: String, actual: Money)]) async throws {
        guard !holds.isEmpty else { return }
        try await client.query(
            """
            SELECT meterr_settle_many(\(holds.map(\.org)), \(holds.map(\.holdId)), \(holds.map(\.actual.nanos)))
            """, logger: logger)
    }

    /// Counts spend that held nothing (usage reported through the API) on budget periods already
    /// counted; a period no node has counted yet starts from the ledger, which has it.
    public func charge(org: String, amount: Money, budgets: [BudgetPeriodLimit]) async throws {
        guard amount.nanos != 0, !budgets.isEmpty else { return }
        let ordered = budgets.sorted { ($0.budgetId, $0.periodStart) < ($1.budgetId, $1.periodStart) }
        try await tenant(org) { connection in
            for budget in ordered {
                try await connection.query(
                    """
                    UPDATE budget_counters SET spent_nanos = spent_nanos + \(amount.nanos)
                    WHERE org = \(org) AND budget_id = \(budget.budgetId)
                        AND period_start = \(budget.periodStart.milliseconds)
                    """, logger: logger)
            }
        }
    }

    /// Gives a hold back: the call never reached the provider, so it cost nothing.
    public func release(org: String, holdId: String) async throws {
        try await settle(org: org, holdId: holdId, actual: .zero)
    }

    /// Charges every expired hold in full and removes it (all organisations, on the database's
    /// clock); returns how many it charged. Any node may run it at any time.
    @discardableResult
    public func chargeExpiredHolds() async throws -> Int {
        try await acrossOrganisations { connection in
            let rows = try await connection.query(
                """
                DELETE FROM budget_holds WHERE expires_at <= now()
                RETURNING org, budget_id, period_start, amount_nanos
                """, logger: logger)
            var charged: [String: (org: String, budget: String, period: Int64, amount: Int64)] = [:]
            var count = 0
            for try await (org, budget, period, amount) in rows.decode((String, String, Int64, Int64).self) {
                charged["\(org)\u{1F}\(budget)\u{1F}\(period)", default: (org, budget, period, 0)].amount += amount
                count += 1
            }
            // Counter rows in the order holds lock them, so the two never deadlock.
            for (org, budget, period, amount) in charged.values.sorted(by: {
                ($0.org, $0.budget, $0.period) < ($1.org, $1.budget, $1.period)
            }) {
                try await connection.query(
                    """
                    UPDATE budget_counters SET spent_nanos = spent_nanos + \(amount), held_nanos = held_nanos - \(amount)
                    WHERE org = \(org) AND budget_id = \(budget) AND period_start = \(period)
                    """, logger: logger)
            }
            return count
        }
    }

    /// A budget period's spend and what calls in flight hold against it.
    public func budgetUse(org: String, budgetId: String, periodStart: Timestamp) async throws
        -> (spent: Money, held: Money)
    {
        try await tenant(org) { connection in
            let rows = try await connection.query(
                """
                SELECT coalesce(max(spent_nanos), 0)::bigint, coalesce(max(held_nanos), 0)::bigint FROM budget_counters
                WHERE org = \(org) AND budget_id = \(budgetId) AND period_start = \(periodStart.milliseconds)
                """, logger: logger)
            var use = (spent: Money.zero, held: Money.zero)
            for try await (spent, held) in rows.decode((Int64, Int64).self) {
                use = (Money(nanos: spent), Money(nanos: held))
            }
            return use
        }
    }
}
