import Foundation
import GRDB
import MeterrCore

extension SQLiteStore: BudgetStore {
    static func budget(_ row: Row) -> Budget? {
        guard let scope = BudgetScope(kind: row[3], value: row[4]), let period = BudgetPeriod(rawValue: row[5]) else {
            return nil
        }
        let thresholds = (row[9] as String).split(separator: ",").compactMap { Int($0) }
        return Budget(
            id: row[0], orgId: row[1], name: row[2], scope: scope, period: period, timeZone: row[6],
            limit: Money(nanos: row[7]), hard: row[8], thresholds: thresholds,
            createdAt: Timestamp(milliseconds: row[10]))
    }

    static let budgetColumns =
        "id, org_id, name, scope, scope_value, period, time_zone, limit_nanos, hard, thresholds, created_at"

    public func createBudget(_ budget: Budget, actor: String) async throws -> Budget {
        _ = try Self.checkedName(budget.name, field: "name")
        return try await write { db in
            try Self.requireOrganisation(db, budget.orgId)
            try db.execute(
                sql: "INSERT INTO budgets (\(Self.budgetColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: [
                    budget.id, budget.orgId, budget.name, budget.scope.kind, budget.scope.value, budget.period.rawValue,
                    budget.timeZone, budget.limit.nanos, budget.hard,
                    budget.thresholds.map(String.init).joined(separator: ","), budget.createdAt.milliseconds,
                ])
            try Self.log(
                db, org: budget.orgId, actor: actor, action: "budget.create", target: budget.id,
                detail:
                    "\(budget.name): \(budget.limit.decimalString) per \(budget.period.rawValue)\(budget.hard ? " (hard)" : "")"
            )
            return budget
        }
    }

    public func budgets(org: String) async throws -> [Budget] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(Self.budgetColumns) FROM budgets WHERE org_id = ? ORDER BY created_at",
                arguments: [org]
            ).compactMap(Self.budget)
        }
    }

    public func allBudgets() async throws -> [Budget] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.budgetColumns) FROM budgets").compactMap(Self.budget)
        }
    }

    public func deleteBudget(org: String, id: String, actor: String) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM budgets WHERE org_id = ? AND id = ?", arguments: [org, id])
            guard db.changesCount > 0 else { return false }
            try Self.log(db, org: org, actor: actor, action: "budget.delete", target: id, detail: nil)
            return true
        }
    }

    public func spend(org: String, scope: BudgetScope, from: Timestamp, to: Timestamp) async throws -> Money {
        // Exact to the millisecond: the events themselves (their (org, ts) index bounds the scan).
        var sql = "SELECT COALESCE(SUM(cost_nanos), 0) FROM usage_events WHERE org = ? AND ts >= ? AND ts < ?"
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
        let query = sql
        let statementArguments = StatementArguments(arguments)
        return try await read { db in
            Money(nanos: try Int64.fetchOne(db, sql: query, arguments: statementArguments) ?? 0)
        }
    }
}
