import MeterrCore
import PostgresNIO

/// Every node's new events, for the live dashboards of each node.
extension PostgresStore {
    /// The number of the newest event stored (0 when none).
    public func newestEventNumber() async throws -> Int64 {
        try await acrossOrganisations { connection in
            var newest: Int64 = 0
            for try await value in try await connection.query(
                "SELECT coalesce(max(seq), 0)::bigint FROM usage_events", logger: logger
            ).decode(Int64.self) {
                newest = value
            }
            return newest
        }
    }

    /// Events of every organisation numbered after `number`, in number order, at most `limit`, with
    /// their numbers.
    public func events(after number: Int64, limit: Int) async throws -> [(number: Int64, event: UsageEvent)] {
        try await acrossOrganisations { connection in
            var rows: [(Int64, UsageEvent)] = []
            for try await row in try await connection.query(
                """
                SELECT seq, \(unescaped: Self.selectColumns) FROM usage_events
                WHERE seq > \(number) ORDER BY seq LIMIT \(limit)
                """, logger: logger)
            {
                rows.append(try Self.event(row))
            }
            return rows.map { (number: $0.0, event: $0.1) }
        }
    }
}
