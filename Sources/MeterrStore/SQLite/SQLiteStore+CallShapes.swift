import GRDB
import MeterrCore

extension SQLiteStore: CallShapeStore {
    public func append(_ events: [UsageEvent], shapes: [CallShape]) async throws -> [Bool] {
        guard !shapes.isEmpty else { return try await append(events) }
        return try await write { db in
            let inserted = try Self.append(events, in: db)
            try Self.insert(shapes, in: db)
            return inserted
        }
    }

    static func insert(_ shapes: [CallShape], in db: Database) throws {
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO call_shapes (org, event_id, ts, request_hash, prompt_tokens, prefixes, tools, max_tokens)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (org, event_id) DO NOTHING
                """)
        var row = RawRow(insert, db)
        for shape in shapes {
            row.bind(shape.org)
            row.bind(shape.eventId)
            row.bind(shape.ts.milliseconds)
            row.bind(shape.requestHash)
            row.bind(shape.promptTokens)
            row.bind(shape.prefixText)
            row.bind(shape.tools ? 1 : 0)
            row.bind(shape.maxTokens)
            _ = try row.execute()
        }
    }

    public func shapedCalls(org: String, from: Timestamp, to: Timestamp, team: String?, limit: Int) async throws
        -> [ShapedCall]
    {
        let columns = Self.eventColumns.split(separator: ",").map { "e." + $0.trimmingCharacters(in: .whitespaces) }
            .joined(separator: ", ")
        var sql = """
            SELECT \(columns), s.event_id, s.request_hash, s.prompt_tokens, s.prefixes, s.tools, s.max_tokens
            FROM usage_events e LEFT JOIN call_shapes s ON s.org = e.org AND s.event_id = e.id
            WHERE e.org = ? AND e.ts >= ? AND e.ts < ?
            """
        var arguments: [(any DatabaseValueConvertible)?] = [org, from.milliseconds, to.milliseconds]
        if let team {
            sql += " AND e.team = ?"
            arguments.append(team)
        }
        sql += " ORDER BY e.ts, e.seq LIMIT ?"
        arguments.append(limit)
        let query = sql
        let statementArguments = StatementArguments(arguments)
        return try await read { db in
            try Row.fetchAll(db, sql: query, arguments: statementArguments).map { row in
                let event = try Self.event(from: row, offset: 0)
                let o = 30
                let eventId: String? = row[o]
                let shape = eventId.map { id in
                    CallShape(
                        org: event.org, eventId: id, ts: event.ts, requestHash: row[o + 1], promptTokens: row[o + 2],
                        prefixes: CallShape.prefixes(row[o + 3] ?? ""), tools: row[o + 4], maxTokens: row[o + 5])
                }
                return ShapedCall(shape: shape, event: event)
            }
        }
    }
}
