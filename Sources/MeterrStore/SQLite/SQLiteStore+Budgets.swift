import Foundation
import GRDB
import MeterrCore

extension SQLiteStore: BudgetStore {
    static func budget(_ row: Row) -> Budget? {
        guard let scope = BudgetScope(kind: row[3], value: row[4]), let period = BudgetPeriod(storageName: row[5])
        else { return nil }
        let thresholds = (row[9] as String).split(separator: ",").compactMap { Int($0) }
        return Budget(
            id: row[0], orgId: row[1], name: row[2], scope: scope, period: period, timeZone: row[6],
            limit: Money(nanos: row[7]), hard: row[8], thresholds: thresholds,
            createdAt: Timestamp(milliseconds: row[10]), baselineAt: (row[11] as Int64?).map(Timestamp.init))
    }

    static let budgetColumns =
        "id, org_id, name, scope, scope_value, period, time_zone, limit_nanos, hard, thresholds, created_at, baseline_at"

    static func arguments(_ budget: Budget) -> StatementArguments {
        [
            budget.id, budget.orgId, budget.name, budget.scope.kind, budget.scope.value, budget.period.storageName,
            budget.timeZone, budget.limit.nanos, budget.hard, budget.thresholds.map(String.init).joined(separator: ","),
            budget.createdAt.milliseconds, budget.baselineAt.milliseconds,
        ]
    }

    package static func describe(_ budget: Budget) -> String {
        "\(budget.name): \(budget.limit.decimalString) per \(budget.period.label)\(budget.hard ? " (hard)" : "")"
    }

    public func createBudget(_ budget: Budget, actor: String) async throws -> Budget {
        _ = try Self.checkedName(budget.name, field: "name")
        return try await write { db in
            try Self.requireOrganisation(db, budget.orgId)
            try db.execute(
                sql: "INSERT INTO budgets (\(Self.budgetColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: Self.arguments(budget))
            try self.log(
                db, org: budget.orgId, actor: actor, action: "budget.create", target: budget.id,
                detail: Self.describe(budget))
            return budget
        }
    }

    public func updateBudget(_ budget: Budget, actor: String) async throws -> Bool {
        _ = try Self.checkedName(budget.name, field: "name")
        return try await write { db in
            try db.execute(
                sql: """
                    UPDATE budgets SET name = ?, scope = ?, scope_value = ?, period = ?, time_zone = ?, limit_nanos = ?,
                    hard = ?, thresholds = ?, baseline_at = ? WHERE org_id = ? AND id = ?
                    """,
                arguments: [
                    budget.name, budget.scope.kind, budget.scope.value, budget.period.storageName, budget.timeZone,
                    budget.limit.nanos, budget.hard, budget.thresholds.map(String.init).joined(separator: ","),
                    budget.baselineAt.milliseconds, budget.orgId, budget.id,
                ])
            guard db.changesCount > 0 else { return false }
            try self.log(
                db, org: budget.orgId, actor: actor, action: "budget.update", target: budget.id,
                detail: Self.describe(budget))
            return true
        }
    }

    public func budgets(org: String) async throws -> [Budget] {
        try await read { db in
            try Array(
                Row.fetchCursor(
                    db.cachedStatement(
                        sql: "SELECT \(Self.budgetColumns) FROM budgets WHERE org_id = ? ORDER BY created_at"),
                    arguments: [org]
                ).compactMap(Self.budget))
        }
    }

    public func allBudgets() async throws -> [Budget] {
        try await read { db in
            try Array(
                Row.fetchCursor(db.cachedStatement(sql: "SELECT \(Self.budgetColumns) FROM budgets")).compactMap(
                    Self.budget))
        }
    }

    public func deleteBudget(org: String, id: String, actor: String) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM budgets WHERE org_id = ? AND id = ?", arguments: [org, id])
            guard db.changesCount > 0 else { return false }
            try self.log(db, org: org, actor: actor, action: "budget.delete", target: id, detail: nil)
            return true
        }
    }

    public func spend(org: String, scope: BudgetScope, from: Timestamp, to: Timestamp) async throws -> Money {
        // Exact to the millisecond: the rollups for the whole hours, the events for the rest (`RollupPlan`).
        try await read { db in
            var crowded: [Int: Bool] = [:]
            let period = BudgetPeriodScope(scope: scope, from: from, to: to)
            return Money(nanos: try Self.totals(db, org: org, period, crowded: &crowded).costNanos)
        }
    }

    /// The calls without a price in `[from, to)` that a scope covers, and their tokens: read as
    /// `RollupPlan`s, from the rollups but for the part-hours at the edges and tag scopes.
    public func unpricedUsage(org: String, scope: BudgetScope, from: Timestamp, to: Timestamp) async throws -> (
        requests: Int, tokens: Int
    ) {
        try await unpricedUsage(org: org, of: [BudgetPeriodScope(scope: scope, from: from, to: to)])[0]
    }

    /// Each period's unpriced calls and tokens, in one read.
    public func unpricedUsage(org: String, of periods: [BudgetPeriodScope]) async throws -> [(
        requests: Int, tokens: Int
    )] {
        if periods.isEmpty { return [] }
        return try await read { db in
            var crowded: [Int: Bool] = [:]
            return try periods.map {
                let totals = try Self.totals(db, org: org, $0, crowded: &crowded)
                return (totals.unpricedRequests, totals.unpricedTokens)
            }
        }
    }

    /// What a period's calls cost, and those of them without a price with their tokens.
    private struct PeriodTotals {
        var costNanos: Int64 = 0
        var unpricedRequests = 0
        var unpricedTokens = 0

        mutating func add(_ row: Row?) {
            costNanos += row?[0] ?? 0
            unpricedRequests += row?[1] ?? 0
            unpricedTokens += row?[2] ?? 0
        }
    }

    /// - Parameter crowded: whether each dimension's rollups hold many values a bucket, as found so far
    ///   (by grain and dimension), so a page of budgets asks once.
    private static func totals(
        _ db: Database, org: String, _ period: BudgetPeriodScope, crowded: inout [Int: Bool]
    ) throws -> PeriodTotals {
        let plan = RollupPlan(scope: period.scope, from: period.from, to: period.to)
        var totals = PeriodTotals()
        if let (dimension, value) = plan.rollup {
            for (grain, start, end) in plan.ranges {
                // The rollups' key is (org, grain, dim, bucket, value): a range of buckets holds every value
                // of the dimension. Where a bucket holds a few (the organisation's one, a few teams), the
                // range is read. Where it holds many (a thousand users, say), the value's buckets are looked
                // up one by one, up to the dimension's last (a period's days to come have none), so a
                // user's budget reads its own rows, not all users'.
                let many =
                    try crowded[grain.rawValue << 8 | dimension.rawValue]
                    ?? {
                        let many = try Self.crowded(db, org: org, grain: grain, dimension: dimension)
                        crowded[grain.rawValue << 8 | dimension.rawValue] = many
                        return many
                    }()
                totals.add(
                    !many
                        ? try Row.fetchOne(
                            db.cachedStatement(
                                sql: """
                                    SELECT \(rollupSums) FROM usage_rollups
                                    WHERE org = ? AND grain = ? AND dim = ? AND bucket >= ? AND bucket < ? AND value = ?
                                    """),
                            arguments: [org, grain.rawValue, dimension.rawValue, start, end, value])
                        : try Row.fetchOne(
                            db.cachedStatement(
                                sql: """
                                    WITH RECURSIVE buckets(bucket) AS (
                                        SELECT ? UNION ALL SELECT bucket + ? FROM buckets
                                        WHERE bucket + ? < ? AND bucket + ? <= (
                                            SELECT MAX(bucket) FROM usage_rollups WHERE org = ? AND grain = ? AND dim = ?))
                                    SELECT \(rollupSums) FROM usage_rollups
                                    WHERE org = ? AND grain = ? AND dim = ? AND bucket IN (SELECT bucket FROM buckets)
                                        AND value = ?
                                    """),
                            arguments: [
                                start, grain.milliseconds, grain.milliseconds, end, grain.milliseconds, org,
                                grain.rawValue, dimension.rawValue, org, grain.rawValue, dimension.rawValue, value,
                            ]))
            }
        }
        for edge in plan.edges {
            let (query, arguments) = spendQuery(
                """
                SELECT COALESCE(SUM(cost_nanos), 0), COALESCE(SUM(cost_nanos IS NULL), 0),
                    COALESCE(SUM(CASE WHEN cost_nanos IS NULL THEN input_tokens + output_tokens END), 0)
                FROM usage_events
                """, org: org, scope: period.scope, from: edge.from, to: edge.to)
            totals.add(try Row.fetchOne(db.cachedStatement(sql: query), arguments: arguments))
        }
        return totals
    }

    /// The sums `PeriodTotals.add` reads from rollup rows.
    private static let rollupSums =
        "COALESCE(SUM(cost_nanos), 0), COALESCE(SUM(unpriced_requests), 0), COALESCE(SUM(unpriced_tokens), 0)"

    /// Whether the last bucket of a dimension's rollups holds more than eight values.
    private static func crowded(_ db: Database, org: String, grain: RollupGrain, dimension: RollupDimension) throws
        -> Bool
    {
        guard dimension != .all else { return false }
        let rows = try Int.fetchOne(
            db.cachedStatement(
                sql: """
                    SELECT COUNT(*) FROM (
                        SELECT 1 FROM usage_rollups WHERE org = ? AND grain = ? AND dim = ? AND bucket = (
                            SELECT MAX(bucket) FROM usage_rollups WHERE org = ? AND grain = ? AND dim = ?)
                        LIMIT 9)
                    """),
            arguments: [org, grain.rawValue, dimension.rawValue, org, grain.rawValue, dimension.rawValue])
        return (rows ?? 0) > 8
    }

    public func hourlySpend(org: String, scope: BudgetScope, from: Timestamp, to: Timestamp) async throws
        -> [Int64: Int64]
    {
        let (query, arguments) = Self.spendQuery(
            "SELECT ts - ts % 3600000 AS hour, SUM(cost_nanos) FROM usage_events", org: org, scope: scope, from: from,
            to: to)
        return try await read { db in
            var hours: [Int64: Int64] = [:]
            for row in try Row.fetchAll(db.cachedStatement(sql: query + " GROUP BY hour"), arguments: arguments) {
                hours[row[0]] = row[1] ?? 0
            }
            return hours
        }
    }

    /// `select` over the events in `[from, to)` that a scope covers. Its text depends only on `select`
    /// and the scope's kind, so its statements are compiled once per connection (`cachedStatement`).
    static func spendQuery(_ select: String, org: String, scope: BudgetScope, from: Timestamp, to: Timestamp) -> (
        String, StatementArguments
    ) {
        var sql = select + " WHERE org = ? AND ts >= ? AND ts < ?"
        var arguments: [(any DatabaseValueConvertible)?] = [org, from.milliseconds, to.milliseconds]
        switch scope {
        case .organisation: break
        case .team(let value): sql += " AND team = ?"; arguments.append(value)
        case .user(let value): sql += " AND user = ?"; arguments.append(value)
        case .project(let value): sql += " AND project = ?"; arguments.append(value)
        case .key(let value): sql += " AND key_id = ?"; arguments.append(value)
        case .tag(let key, let value):
            sql += " AND json_extract(tags, ?) = ?"
            arguments.append(JSONText.path(forKey: key))
            arguments.append(value)
        }
        return (sql, StatementArguments(arguments))
    }

    public func recordClosedPeriods(_ periods: [ClosedPeriod]) async throws {
        if periods.isEmpty { return }
        try await write { db in
            for period in periods {
                try db.execute(
                    sql: """
                        INSERT INTO budget_history (budget_id, period_start, period_end, period, limit_nanos, spent_nanos, reason)
                        SELECT ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM budgets WHERE id = ?)
                        ON CONFLICT (budget_id, period_start, period_end) DO NOTHING
                        """,
                    arguments: [
                        period.budgetId, period.start.milliseconds, period.end.milliseconds, period.period,
                        period.limit.nanos, period.spent.nanos, period.reason, period.budgetId,
                    ])
            }
        }
    }

    public func closedPeriods(budgetId: String, limit: Int) async throws -> [ClosedPeriod] {
        try await read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT budget_id, period_start, period_end, period, limit_nanos, spent_nanos, reason FROM budget_history
                        WHERE budget_id = ? ORDER BY period_start DESC LIMIT ?
                        """),
                arguments: [budgetId, limit]
            ).map { row in
                ClosedPeriod(
                    budgetId: row[0], start: Timestamp(milliseconds: row[1]), end: Timestamp(milliseconds: row[2]),
                    period: row[3], limit: Money(nanos: row[4]), spent: Money(nanos: row[5]), reason: row[6])
            }
        }
    }
}
