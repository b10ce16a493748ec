import Foundation
import Logging
import MeterrCore
import MeterrStore
import PostgresNIO

extension PostgresStore: CallShapeStore {
    /// The event columns as `shapedCalls` reads them, of the events' alias `e`.
    static let joinedEventColumns =
        "e.seq, "
        + selectColumns.split(separator: ",").map { "e." + $0.trimmingCharacters(in: .whitespaces) }
        .joined(separator: ", ")

    /// Stores shapes in the caller's transaction (the ledger's append, as `meterr_app`): each
    /// organisation's as that organisation, in key order (the first of duplicates wins, a shape already
    /// stored stays), so concurrent nodes lock rows in one order.
    func insertShapes(_ shapes: [CallShape], on connection: PostgresConnection) async throws {
        let byOrg = Dictionary(grouping: shapes, by: \.org)
        for org in byOrg.keys.sorted() {
            let shapes = byOrg[org]!
            try await see(org, on: connection)
            try await connection.query(
                """
                INSERT INTO call_shapes (org, event_id, ts, request_hash, prompt_tokens, prefixes, tools, max_tokens)
                SELECT \(org), event_id, ts, request_hash, prompt_tokens, prefixes, tools, max_tokens
                FROM unnest(\(shapes.map(\.eventId))::text[], \(shapes.map(\.ts.milliseconds))::int8[],
                    \(shapes.map(\.requestHash))::text[], \(shapes.map { Int64($0.promptTokens) })::int8[],
                    \(shapes.map(\.prefixText))::text[], \(shapes.map(\.tools))::bool[],
                    \(NullableArray(shapes.map { $0.maxTokens.map(Int64.init) }))::int8[])
                    WITH ORDINALITY AS batch (event_id, ts, request_hash, prompt_tokens, prefixes, tools, max_tokens, n)
                ORDER BY event_id, n
                ON CONFLICT (org, event_id) DO NOTHING
                """, logger: logger)
        }
    }

    public func shapedCalls(org: String, from: Timestamp, to: Timestamp, team: String?, limit: Int) async throws
        -> [ShapedCall]
    {
        let query: PostgresQuery = """
            SELECT \(unescaped: Self.joinedEventColumns), s.event_id, s.request_hash, s.prompt_tokens, s.prefixes,
                s.tools, s.max_tokens
            FROM usage_events e LEFT JOIN call_shapes s ON s.org = e.org AND s.event_id = e.id
            WHERE e.org = \(org) AND e.ts >= \(from.milliseconds) AND e.ts < \(to.milliseconds)
                AND (\(team)::text IS NULL OR e.team = \(team))
            ORDER BY e.ts, e.seq LIMIT \(Int64(limit))
            """
        return try await tenant(org) { connection in
            var calls: [ShapedCall] = []
            for try await row in try await connection.query(query, logger: logger) {
                let (_, event) = try Self.event(row)
                let cells = row.makeRandomAccess()
                let o = 31
                let shape = try cells[o].decode(String?.self).map { id in
                    CallShape(
                        org: event.org, eventId: id, ts: event.ts, requestHash: try cells[o + 1].decode(String.self),
                        promptTokens: Int(try cells[o + 2].decode(Int64.self)),
                        prefixes: CallShape.prefixes(try cells[o + 3].decode(String?.self) ?? ""),
                        tools: try cells[o + 4].decode(Bool.self),
                        maxTokens: try cells[o + 5].decode(Int64?.self).map(Int.init))
                }
                calls.append(ShapedCall(shape: shape, event: event))
            }
            return calls
        }
    }
}
