import Logging
import MeterrCore
import MeterrStore
import PostgresNIO

extension PostgresStore: BudgetStore {
    static let budgetColumns =
        "id, org, name, scope, scope_value, period, time_zone, limit_nanos, hard, thresholds, created_at, baseline_at"

    static func budget(_ row: PostgresRow) throws -> Budget? {
        let (id, org, name, kind, value, periodName, timeZone, limit, hard, thresholds, createdAt, baselineAt) =
            try row.decode(
                (String, String, String, String, String, String, String, Int64, Bool, String, Int64, Int64?).self)
        guard let scope = BudgetScope(kind: kind, value: value), let period = BudgetPeriod(storageName: periodName)
        else { return nil }
        return Budget(
            id: id, orgId: org, name: name, scope: scope, period: period, timeZone: timeZone,
            limit: Money(nanos: limit), hard: hard, thresholds: thresholds.split(separator: ",").compactMap { Int($0) },
            createdAt: Timestamp(milliseconds: createdAt), baselineAt: baselineAt.map(Timestamp.init(milliseconds:)))
    }

    public func createBudget(_ budget: Budget, actor: String) async throws -> Budget {
        _ = try SQLiteStore.checkedName(budget.name, field: "name")
        return try await tenant(budget.orgId) { connection in
            try await requireBudgetOwner(budget.orgId, on: connection)
            do {
                try await connection.query(
                    """
                    INSERT INTO budgets (\(unescaped: Self.budgetColumns))
                    VALUES (\(budget.id), \(budget.orgId), \(budget.name), \(budget.scope.kind), \(budget.scope.value),
                        \(budget.period.storageName), \(budget.timeZone), \(budget.limit.nanos), \(budget.hard),
                        \(budget.thresholds.map(String.init).joined(separator: ",")), \(budget.createdAt.milliseconds),
                        \(budget.baselineAt.milliseconds))
                    """, logger: logger)
            } catch  where Self.sqlState(of: error) == "23505" {
                // A budget id already taken: SQLite answers with its write failure too.
                throw MeterrError(.storage, "the database could not be written", underlying: error)
            }
            try await log(
                on: connection, org: budget.orgId, actor: actor, action: "budget.create", target: budget.id,
                detail: SQLiteStore.describe(budget))
            return budget
        }
    }

    public func updateBudget(_ budget: Budget, actor: String) async throws -> Bool {
        _ = try SQLiteStore.checkedName(budget.name, field: "name")
        return try await tenant(budget.orgId) { connection in
            let rows = try await connection.query(
                """
                UPDATE budgets SET name = \(budget.name), scope = \(budget.scope.kind),
                    scope_value = \(budget.scope.value), period = \(budget.period.storageName),
                    time_zone = \(budget.timeZone), limit_nanos = \(budget.limit.nanos), hard = \(budget.hard),
                    thresholds = \(budget.thresholds.map(String.init).joined(separator: ",")),
                    baseline_at = \(budget.baselineAt.milliseconds)
                WHERE org = \(budget.orgId) AND id = \(budget.id) RETURNING id
                """, logger: logger)
            guard try await Self.count(rows) > 0 else { return false }
            try await log(
                on: connection, org: budget.orgId, actor: actor, action: "budget.update", target: budget.id,
                detail: SQLiteStore.describe(budget))
            return true
        }
    }

    public func budgets(org: String) async throws -> [Budget] {
        try await tenant(org) { connection in
            var budgets: [Budget] = []
            for try await row in try await connection.query(
                "SELECT \(unescaped: Self.budgetColumns) FROM budgets WHERE org = \(org) ORDER BY created_at, seq",
                logger: logger)
            {
                if let budget = try Self.budget(row) { budgets.append(budget) }
            }
            return budgets
        }
    }

    public func allBudgets() async throws -> [Budget] {
        try await acrossOrganisations { connection in
            var budgets: [Budget] = []
            for try await row in try await connection.query(
                "SELECT \(unescaped: Self.budgetColumns) FROM budgets ORDER BY seq", logger: logger)
            {
                if let budget = try Self.budget(row) { budgets.append(budget) }
            }
            return budgets
        }
    }

    public func deleteBudget(org: String, id: String, actor: String) async throws -> Bool {
        try await tenant(org) { connection in
            let rows = try await connection.query(
                "DELETE FROM budgets WHERE org = \(org) AND id = \(id) RETURNING id", logger: logger)
            guard try await Self.count(rows) > 0 else { return false }
            try await log(on: connection, org: org, actor: actor, action: "budget.delete", target: id, detail: nil)
            return true
        }
    }

    public func spend(org: String, scope: BudgetScope, from: Timestamp, to: Timestamp) async throws -> Money {
        // Exact to the millisecond: the rollups for the whole hours, the events for the rest (`RollupPlan`).
        Money(nanos: try await totals(org: org, of: [BudgetPeriodScope(scope: scope, from: from, to: to)])[0].costNanos)
    }

    /// The calls without a price in `[from, to)` that a scope covers, and their tokens: read as
    /// `RollupPlan`s, from the rollups but for the part-hours at the edges and tag scopes.
    public func unpricedUsage(org: String, scope: BudgetScope, from: Timestamp, to: Timestamp) async throws -> (
        requests: Int, tokens: Int
    ) {
        try await unpricedUsage(org: org, of: [BudgetPeriodScope(scope: scope, from: from, to: to)])[0]
    }

    /// Each period's unpriced calls and tokens, on one connection.
    public func unpricedUsage(org: String, of periods: [BudgetPeriodScope]) async throws -> [(
        requests: Int, tokens: Int
    )] {
        try await totals(org: org, of: periods).map { ($0.unpricedRequests, $0.unpricedTokens) }
    }

    /// Each period's cost, and its calls without a price with their tokens, on one connection.
    private func totals(org: String, of periods: [BudgetPeriodScope]) async throws -> [(
        costNanos: Int64, unpricedRequests: Int, unpricedTokens: Int
    )] {
        if periods.isEmpty { return [] }
        let queries = try periods.map { try Self.totalsQueries(org: org, $0) }
        return try await tenant(org) { connection in
            var totals: [(costNanos: Int64, unpricedRequests: Int, unpricedTokens: Int)] = []
            for period in queries {
                var sum = (costNanos: Int64(0), unpricedRequests: 0, unpricedTokens: 0)
                for query in period {
                    for try await (cost, requests, tokens) in try await connection.query(query, logger: logger).decode(
                        (Int64, Int64, Int64).self)
                    {
                        sum.costNanos += cost
                        sum.unpricedRequests += Int(requests)
                        sum.unpricedTokens += Int(tokens)
                    }
                }
                totals.append(sum)
            }
            return totals
        }
    }

    /// The queries whose rows add up to a period's cost, unpriced calls and their tokens.
    private static func totalsQueries(org: String, _ period: BudgetPeriodScope) throws -> [PostgresQuery] {
        let plan = RollupPlan(scope: period.scope, from: period.from, to: period.to)
        var queries = try plan.edges.map {
            try spendQuery(
                """
                SELECT coalesce(sum(cost_nanos), 0)::bigint, count(*) FILTER (WHERE cost_nanos IS NULL),
                    coalesce(sum(input_tokens + output_tokens) FILTER (WHERE cost_nanos IS NULL), 0)::bigint
                FROM usage_events
                """, org: org, scope: period.scope, from: $0.from, to: $0.to)
        }
        if let (dimension, value) = plan.rollup {
            for (grain, start, end) in plan.ranges {
                // The rollups' key is (org, grain, dim, bucket, value): a range of buckets holds every value of
                // the dimension (every user, say). The buckets are looked up one by one with the value, so a
                // user's budget reads its own rows, not all users'.
                let buckets: [Int64] = Array(stride(from: start, to: end, by: Int(grain.milliseconds)))
                queries.append(
                    """
                    SELECT coalesce(sum(cost_nanos), 0)::bigint, coalesce(sum(unpriced_requests), 0)::bigint,
                        coalesce(sum(unpriced_tokens), 0)::bigint
                    FROM usage_rollups
                    WHERE org = \(org) AND grain = \(Int64(grain.rawValue))::smallint
                        AND dim = \(Int64(dimension.rawValue))::smallint AND bucket = ANY(\(buckets)) AND value = \(value)
                    """)
            }
        }
        return queries
    }

    public func hourlySpend(org: String, scope: BudgetScope, from: Timestamp, to: Timestamp) async throws
        -> [Int64: Int64]
    {
        let query = try Self.spendQuery(
            "SELECT ts - ts % 3600000 AS hour, sum(cost_nanos)::bigint FROM usage_events", org: org, scope: scope,
            from: from, to: to, suffix: " GROUP BY hour")
        return try await tenant(org) { connection in
            var hours: [Int64: Int64] = [:]
            for try await (hour, spent) in try await connection.query(query, logger: logger).decode(
                (Int64, Int64?).self)
            {
                hours[hour] = spent ?? 0
            }
            return hours
        }
    }

    /// `select` over the events in `[from, to)` that a scope covers, then `suffix`.
    static func spendQuery(
        _ select: String, org: String, scope: BudgetScope, from: Timestamp, to: Timestamp, suffix: String = ""
    ) throws -> PostgresQuery {
        var binds = PostgresBindings()
        func parameter(_ value: some PostgresThrowingDynamicTypeEncodable) throws -> String {
            try binds.append(value)
            return "$\(binds.count)"
        }
        var sql =
            select + " WHERE org = \(try parameter(org)) AND ts >= \(try parameter(from.milliseconds))"
            + " AND ts < \(try parameter(to.milliseconds))"
        switch scope {
        case .organisation: break
        case .team(let value): sql += " AND team = " + (try parameter(value))
        case .user(let value): sql += " AND \"user\" = " + (try parameter(value))
        case .project(let value): sql += " AND project = " + (try parameter(value))
        case .key(let value): sql += " AND key_id = " + (try parameter(value))
        case .tag(let key, let value): sql += " AND tags ->> \(try parameter(key)) = \(try parameter(value))"
        }
        return PostgresQuery(unsafeSQL: sql + suffix, binds: binds)
    }

    public func recordClosedPeriods(_ periods: [ClosedPeriod]) async throws {
        if periods.isEmpty { return }
        // Periods of any organisation's budgets; each row takes its budget's organisation, and rows
        // are written in key order (the first of duplicates wins), so nodes recording the same
        // periods at once never deadlock.
        let budgetIds = periods.map(\.budgetId)
        let starts = periods.map(\.start.milliseconds)
        let ends = periods.map(\.end.milliseconds)
        let names = periods.map(\.period)
        let limits = periods.map(\.limit.nanos)
        let spent = periods.map(\.spent.nanos)
        let reasons = periods.map(\.reason)
        try await acrossOrganisations { connection -> Void in
            try await connection.query(
                """
                INSERT INTO budget_history
                    (org, budget_id, period_start, period_end, period, limit_nanos, spent_nanos, reason)
                SELECT b.org, p.budget_id, p.period_start, p.period_end, p.period, p.limit_nanos, p.spent_nanos, p.reason
                FROM unnest(\(budgetIds)::text[], \(starts)::int8[], \(ends)::int8[], \(names)::text[],
                    \(limits)::int8[], \(spent)::int8[], \(reasons)::text[])
                    WITH ORDINALITY
                    AS p (budget_id, period_start, period_end, period, limit_nanos, spent_nanos, reason, n)
                JOIN budgets b ON b.id = p.budget_id
                ORDER BY p.budget_id, p.period_start, p.period_end, p.n
                ON CONFLICT (budget_id, period_start, period_end) DO NOTHING
                """, logger: logger)
        }
    }

    public func closedPeriods(budgetId: String, limit: Int) async throws -> [ClosedPeriod] {
        try await acrossOrganisations { connection in
            let rows = try await connection.query(
                """
                SELECT budget_id, period_start, period_end, period, limit_nanos, spent_nanos, reason FROM budget_history
                WHERE budget_id = \(budgetId) ORDER BY period_start DESC LIMIT \(Int64(limit))
                """, logger: logger)
            var periods: [ClosedPeriod] = []
            for try await (budget, start, end, period, limit, spent, reason) in rows.decode(
                (String, Int64, Int64, String, Int64, Int64, String).self)
            {
                periods.append(
                    ClosedPeriod(
                        budgetId: budget, start: Timestamp(milliseconds: start), end: Timestamp(milliseconds: end),
                        period: period, limit: Money(nanos: limit), spent: Money(nanos: spent), reason: reason))
            }
            return periods
        }
    }

    /// How many rows a statement returned (those of `RETURNING`), read to the end.
    static func count(_ rows: PostgresRowSequence) async throws -> Int {
        var count = 0
        for try await _ in rows { count += 1 }
        return count
    }

    /// Throws SQLite's error for an organisation that does not exist (or that the transaction cannot see).
    private func requireBudgetOwner(_ org: String, on connection: PostgresConnection) async throws {
        let rows = try await connection.query(
            "SELECT EXISTS (SELECT 1 FROM organisations WHERE org = \(org))", logger: logger)
        var exists = false
        for try await value in rows.decode(Bool.self) { exists = value }
        guard exists else { throw MeterrError(.notFound, "no such organisation", field: "org") }
    }
}
