import Foundation
import GRDB
import MeterrCore

extension SQLiteStore: UsageLedger, CallHealthStore {
    static let eventColumns = """
        org, id, ts, team, user, project, key_id, tags, provider, model, model_requested, endpoint, \
        input_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, output_tokens, \
        reasoning_tokens, cost_nanos, price_id, usage_source, stream, status, latency_ms, ttft_ms, \
        request_id, upstream_request_id, route, cache_hit, saved_nanos
        """

    public func append(_ events: [UsageEvent]) async throws -> [Bool] {
        if events.isEmpty { return [] }
        return try await write { db in try Self.append(events, in: db) }
    }

    /// Inserts events and their rollup deltas inside the caller's transaction.
    static func append(_ events: [UsageEvent], in db: Database) throws -> [Bool] {
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO usage_events (\(eventColumns))
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (org, id) DO NOTHING
                """)
        var inserted = [Bool]()
        inserted.reserveCapacity(events.count)
        var deltas = RollupDeltas()
        var health = HealthDeltas()
        // The hot loop binds values straight into SQLite's prepared statement: building GRDB's
        // argument arrays cost more than the inserts themselves.
        var row = RawRow(insert, db)
        for event in events {
            let usage = event.usage
            row.bind(event.org)
            row.bind(event.id)
            row.bind(event.ts.milliseconds)
            row.bind(event.team)
            row.bind(event.user)
            row.bind(event.project)
            row.bind(event.keyId)
            row.bind(event.tags.isEmpty ? nil : JSONText.object(event.tags))
            row.bind(event.provider.rawValue)
            row.bind(event.model)
            row.bind(event.modelRequested)
            row.bind(event.endpoint)
            row.bind(usage.inputTokens)
            row.bind(usage.cacheReadTokens)
            row.bind(usage.cacheWriteTokens)
            row.bind(usage.cacheWrite1hTokens)
            row.bind(usage.outputTokens)
            row.bind(usage.reasoningTokens)
            row.bind(event.cost?.nanos)
            row.bind(event.priceId)
            row.bind(event.usageSource.rawValue)
            row.bind(event.stream ? 1 : 0)
            row.bind(event.status)
            row.bind(event.latencyMs)
            row.bind(event.ttftMs)
            row.bind(event.requestId)
            row.bind(event.upstreamRequestId)
            row.bind(event.route)
            row.bind(event.cacheHit ? 1 : 0)
            row.bind(event.saved?.nanos)
            let isNew = try row.execute() > 0
            inserted.append(isNew)
            if isNew {
                deltas.add(event)
                health.add(event)
            }
        }
        let upsert = try db.cachedStatement(
            sql: """
                INSERT INTO usage_rollups (org, grain, dim, bucket, value, requests, input_tokens,
                    cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens,
                    cost_nanos, unpriced_requests, unpriced_tokens)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (org, grain, dim, bucket, value) DO UPDATE SET
                    requests = requests + excluded.requests,
                    input_tokens = input_tokens + excluded.input_tokens,
                    cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
                    cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
                    cache_write_1h_tokens = cache_write_1h_tokens + excluded.cache_write_1h_tokens,
                    output_tokens = output_tokens + excluded.output_tokens,
                    reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
                    cost_nanos = cost_nanos + excluded.cost_nanos,
                    unpriced_requests = unpriced_requests + excluded.unpriced_requests,
                    unpriced_tokens = unpriced_tokens + excluded.unpriced_tokens
                """)
        var rollup = RawRow(upsert, db)
        try deltas.forEachRow { key, totals in
            let usage = totals.usage
            rollup.bind(key.org)
            rollup.bind(key.grain.rawValue)
            rollup.bind(key.dimension.rawValue)
            rollup.bind(key.bucket)
            rollup.bind(key.value)
            rollup.bind(totals.requests)
            rollup.bind(usage.inputTokens)
            rollup.bind(usage.cacheReadTokens)
            rollup.bind(usage.cacheWriteTokens)
            rollup.bind(usage.cacheWrite1hTokens)
            rollup.bind(usage.outputTokens)
            rollup.bind(usage.reasoningTokens)
            rollup.bind(totals.pricedCost.nanos)
            rollup.bind(totals.unpricedRequests)
            rollup.bind(totals.unpricedTokens)
            _ = try rollup.execute()
        }
        try Self.write(health, in: db)
        return inserted
    }

    public func dailyCost(
        org: String, by grouping: SummaryGrouping, from: Timestamp, to: Timestamp, calendar: LocalCalendar
    ) async throws -> [(day: Timestamp, value: String, cost: Money)] {
        let dimension = RollupDimension(grouping)
        // Local days are made of hours; UTC days come whole from the daily rollups.
        let grain: RollupGrain = calendar.isUTC ? .day : .hour
        let start = calendar.isUTC ? from.dayStart : from.hourStart
        let rows = try await read { db -> [(Int64, String, Int64)] in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT bucket, value, cost_nanos FROM usage_rollups
                        WHERE org = ? AND grain = ? AND dim = ? AND bucket >= ? AND bucket < ?
                        """),
                arguments: [org, grain.rawValue, dimension.rawValue, start.milliseconds, to.milliseconds]
            ).map { ($0[0], $0[1], $0[2]) }
        }
        return RollupSummary.dailyCost(rows, calendar: calendar)
    }

    /// One team's spend by user over `[from, to)`, from the rollups (hour resolution, as the summary),
    /// dearest first.
    public func teamUsers(org: String, team: String, from: Timestamp, to: Timestamp) async throws -> [BreakdownRow] {
        let dimension = RollupDimension.teamUser
        let prefix = team + RollupDimension.separator
        let ranges = RollupSummary.ranges(from: from, to: to, hourly: false)
        let groups = try await read { db -> [String: UsageTotals] in
            var groups: [String: UsageTotals] = [:]
            let statement = try db.cachedStatement(
                sql: """
                    SELECT value, requests, input_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens,
                        output_tokens, reasoning_tokens, cost_nanos, unpriced_requests, unpriced_tokens
                    FROM usage_rollups
                    WHERE org = ? AND grain = ? AND dim = ? AND bucket >= ? AND bucket < ?
                        AND substr(value, 1, ?) = ?
                    """)
            for (grain, start, end) in ranges where start < end {
                let rows = try Row.fetchCursor(
                    statement,
                    arguments: [
                        org, grain.rawValue, dimension.rawValue, start, end, prefix.unicodeScalars.count, prefix,
                    ])
                while let row = try rows.next() {
                    groups[row[0], default: UsageTotals()] += UsageTotals(
                        requests: row[1],
                        usage: Usage(
                            inputTokens: row[2], cacheReadTokens: row[3], cacheWriteTokens: row[4],
                            cacheWrite1hTokens: row[5], outputTokens: row[6], reasoningTokens: row[7]),
                        pricedCost: Money(nanos: row[8]), unpricedRequests: row[9], unpricedTokens: row[10])
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

    /// Adds a batch's call health to the day rollups.
    static func write(_ health: HealthDeltas, in db: Database) throws {
        guard !health.rows.isEmpty else { return }
        let calls = try db.cachedStatement(
            sql: """
                INSERT INTO call_health (org, day, model, calls, errors, refusals) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (org, day, model) DO UPDATE SET calls = calls + excluded.calls,
                    errors = errors + excluded.errors, refusals = refusals + excluded.refusals
                """)
        let buckets = try db.cachedStatement(
            sql: """
                INSERT INTO latency_buckets (org, day, model, kind, bucket, count) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (org, day, model, kind, bucket) DO UPDATE SET count = count + excluded.count
                """)
        var callRow = RawRow(calls, db)
        var bucketRow = RawRow(buckets, db)
        for (key, counts) in health.rows.sorted(by: {
            ($0.key.org, $0.key.day, $0.key.model) < ($1.key.org, $1.key.day, $1.key.model)
        }) {
            callRow.bind(key.org)
            callRow.bind(key.day)
            callRow.bind(key.model)
            callRow.bind(counts.calls)
            callRow.bind(counts.errors)
            callRow.bind(counts.refusals)
            _ = try callRow.execute()
            for (kind, histogram) in counts.buckets.enumerated() {
                for (bucket, count) in histogram.sorted(by: { $0.key < $1.key }) {
                    bucketRow.bind(key.org)
                    bucketRow.bind(key.day)
                    bucketRow.bind(key.model)
                    bucketRow.bind(kind)
                    bucketRow.bind(bucket)
                    bucketRow.bind(count)
                    _ = try bucketRow.execute()
                }
            }
        }
    }

    /// Each model's call health over `[from, to)`, whole UTC days, from the day rollups.
    public func modelHealth(org: String, from: Timestamp, to: Timestamp) async throws -> [ModelHealth] {
        try await read { db in
            let range: StatementArguments = [org, from.dayStart.milliseconds, to.milliseconds]
            var tally = ModelHealthTally()
            for row in try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT model, SUM(calls), SUM(errors), SUM(refusals) FROM call_health
                        WHERE org = ? AND day >= ? AND day < ? GROUP BY model
                        """), arguments: range)
            {
                tally.add(model: row[0], calls: row[1], errors: row[2], refusals: row[3])
            }
            for row in try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT model, kind, bucket, SUM(count) FROM latency_buckets
                        WHERE org = ? AND day >= ? AND day < ? GROUP BY model, kind, bucket
                        """), arguments: range)
            {
                tally.add(model: row[0], kind: row[1], bucket: row[2], count: row[3])
            }
            return tally.health
        }
    }

    /// A model filter: the model and its dated snapshots (`ModelFamily`).
    static func modelCondition(_ model: String) -> (String, [(any DatabaseValueConvertible)?]) {
        let patterns = ModelFamily.snapshotPatterns.map { ModelFamily.globEscaped(model) + "-" + $0 }
        return (
            "(model = ?" + String(repeating: " OR model GLOB ?", count: patterns.count) + ")", [model] + patterns
        )
    }

    public func events(org: String, filter: EventFilter, limit: Int, cursor: EventCursor?) async throws -> EventPage {
        let (sql, arguments) = Self.eventPage(org: org, filter: filter, limit: limit, cursor: cursor)
        // Without tags the page's statement is always the same one: compiled once per connection.
        let cached = filter.tags.isEmpty
        let rows = try await read { db in
            let statement = cached ? try db.cachedStatement(sql: sql) : try db.makeStatement(sql: sql)
            return try Self.sequencedEvents(statement, arguments)
        }
        let page = rows.prefix(limit)
        let next = rows.count > limit ? page.last.map { EventCursor(ts: $0.1.ts.milliseconds, sequence: $0.0) } : nil
        return EventPage(events: page.map { $0.1 }, nextCursor: next)
    }

    /// A page of events, newest first, and its arguments. Every filter but tags is an argument (one not
    /// given matches every event), so that without tags the statement's text is the same for every
    /// page and SQLite compiles it once per connection; either way it reads through the
    /// `(org, ts, seq)` index, as a statement built from the filters given did.
    static func eventPage(org: String, filter: EventFilter, limit: Int, cursor: EventCursor?) -> (
        String, StatementArguments
    ) {
        var sql = """
            SELECT seq, \(eventColumns) FROM usage_events
            WHERE org = :org AND ts >= :from AND ts < :to AND (ts, seq) < (:before, :beforeSeq)
                AND (:team IS NULL OR team = :team) AND (:user IS NULL OR user = :user)
                AND (:project IS NULL OR project = :project) AND (:key IS NULL OR key_id = :key)
                AND (:provider IS NULL OR provider = :provider)
                AND (:model IS NULL OR model = :model
            """
        var arguments: [String: (any DatabaseValueConvertible)?] = [
            "org": org, "from": filter.from?.milliseconds ?? Int64.min, "to": filter.to?.milliseconds ?? Int64.max,
            "before": cursor?.ts ?? Int64.max, "beforeSeq": cursor?.sequence ?? Int64.max, "team": filter.team,
            "user": filter.user, "project": filter.project, "key": filter.keyId, "provider": filter.provider?.rawValue,
            "model": filter.model, "limit": limit + 1,
        ]
        for (index, pattern) in ModelFamily.snapshotPatterns.enumerated() {
            sql += " OR model GLOB :snapshot\(index)"
            // (`updateValue`: a nil pattern is an argument, where a subscript would drop the key.)
            arguments.updateValue(
                filter.model.map { ModelFamily.globEscaped($0) + "-" + pattern }, forKey: "snapshot\(index)")
        }
        sql += ")"
        for (index, (key, value)) in filter.tags.sorted(by: { $0.key < $1.key }).enumerated() {
            sql += " AND json_extract(tags, :tagPath\(index)) = :tagValue\(index)"
            arguments["tagPath\(index)"] = JSONText.path(forKey: key)
            arguments["tagValue\(index)"] = value
        }
        sql += " ORDER BY ts DESC, seq DESC LIMIT :limit"
        return (sql, StatementArguments(arguments))
    }

    public func summary(
        org: String, groupBy: SummaryGrouping, from: Timestamp, to: Timestamp, calendar: LocalCalendar
    ) async throws -> UsageSummary {
        let dimension = RollupDimension(groupBy)
        let ranges = RollupSummary.ranges(from: from, to: to, groupBy: groupBy, calendar: calendar)
        let groups = try await read { db -> [String: UsageTotals] in
            var groups: [String: UsageTotals] = [:]
            let statement = try db.cachedStatement(
                sql: """
                    SELECT value, bucket, requests, input_tokens, cache_read_tokens, cache_write_tokens,
                        cache_write_1h_tokens, output_tokens, reasoning_tokens, cost_nanos, unpriced_requests,
                        unpriced_tokens
                    FROM usage_rollups
                    WHERE org = ? AND grain = ? AND dim = ? AND bucket >= ? AND bucket < ?
                    """)
            for (grain, start, end) in ranges where start < end {
                let rows = try Row.fetchCursor(
                    statement, arguments: [org, grain.rawValue, dimension.rawValue, start, end])
                while let row = try rows.next() {
                    let key = RollupSummary.key(value: row[0], bucket: row[1], groupBy: groupBy, calendar: calendar)
                    groups[key, default: UsageTotals()] += UsageTotals(
                        requests: row[2],
                        usage: Usage(
                            inputTokens: row[3], cacheReadTokens: row[4], cacheWriteTokens: row[5],
                            cacheWrite1hTokens: row[6], outputTokens: row[7], reasoningTokens: row[8]),
                        pricedCost: Money(nanos: row[9]), unpricedRequests: row[10], unpricedTokens: row[11])
                }
            }
            return groups
        }
        return RollupSummary.summary(groups, groupBy: groupBy, ranges: ranges)
    }

    public func forEachEvent(
        org: String?, from: Timestamp?, to: Timestamp?, _ body: (UsageEvent) throws -> Void
    ) async throws {
        // Pages of a few thousand rows keep memory flat and never hold a read transaction for long,
        // so a running server's checkpoints are not blocked by a long export.
        var after: (Int64, Int64)? = nil
        let fromMillis = from?.milliseconds ?? Int64.min
        let toMillis = to?.milliseconds ?? Int64.max
        while true {
            var sql = "SELECT seq, \(Self.eventColumns) FROM usage_events WHERE ts >= ? AND ts < ?"
            var arguments: [(any DatabaseValueConvertible)?] = [fromMillis, toMillis]
            if let org {
                sql += " AND org = ?"
                arguments.append(org)
            }
            if let after {
                sql += " AND (ts, seq) > (?, ?)"
                arguments.append(after.0)
                arguments.append(after.1)
            }
            sql += " ORDER BY ts, seq LIMIT 5000"
            let query = sql
            let statementArguments = StatementArguments(arguments)
            let page = try await read { db in
                try Self.sequencedEvents(db.makeStatement(sql: query), statementArguments)
            }
            for (_, event) in page { try body(event) }
            guard let last = page.last, page.count == 5000 else { return }
            after = (last.1.ts.milliseconds, last.0)
        }
    }

    /// The events `statement` selects (`seq` first, then `eventColumns`), each with its sequence, read
    /// from SQLite's row as each is stepped: no copy of a row's values before they are decoded.
    static func sequencedEvents(_ statement: Statement, _ arguments: StatementArguments) throws -> [(
        Int64, UsageEvent
    )] {
        try Array(
            Row.fetchCursor(statement, arguments: arguments).map { row in
                (row[0] as Int64, try event(from: row, offset: 1))
            })
    }

    static func event(from row: Row, offset o: Int) throws -> UsageEvent {
        let tagsText: String? = row[o + 7]
        let providerName: String = row[o + 8]
        guard let provider = Provider(rawValue: providerName) else {
            throw MeterrError(.storage, "stored event has unknown provider \(providerName)")
        }
        let costNanos: Int64? = row[o + 18]
        let sourceName: String = row[o + 20]
        let savedNanos: Int64? = row[o + 29]
        return UsageEvent(
            id: row[o + 1], ts: Timestamp(milliseconds: row[o + 2]), org: row[o], team: row[o + 3], user: row[o + 4],
            project: row[o + 5], keyId: row[o + 6], tags: try tagsText.map(JSONText.decodeObject) ?? [:],
            provider: provider, model: row[o + 9], modelRequested: row[o + 10], endpoint: row[o + 11],
            usage: Usage(
                inputTokens: row[o + 12], cacheReadTokens: row[o + 13], cacheWriteTokens: row[o + 14],
                cacheWrite1hTokens: row[o + 15], outputTokens: row[o + 16], reasoningTokens: row[o + 17]),
            cost: costNanos.map(Money.init(nanos:)), priceId: row[o + 19],
            usageSource: UsageSource(rawValue: sourceName) ?? .reported, stream: row[o + 21], status: row[o + 22],
            latencyMs: row[o + 23], ttftMs: row[o + 24], requestId: row[o + 25], upstreamRequestId: row[o + 26],
            route: row[o + 27], cacheHit: row[o + 28], saved: savedNanos.map(Money.init(nanos:)))
    }
}
