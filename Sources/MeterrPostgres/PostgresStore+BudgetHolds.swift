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
    /// Holds `amount` against every budget in `budgets`, or none of them.
    public func hold(
        org: String, amount: Money, budgets: [BudgetPeriodLimit], ttl: Duration
    ) async throws -> BudgetHoldOutcome {
        let id = Identifier.make("hold", length: 20)
        guard !budgets.isEmpty else { return .held(id: id) }
        let ordered = budgets.sorted { ($0.budgetId, $0.periodStart) < ($1.budgetId, $1.periodStart) }
        let ttlMilliseconds = ttl.components.seconds * 1000 + ttl.components.attoseconds / 1_000_000_000_000_000
        return try await tenant(org) { connection in
            for budget in ordered {
                // The row lock of the upsert is held to the transaction's end: budgets in id order.
                try await connection.query(
                    """
                    INSERT INTO budget_counters (org, budget_id, period_start, limit_nanos, spent_nanos)
                    VALUES (\(org), \(budget.budgetId), \(budget.periodStart.milliseconds), \(budget.limit.nanos),
                        \(budget.spentBefore.nanos))
                    ON CONFLICT (org, budget_id, period_start) DO UPDATE SET limit_nanos = excluded.limit_nanos
                    """, logger: logger)
            }
            for budget in ordered {
                let room = try await Self.room(
                    org: org, budget: budget.budgetId, periodStart: budget.periodStart.milliseconds, on: connection,
                    logger: logger)
                if room < amount.nanos {
                    // Nothing was held: the transaction only made sure the counters exist.
                    return .refused(budgetId: budget.budgetId, room: Money(nanos: room))
                }
            }
            for budget in ordered {
                try await connection.query(
                    """
                    INSERT INTO budget_holds (org, hold_id, budget_id, period_start, amount_nanos, expires_at)
                    VALUES (\(org), \(id), \(budget.budgetId), \(budget.periodStart.milliseconds), \(amount.nanos),
                        now() + \(ttlMilliseconds) * interval '1 millisecond')
                    """, logger: logger)
            }
            return .held(id: id)
        }
    }

    /// Replaces a hold with the call's real cost, on every budget it was held against. A hold
    /// already charged (it expired first) is left as charged: its worst case stays spent.
    public func settle(org: String, holdId: String, actual: Money) async throws {
        try await tenant(org) { connection in
            let rows = try await connection.query(
                """
                DELETE FROM budget_holds WHERE org = \(org) AND hold_id = \(holdId)
                RETURNING budget_id, period_start
                """, logger: logger)
            var held: [(String, Int64)] = []
            for try await row in rows.decode((String, Int64).self) { held.append(row) }
            for (budget, period) in held.sorted(by: { ($0.0, $0.1) < ($1.0, $1.1) }) {
                try await connection.query(
                    """
                    UPDATE budget_counters SET spent_nanos = spent_nanos + \(actual.nanos)
                    WHERE org = \(org) AND budget_id = \(budget) AND period_start = \(period)
                    """, logger: logger)
            }
        }
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
                WITH expired AS (
                    DELETE FROM budget_holds WHERE expires_at <= now()
                    RETURNING org, budget_id, period_start, amount_nanos
                ), sums AS (
                    SELECT org, budget_id, period_start, sum(amount_nanos) AS amount, count(*) AS holds
                    FROM expired GROUP BY org, budget_id, period_start
                ), charged AS (
                    UPDATE budget_counters c SET spent_nanos = c.spent_nanos + s.amount FROM sums s
                    WHERE c.org = s.org AND c.budget_id = s.budget_id AND c.period_start = s.period_start
                    RETURNING s.holds
                )
                SELECT coalesce(sum(holds), 0)::bigint FROM charged
                """, logger: logger)
            var charged: Int64 = 0
            for try await count in rows.decode(Int64.self) { charged = count }
            return Int(charged)
        }
    }

    /// A budget period's spend and what calls in flight hold against it.
    public func budgetUse(org: String, budgetId: String, periodStart: Timestamp) async throws
        -> (spent: Money, held: Money)
    {
        try await tenant(org) { connection in
            let rows = try await connection.query(
                """
                SELECT coalesce((SELECT spent_nanos FROM budget_counters
                        WHERE org = \(org) AND budget_id = \(budgetId) AND period_start = \(periodStart.milliseconds)), 0),
                    coalesce((SELECT sum(amount_nanos) FROM budget_holds
                        WHERE org = \(org) AND budget_id = \(budgetId) AND period_start = \(periodStart.milliseconds)), 0)::bigint
                """, logger: logger)
            var use = (spent: Money.zero, held: Money.zero)
            for try await (spent, held) in rows.decode((Int64, Int64).self) {
                use = (Money(nanos: spent), Money(nanos: held))
            }
            return use
        }
    }

    /// The room left in a budget period: its limit less what is spent and every hold on it
    /// (expired holds too: they are charged, not forgotten).
    static func room(
        org: String, budget: String, periodStart: Int64, on connection: PostgresConnection, logger: Logger
    ) async throws -> Int64 {
        let rows = try await connection.query(
            """
            SELECT c.limit_nanos - c.spent_nanos - coalesce((SELECT sum(h.amount_nanos) FROM budget_holds h
                WHERE h.org = c.org AND h.budget_id = c.budget_id AND h.period_start = c.period_start), 0)::bigint
            FROM budget_counters c WHERE c.org = \(org) AND c.budget_id = \(budget) AND c.period_start = \(periodStart)
            """, logger: logger)
        var room: Int64 = 0
        for try await value in rows.decode(Int64.self) { room = value }
        return room
    }
}
