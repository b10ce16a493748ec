import GRDB
import MeterrCore

extension SQLiteStore: CallShapeStore {
    public func append(_ shapes: [CallShape]) async throws {
        guard !shapes.isEmpty else { return }
        try await write { db in
            let insert = try db.cachedStatement(
                sql: """
                    INSERT INTO call_shapes (org, event_id, ts, request_hash, prompt_tokens, prefixes, tools, max_tokens)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (org, event_id) DO NOTHING
                    """)
            for shape in shapes {
                try insert.execute(arguments: [
                    shape.org, shape.eventId, shape.ts.milliseconds, shape.requestHash, shape.promptTokens,
                    shape.prefixText, shape.tools ? 1 : 0, shape.maxTokens,
                ])
            }
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
