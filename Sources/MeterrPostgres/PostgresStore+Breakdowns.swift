import Logging
import MeterrCore
import MeterrStore
import PostgresNIO

extension PostgresStore: UsageBreakdowns {
    public func breakdown(org: String, filter: EventFilter, by columns: [BreakdownColumn], limit: Int) async throws
        -> [BreakdownRow]
    {
        // Column names come from the enum, never from the caller; every value is bound.
        var binds = PostgresBindings()
        func parameter(_ value: some PostgresThrowingDynamicTypeEncodable) throws -> String {
            try binds.append(value)
            return "$\(binds.count)"
        }
        var conditions = ["org = " + (try parameter(org))]
        if let from = filter.from { conditions.append("ts >= " + (try parameter(from.milliseconds))) }
        if let to = filter.to { conditions.append("ts < " + (try parameter(to.milliseconds))) }
        let equal: [(BreakdownColumn, String?)] = [
            (.team, filter.team), (.user, filter.user), (.project, filter.project), (.key, filter.keyId),
            (.provider, filter.provider?.rawValue),
        ]
        for case (let column, let value?) in equal {
            conditions.append("\"\(column.rawValue)\" = " + (try parameter(value)))
        }
        if let model = filter.model {
            conditions.append(
                "(model = \(try parameter(model)) OR model ~ \(try parameter(ModelFamily.snapshotRegex(model))))")
        }
        for (key, value) in filter.tags.sorted(by: { $0.key < $1.key }) {
            conditions.append("tags ->> \(try parameter(key)) = \(try parameter(value))")
        }
        let names = columns.map { "\"\($0.rawValue)\"" }
        let groupBy = names.isEmpty ? "" : " GROUP BY " + names.joined(separator: ", ")
        // Groups of equal cost in the order of their values (bytes, unattributed first): SQLite's order
        // for them is its plan's, so any order conforms, but one that never changes reads better.
        let ties = names.map { ", \($0) COLLATE \"C\" NULLS FIRST" }.joined()
        let sql = """
            SELECT \(names.map { $0 + ", " }.joined())count(*), sum(input_tokens)::bigint,
                sum(cache_read_tokens)::bigint, sum(cache_write_tokens)::bigint, sum(cache_write_1h_tokens)::bigint,
                sum(output_tokens)::bigint, sum(reasoning_tokens)::bigint, coalesce(sum(cost_nanos), 0)::bigint,
                count(*) FILTER (WHERE cost_nanos IS NULL),
                coalesce(sum(input_tokens + output_tokens) FILTER (WHERE cost_nanos IS NULL), 0)::bigint
            FROM usage_events WHERE \(conditions.joined(separator: " AND "))\(groupBy)
            ORDER BY coalesce(sum(cost_nanos), 0) DESC\(ties) LIMIT \(try parameter(Int64(limit)))
            """
        let query = PostgresQuery(unsafeSQL: sql, binds: binds)
        let width = columns.count
        return try await tenant(org) { connection in
            var groups: [BreakdownRow] = []
            for try await row in try await connection.query(query, logger: logger) {
                let cells = row.makeRandomAccess()
                let requests = try cells[width].decode(Int64.self)
                if requests == 0 { continue }
                func number(_ index: Int) throws -> Int { Int(try cells[width + index].decode(Int64?.self) ?? 0) }
                groups.append(
                    BreakdownRow(
                        values: try (0..<width).map { try cells[$0].decode(String?.self) },
                        totals: UsageTotals(
                            requests: Int(requests),
                            usage: Usage(
                                inputTokens: try number(1), cacheReadTokens: try number(2),
                                cacheWriteTokens: try number(3), cacheWrite1hTokens: try number(4),
                                outputTokens: try number(5), reasoningTokens: try number(6)),
                            pricedCost: Money(nanos: try cells[width + 7].decode(Int64.self)),
                            unpricedRequests: try number(8), unpricedTokens: try number(9))))
            }
            return groups
        }
    }

    public func dailyCost(
        org: String, by grouping: SummaryGrouping, from: Timestamp, to: Timestamp, calendar: LocalCalendar
    ) async throws -> [(day: Timestamp, value: String, cost: Money)] {
        let dimension = Int64(RollupDimension(grouping).rawValue)
        // Local days are made of hours; UTC days come whole from the daily rollups.
        let grain = Int64((calendar.isUTC ? RollupGrain.day : .hour).rawValue)
        let start = (calendar.isUTC ? from.dayStart : from.hourStart).milliseconds
        let rows = try await tenant(org) { connection in
            // In the table's key order, as SQLite reads them.
            let rows = try await connection.query(
                """
                SELECT bucket, value, cost_nanos FROM usage_rollups
                WHERE org = \(org) AND grain = \(grain)::smallint AND dim = \(dimension)::smallint
                    AND bucket >= \(start) AND bucket < \(to.milliseconds)
                ORDER BY bucket, value COLLATE "C"
                """, logger: logger)
            var cells: [(Int64, String, Int64)] = []
            for try await row in rows.decode((Int64, String, Int64).self) { cells.append(row) }
            return cells
        }
        return RollupSummary.dailyCost(rows, calendar: calendar)
    }

    public func teamUsers(org: String, team: String, from: Timestamp, to: Timestamp) async throws -> [BreakdownRow] {
        let dimension = Int64(RollupDimension.teamUser.rawValue)
        let prefix = team + RollupDimension.separator
        let ranges = RollupSummary.ranges(from: from, to: to, hourly: false)
        let groups = try await tenant(org) { connection in
            var groups: [String: UsageTotals] = [:]
            for (grain, start, end) in ranges where start < end {
                let rows = try await connection.query(
                    """
                    SELECT value, bucket, requests, input_tokens, cache_read_tokens, cache_write_tokens,
                        cache_write_1h_tokens, output_tokens, reasoning_tokens, cost_nanos, unpriced_requests,
                        unpriced_tokens
                    FROM usage_rollups
                    WHERE org = \(org) AND grain = \(Int64(grain.rawValue))::smallint AND dim = \(dimension)::smallint
                        AND bucket >= \(start) AND bucket < \(end) AND starts_with(value, \(prefix))
                    """, logger: logger)
                for try await cells in rows.decode(RollupCells.self) {
                    groups[cells.0, default: UsageTotals()] += Self.totals(cells)
                }
            }
            return groups
        }
        return groups.map { value, totals in
            let rest = String(value.unicodeScalars.dropFirst(prefix.unicodeScalars.count))
            return BreakdownRow(values: [rest.isEmpty ? nil : rest], totals: totals)
        }.sorted {
            ($0.totals.pricedCost.nanos, $1.values.description) > ($1.totals.pricedCost.nanos, $0.values.description)
        }
    }
}
