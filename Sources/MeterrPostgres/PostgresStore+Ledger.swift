import Logging
import MeterrCore
import MeterrStore
import PostgresNIO

extension PostgresStore: UsageLedger {
    static let eventColumns = """
        org, id, ts, team, "user", project, key_id, tags, provider, model, model_requested, endpoint, \
        input_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, output_tokens, \
        reasoning_tokens, cost_nanos, price_id, usage_source, stream, status, latency_ms, ttft_ms, \
        request_id, upstream_request_id, route, cache_hit, saved_nanos
        """
    static let columnCount = 30
    /// Rows per statement, so one statement's arrays stay a few megabytes.
    static let rowsPerStatement = 5_000

    public func append(_ events: [UsageEvent]) async throws -> [Bool] {
        try await append(events, shapes: [])
    }

    /// Stores events, their rollups and call health, and the shapes of their calls in one transaction.
    public func append(_ events: [UsageEvent], shapes: [CallShape]) async throws -> [Bool] {
        if events.isEmpty && shapes.isEmpty { return [] }
        try await ensurePartitions(for: events.map(\.ts))
        do {
            return try await appendOnce(events, shapes: shapes)
        } catch  where Self.sqlState(of: error) == "23514" {
            // No partition for a row: another node's retention dropped a month this node thought it
            // had. Look again, make it, and try once more.
            forgetPartitions()
            try await ensurePartitions(for: events.map(\.ts))
            return try await appendOnce(events, shapes: shapes)
        }
    }

    /// The SQLSTATE of a server error, also when a transaction wraps it.
    static func sqlState(of error: any Error) -> String? {
        if let error = error as? PSQLError { return error.serverInfo?[.sqlState] }
        if let error = error as? PostgresTransactionError, let inner = error.closureError {
            return sqlState(of: inner)
        }
        return nil
    }

    private func appendOnce(_ events: [UsageEvent], shapes: [CallShape]) async throws -> [Bool] {
        // One transaction for the batch; each organisation's rows are written as that organisation,
        // so row-level security checks every one.
        var inserted = [Bool](repeating: false, count: events.count)
        let byOrg = Dictionary(grouping: events.indices, by: { events[$0].org })
        let fresh = try await client.withTransaction(logger: logger) { connection -> [Int] in
            try await become(PostgresMigrations.appRole, on: connection)
            var fresh: [Int] = []
            var deltas = RollupDeltas()
            var health = HealthDeltas()
            for org in byOrg.keys.sorted() {
                let indices = byOrg[org]!
                try await see(org, on: connection)
                // Ids first, in key order (nodes storing the same ids at once wait, never deadlock):
                // those the database did not have are the new events (the first of duplicates within
                // the batch).
                let ids = indices.map { events[$0].id }
                let times = indices.map { events[$0].ts.milliseconds }
                var known: Set<String> = []
                let rows = try await connection.query(
                    """
                    INSERT INTO usage_event_ids (org, id, ts)
                    SELECT \(org), id, ts FROM unnest(\(ids)::text[], \(times)::bigint[]) WITH ORDINALITY
                        AS batch (id, ts, n)
                    ORDER BY id, n
                    ON CONFLICT (org, id) DO NOTHING RETURNING id
                    """, logger: logger)
                for try await id in rows.decode(String.self) { known.insert(id) }
                var new: [Int] = []
                for index in indices where known.remove(events[index].id) != nil { new.append(index) }
                for chunk in stride(from: 0, to: new.count, by: Self.rowsPerStatement) {
                    let part = new[chunk..<min(chunk + Self.rowsPerStatement, new.count)]
                    try await connection.query(try Self.insert(part.map { events[$0] }), logger: logger)
                }
                for index in new {
                    deltas.add(events[index])
                    health.add(events[index])
                }
                fresh += new
            }
            // Rollups next, in the table's key order, so concurrent nodes lock rows in one order.
            var byOrgRows: [String: [(RollupKey, UsageTotals)]] = [:]
            deltas.forEachRow { key, totals in byOrgRows[key.org, default: []].append((key, totals)) }
            for org in byOrgRows.keys.sorted() {
                try await see(org, on: connection)
                let rows = byOrgRows[org]!.sorted { $0.0 < $1.0 }
                for chunk in stride(from: 0, to: rows.count, by: Self.rowsPerStatement) {
                    try await connection.query(
                        try Self.upsert(rows[chunk..<min(chunk + Self.rowsPerStatement, rows.count)]), logger: logger)
                }
            }
            // Then call health and shapes, each table in its key order too.
            try await writeHealth(health, on: connection)
            try await insertShapes(shapes, on: connection)
            return fresh
        }
        for index in fresh { inserted[index] = true }
        return inserted
    }

    /// One INSERT for a batch of events: a parameter per column, each an array over the batch.
    static func insert(_ events: [UsageEvent]) throws -> PostgresQuery {
        func texts(_ value: (UsageEvent) -> String?) -> NullableArray<String> { NullableArray(events.map(value)) }
        func numbers(_ value: (UsageEvent) -> Int64?) -> NullableArray<Int64> { NullableArray(events.map(value)) }
        func smalls(_ value: (UsageEvent) -> Int?) -> NullableArray<Int32> {
            NullableArray(events.map { value($0).map(Int32.init(clamping:)) })
        }
        func flags(_ value: (UsageEvent) -> Bool) -> NullableArray<Bool> { NullableArray(events.map(value)) }
        var binds = PostgresBindings(capacity: columnCount)
        try binds.append(texts(\.org))
        try binds.append(texts(\.id))
        try binds.append(numbers { $0.ts.milliseconds })
        try binds.append(texts(\.team))
        try binds.append(texts(\.user))
        try binds.append(texts(\.project))
        try binds.append(texts(\.keyId))
        try binds.append(texts { $0.tags.isEmpty ? nil : JSONText.object($0.tags) })
        try binds.append(texts(\.provider.rawValue))
        try binds.append(texts(\.model))
        try binds.append(texts(\.modelRequested))
        try binds.append(texts(\.endpoint))
        try binds.append(numbers { Int64($0.usage.inputTokens) })
        try binds.append(numbers { Int64($0.usage.cacheReadTokens) })
        try binds.append(numbers { Int64($0.usage.cacheWriteTokens) })
        try binds.append(numbers { Int64($0.usage.cacheWrite1hTokens) })
        try binds.append(numbers { Int64($0.usage.outputTokens) })
        try binds.append(numbers { Int64($0.usage.reasoningTokens) })
        try binds.append(numbers { $0.cost?.nanos })
        try binds.append(texts(\.priceId))
        try binds.append(texts(\.usageSource.rawValue))
        try binds.append(flags(\.stream))
        try binds.append(smalls(\.status))
        try binds.append(smalls(\.latencyMs))
        try binds.append(smalls(\.ttftMs))
        try binds.append(texts(\.requestId))
        try binds.append(texts(\.upstreamRequestId))
        try binds.append(texts(\.route))
        try binds.append(flags(\.cacheHit))
        try binds.append(numbers { $0.saved?.nanos })
        return PostgresQuery(unsafeSQL: insertSQL, binds: binds)
    }

    static let insertSQL = """
        INSERT INTO usage_events (\(eventColumns))
        SELECT org, id, ts, team, "user", project, key_id, tags::jsonb, provider, model, model_requested, endpoint,
            input_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, output_tokens,
            reasoning_tokens, cost_nanos, price_id, usage_source, stream, status, latency_ms, ttft_ms, request_id,
            upstream_request_id, route, cache_hit, saved_nanos
        FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
            $9::text[], $10::text[], $11::text[], $12::text[], $13::int8[], $14::int8[], $15::int8[], $16::int8[],
            $17::int8[], $18::int8[], $19::int8[], $20::text[], $21::text[], $22::bool[], $23::int4[], $24::int4[],
            $25::int4[], $26::text[], $27::text[], $28::text[], $29::bool[], $30::int8[])
            AS batch (\(eventColumns))
        """

    /// One upsert for a batch's rollup rows (distinct keys, in key order), as arrays.
    static func upsert(_ rows: ArraySlice<(RollupKey, UsageTotals)>) throws -> PostgresQuery {
        func column<Value: PostgresArrayEncodable>(_ value: ((RollupKey, UsageTotals)) -> Value) -> [Value] {
            rows.map(value)
        }
        var binds = PostgresBindings(capacity: 15)
        try binds.append(column { $0.0.org })
        try binds.append(column { Int64($0.0.grain.rawValue) })
        try binds.append(column { Int64($0.0.dimension.rawValue) })
        try binds.append(column { $0.0.bucket })
        try binds.append(column { $0.0.value })
        try binds.append(column { Int64($0.1.requests) })
        try binds.append(column { Int64($0.1.usage.inputTokens) })
        try binds.append(column { Int64($0.1.usage.cacheReadTokens) })
        try binds.append(column { Int64($0.1.usage.cacheWriteTokens) })
        try binds.append(column { Int64($0.1.usage.cacheWrite1hTokens) })
        try binds.append(column { Int64($0.1.usage.outputTokens) })
        try binds.append(column { Int64($0.1.usage.reasoningTokens) })
        try binds.append(column { $0.1.pricedCost.nanos })
        try binds.append(column { Int64($0.1.unpricedRequests) })
        try binds.append(column { Int64($0.1.unpricedTokens) })
        return PostgresQuery(unsafeSQL: upsertSQL, binds: binds)
    }

    static let upsertSQL = """
        INSERT INTO usage_rollups (org, grain, dim, bucket, value, requests, input_tokens, cache_read_tokens,
            cache_write_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens, cost_nanos,
            unpriced_requests, unpriced_tokens)
        SELECT org, grain::smallint, dim::smallint, bucket, value, requests, input_tokens, cache_read_tokens,
            cache_write_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens, cost_nanos,
            unpriced_requests, unpriced_tokens
        FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[], $5::text[], $6::int8[], $7::int8[], $8::int8[],
            $9::int8[], $10::int8[], $11::int8[], $12::int8[], $13::int8[], $14::int8[], $15::int8[])
            AS batch (org, grain, dim, bucket, value, requests, input_tokens, cache_read_tokens, cache_write_tokens,
                cache_write_1h_tokens, output_tokens, reasoning_tokens, cost_nanos, unpriced_requests, unpriced_tokens)
        ORDER BY org, grain, dim, bucket, value
        """ + "\n" + rollupMerge

    /// Adds the rows an upsert brings to the rollup rows already there.
    static let rollupMerge = """
        ON CONFLICT (org, grain, dim, bucket, value) DO UPDATE SET
            requests = usage_rollups.requests + excluded.requests,
            input_tokens = usage_rollups.input_tokens + excluded.input_tokens,
            cache_read_tokens = usage_rollups.cache_read_tokens + excluded.cache_read_tokens,
            cache_write_tokens = usage_rollups.cache_write_tokens + excluded.cache_write_tokens,
            cache_write_1h_tokens = usage_rollups.cache_write_1h_tokens + excluded.cache_write_1h_tokens,
            output_tokens = usage_rollups.output_tokens + excluded.output_tokens,
            reasoning_tokens = usage_rollups.reasoning_tokens + excluded.reasoning_tokens,
            cost_nanos = usage_rollups.cost_nanos + excluded.cost_nanos,
            unpriced_requests = usage_rollups.unpriced_requests + excluded.unpriced_requests,
            unpriced_tokens = usage_rollups.unpriced_tokens + excluded.unpriced_tokens
        """

    public func events(org: String, filter: EventFilter, limit: Int, cursor: EventCursor?) async throws -> EventPage {
        var sql = "SELECT seq, \(Self.selectColumns) FROM usage_events WHERE org = $1"
        var binds = PostgresBindings()
        try binds.append(org)
        func parameter(_ value: some PostgresThrowingDynamicTypeEncodable) throws -> String {
            try binds.append(value)
            return "$\(binds.count)"
        }
        if let from = filter.from { sql += " AND ts >= " + (try parameter(from.milliseconds)) }
        if let to = filter.to { sql += " AND ts < " + (try parameter(to.milliseconds)) }
        let columns: [(String, String?)] = [
            ("team", filter.team), ("\"user\"", filter.user), ("project", filter.project), ("key_id", filter.keyId),
            ("provider", filter.provider?.rawValue),
        ]
        for case (let column, let value?) in columns { sql += " AND \(column) = " + (try parameter(value)) }
        if let model = filter.model {
            sql +=
                " AND (model = \(try parameter(model)) OR model ~ \(try parameter(ModelFamily.snapshotRegex(model))))"
        }
        for (key, value) in filter.tags.sorted(by: { $0.key < $1.key }) {
            sql += " AND tags ->> \(try parameter(key)) = \(try parameter(value))"
        }
        if let cursor {
            sql += " AND (ts, seq) < (\(try parameter(cursor.ts)), \(try parameter(cursor.sequence)))"
        }
        sql += " ORDER BY ts DESC, seq DESC LIMIT \(try parameter(Int64(limit + 1)))"
        let query = PostgresQuery(unsafeSQL: sql, binds: binds)
        let rows = try await tenant(org) { connection in
            var rows: [(Int64, UsageEvent)] = []
            for try await row in try await connection.query(query, logger: logger) {
                rows.append(try Self.event(row))
            }
            return rows
        }
        let page = rows.prefix(limit)
        let next = rows.count > limit ? page.last.map { EventCursor(ts: $0.1.ts.milliseconds, sequence: $0.0) } : nil
        return EventPage(events: page.map { $0.1 }, nextCursor: next)
    }

    public func summary(
        org: String, groupBy: SummaryGrouping, from: Timestamp, to: Timestamp, calendar: LocalCalendar
    ) async throws -> UsageSummary {
        let dimension = Int64(RollupDimension(groupBy).rawValue)
        let ranges = RollupSummary.ranges(from: from, to: to, groupBy: groupBy, calendar: calendar)
        // Groups that are not times are summed by the database: one row per group comes back.
        let byValue = groupBy != .day && groupBy != .hour
        let groups = try await tenant(org) { connection in
            var groups: [String: UsageTotals] = [:]
            for (grain, start, end) in ranges where start < end {
                let rows = try await connection.query(
                    byValue
                        ? """
                        SELECT value, 0::bigint, sum(requests)::bigint, sum(input_tokens)::bigint,
                            sum(cache_read_tokens)::bigint, sum(cache_write_tokens)::bigint,
                            sum(cache_write_1h_tokens)::bigint, sum(output_tokens)::bigint,
                            sum(reasoning_tokens)::bigint, sum(cost_nanos)::bigint, sum(unpriced_requests)::bigint,
                            sum(unpriced_tokens)::bigint
                        FROM usage_rollups
                        WHERE org = \(org) AND grain = \(Int64(grain.rawValue))::smallint AND dim = \(dimension)::smallint
                            AND bucket >= \(start) AND bucket < \(end)
                        GROUP BY value
                        """
                        : """
                        SELECT value, bucket, requests, input_tokens, cache_read_tokens, cache_write_tokens,
                            cache_write_1h_tokens, output_tokens, reasoning_tokens, cost_nanos, unpriced_requests,
                            unpriced_tokens
                        FROM usage_rollups
                        WHERE org = \(org) AND grain = \(Int64(grain.rawValue))::smallint AND dim = \(dimension)::smallint
                            AND bucket >= \(start) AND bucket < \(end)
                        """, logger: logger)
                for try await row in rows {
                    let cells = try row.decode(RollupCells.self)
                    let key = RollupSummary.key(value: cells.0, bucket: cells.1, groupBy: groupBy, calendar: calendar)
                    groups[key, default: UsageTotals()] += Self.totals(cells)
                }
            }
            return groups
        }
        return RollupSummary.summary(groups, groupBy: groupBy, ranges: ranges)
    }

    public func forEachEvent(
        org: String?, from: Timestamp?, to: Timestamp?, _ body: (UsageEvent) throws -> Void
    ) async throws {
        // Pages of a few thousand rows keep memory flat and never hold a transaction for long.
        var after: (Int64, Int64) = (Int64.min, Int64.min)
        let fromMillis = from?.milliseconds ?? Int64.min
        let toMillis = to?.milliseconds ?? Int64.max
        while true {
            let cursor = after
            let query: PostgresQuery = """
                SELECT seq, \(unescaped: Self.selectColumns) FROM usage_events
                WHERE ts >= \(fromMillis) AND ts < \(toMillis) AND (ts, seq) > (\(cursor.0), \(cursor.1))
                ORDER BY ts, seq LIMIT 5000
                """
            func page(_ connection: PostgresConnection) async throws -> [(Int64, UsageEvent)] {
                var rows: [(Int64, UsageEvent)] = []
                for try await row in try await connection.query(query, logger: logger) {
                    rows.append(try Self.event(row))
                }
                return rows
            }
            let rows: [(Int64, UsageEvent)]
            if let org { rows = try await tenant(org, page) } else { rows = try await acrossOrganisations(page) }
            for (_, event) in rows { try body(event) }
            guard let last = rows.last, rows.count == 5000 else { return }
            after = (last.1.ts.milliseconds, last.0)
        }
    }

    /// The stored columns as read back: `tags` as text.
    static let selectColumns = eventColumns.replacingOccurrences(of: "tags,", with: "tags::text,")

    static func event(_ row: PostgresRow) throws -> (Int64, UsageEvent) {
        var cells = row.makeIterator()
        func next<Value: PostgresDecodable>(_: Value.Type = Value.self) throws -> Value {
            guard let cell = cells.next() else { throw MeterrError(.storage, "a stored event has too few columns") }
            return try cell.decode(Value.self)
        }
        let seq: Int64 = try next()
        let org: String = try next()
        let id: String = try next()
        let ts: Int64 = try next()
        let team: String? = try next()
        let user: String? = try next()
        let project: String? = try next()
        let keyId: String? = try next()
        let tags: String? = try next()
        let providerName: String = try next()
        guard let provider = Provider(rawValue: providerName) else {
            throw MeterrError(.storage, "stored event has unknown provider \(providerName)")
        }
        let model: String = try next()
        let modelRequested: String? = try next()
        let endpoint: String? = try next()
        let usage = Usage(
            inputTokens: Int(try next(Int64.self)), cacheReadTokens: Int(try next(Int64.self)),
            cacheWriteTokens: Int(try next(Int64.self)), cacheWrite1hTokens: Int(try next(Int64.self)),
            outputTokens: Int(try next(Int64.self)), reasoningTokens: Int(try next(Int64.self)))
        let cost: Int64? = try next()
        let priceId: String? = try next()
        let source: String = try next()
        let stream: Bool = try next()
        let status: Int32? = try next()
        let latency: Int32? = try next()
        let ttft: Int32? = try next()
        let requestId: String? = try next()
        let upstreamRequestId: String? = try next()
        let route: String? = try next()
        let cacheHit: Bool = try next()
        let saved: Int64? = try next()
        return (
            seq,
            UsageEvent(
                id: id, ts: Timestamp(milliseconds: ts), org: org, team: team, user: user, project: project,
                keyId: keyId, tags: try tags.map(JSONText.decodeObject) ?? [:], provider: provider, model: model,
                modelRequested: modelRequested, endpoint: endpoint, usage: usage, cost: cost.map(Money.init(nanos:)),
                priceId: priceId, usageSource: UsageSource(rawValue: source) ?? .reported, stream: stream,
                status: status.map(Int.init), latencyMs: latency.map(Int.init), ttftMs: ttft.map(Int.init),
                requestId: requestId, upstreamRequestId: upstreamRequestId, route: route, cacheHit: cacheHit,
                saved: saved.map(Money.init(nanos:)))
        )
    }
}

extension PostgresStore {
    /// A `usage_rollups` row as read: value, bucket, then requests, the six token counts, cost in
    /// nanodollars, unpriced requests and unpriced tokens.
    typealias RollupCells = (String, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64)

    /// The totals a rollup row holds.
    static func totals(_ cells: RollupCells) -> UsageTotals {
        UsageTotals(
            requests: Int(cells.2),
            usage: Usage(
                inputTokens: Int(cells.3), cacheReadTokens: Int(cells.4), cacheWriteTokens: Int(cells.5),
                cacheWrite1hTokens: Int(cells.6), outputTokens: Int(cells.7), reasoningTokens: Int(cells.8)),
            pricedCost: Money(nanos: cells.9), unpricedRequests: Int(cells.10), unpricedTokens: Int(cells.11))
    }
}
