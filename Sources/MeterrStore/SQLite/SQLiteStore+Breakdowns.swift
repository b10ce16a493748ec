import GRDB
import MeterrCore

extension SQLiteStore: UsageBreakdowns {
    public func breakdown(org: String, filter: EventFilter, by columns: [BreakdownColumn], limit: Int) async throws
        -> [BreakdownRow]
    {
        if let rows = try await teamBreakdownFromRollups(org: org, filter: filter, by: columns, limit: limit) {
            return rows
        }
        return try await breakdownFromEvents(org: org, filter: filter, by: columns, limit: limit)
    }

    /// Any breakdown, from the raw events of the filtered range.
    func breakdownFromEvents(org: String, filter: EventFilter, by columns: [BreakdownColumn], limit: Int)
        async throws -> [BreakdownRow]
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
            (.provider, filter.provider?.rawValue), (.model, filter.model),
        ]
        for case (let column, let value?) in equal { match("\(column.rawValue) = ?", value) }
        for (key, value) in filter.tags.sorted(by: { $0.key < $1.key }) {
            match("json_extract(tags, ?) = ?", JSONText.path(forKey: key), value)
        }
        let names = columns.map(\.rawValue)
        let groupBy = names.isEmpty ? "" : " GROUP BY " + names.joined(separator: ", ")
        let sql = """
            SELECT \(names.map { $0 + ", " }.joined())COUNT(*), SUM(input_tokens), SUM(cache_read_tokens),
                SUM(cache_write_tokens), SUM(cache_write_1h_tokens), SUM(output_tokens), SUM(reasoning_tokens),
                COALESCE(SUM(cost_nanos), 0), SUM(cost_nanos IS NULL)
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
                        cost: Money(nanos: row[width + 7]), unpricedRequests: row[width + 8]))
            }
        }
    }

    /// A team's users and keys over whole hours, from the team-user-key rollups instead of the raw
    /// events (whole days read the daily rows); `nil` when the filter asks for more than that.
    func teamBreakdownFromRollups(org: String, filter: EventFilter, by columns: [BreakdownColumn], limit: Int)
        async throws -> [BreakdownRow]?
    {
        guard let team = filter.team, let from = filter.from, let to = filter.to, from < to,
            filter.user == nil, filter.project == nil, filter.keyId == nil, filter.provider == nil,
            filter.model == nil, filter.tags.isEmpty, Set(columns).isSubset(of: [.user, .key]),
            from.hourStart == from, to.hourStart == to
        else { return nil }
        let grain: RollupGrain = from.dayStart == from && to.dayStart == to ? .day : .hour
        let separator = RollupDimension.separator
        let prefix = team + separator
        // Values of one team sort together: `team␟` up to `team` followed by the next code point.
        let end = team + "\u{20}"
        let rows = try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT value, SUM(requests), SUM(input_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens),
                        SUM(cache_write_1h_tokens), SUM(output_tokens), SUM(reasoning_tokens), SUM(cost_nanos),
                        SUM(unpriced_requests)
                    FROM usage_rollups
                    WHERE org = ? AND grain = ? AND dim = ? AND bucket >= ? AND bucket < ? AND value >= ? AND value < ?
                    GROUP BY value
                    """,
                arguments: [
                    org, grain.rawValue, RollupDimension.teamUserKey.rawValue, from.milliseconds, to.milliseconds,
                    prefix, end,
                ]
            ).map { row in
                (
                    row[0] as String,
                    UsageTotals(
                        requests: row[1],
                        usage: Usage(
                            inputTokens: row[2], cacheReadTokens: row[3], cacheWriteTokens: row[4],
                            cacheWrite1hTokens: row[5], outputTokens: row[6], reasoningTokens: row[7]),
                        cost: Money(nanos: row[8]), unpricedRequests: row[9])
                )
            }
        }
        var groups: [[String?]: UsageTotals] = [:]
        for (value, totals) in rows {
            let parts = value.components(separatedBy: separator)
            guard parts.count == 3, parts[0] == team else { continue }
            let user = parts[1].isEmpty ? nil : parts[1]
            let key = parts[2].isEmpty ? nil : parts[2]
            groups[columns.map { $0 == .user ? user : key }, default: UsageTotals()] += totals
        }
        return groups.filter { $0.value.requests > 0 }
            .map { BreakdownRow(values: $0.key, totals: $0.value) }
            .sorted {
                $0.totals.cost != $1.totals.cost
                    ? $0.totals.cost > $1.totals.cost : $0.values.description < $1.values.description
            }
            .prefix(limit).map { $0 }
    }
}
