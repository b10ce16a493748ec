import GRDB
import MeterrCore

extension SQLiteStore: UsageBreakdowns {
    public func breakdown(org: String, filter: EventFilter, by columns: [BreakdownColumn], limit: Int) async throws
        -> [BreakdownRow]
    {
        // Column names come from the enum, never from the caller; every value is bound.
        var conditions = ["org = ?"]
        var arguments: [(any DatabaseValueConvertible)?] = [org]
        func match(_ condition: String, _ values: (any DatabaseValueConvertible)?...) {
            conditions.append(condition)
            arguments.append(contentsOf: values)
        }
        if let from = filter.from { match("ts >= ?", from.milliseconds) }
        if let to = filter.to { match("ts < ?", to.milliseconds) }
        let equal: [(BreakdownColumn, String?)] = [
            (.team, filter.team), (.user, filter.user), (.project, filter.project), (.key, filter.keyId),
            (.provider, filter.provider?.rawValue),
        ]
        for case (let column, let value?) in equal { match("\(column.rawValue) = ?", value) }
        if let model = filter.model {
            let (condition, values) = Self.modelCondition(model)
            conditions.append(condition)
            arguments.append(contentsOf: values)
        }
        for (key, value) in filter.tags.sorted(by: { $0.key < $1.key }) {
            match("json_extract(tags, ?) = ?", JSONText.path(forKey: key), value)
        }
        let names = columns.map(\.rawValue)
        let groupBy = names.isEmpty ? "" : " GROUP BY " + names.joined(separator: ", ")
        let sql = """
            SELECT \(names.map { $0 + ", " }.joined())COUNT(*), SUM(input_tokens), SUM(cache_read_tokens),
                SUM(cache_write_tokens), SUM(cache_write_1h_tokens), SUM(output_tokens), SUM(reasoning_tokens),
                COALESCE(SUM(cost_nanos), 0), SUM(cost_nanos IS NULL),
                COALESCE(SUM(CASE WHEN cost_nanos IS NULL THEN input_tokens + output_tokens END), 0)
            FROM usage_events WHERE \(conditions.joined(separator: " AND "))\(groupBy)
            ORDER BY COALESCE(SUM(cost_nanos), 0) DESC LIMIT ?
            """
        arguments.append(limit)
        let statementArguments = StatementArguments(arguments)
        let width = columns.count
        return try await read { db in
            try Row.fetchAll(db, sql: sql, arguments: statementArguments).compactMap { row in
                let requests: Int = row[width]
                if requests == 0 { return nil }
                return BreakdownRow(
                    values: (0..<width).map { row[$0] },
                    totals: UsageTotals(
                        requests: requests,
                        usage: Usage(
                            inputTokens: row[width + 1], cacheReadTokens: row[width + 2],
                            cacheWriteTokens: row[width + 3], cacheWrite1hTokens: row[width + 4],
                            outputTokens: row[width + 5], reasoningTokens: row[width + 6]),
                        pricedCost: Money(nanos: row[width + 7]), unpricedRequests: row[width + 8],
                        unpricedTokens: row[width + 9]))
            }
        }
    }
}
