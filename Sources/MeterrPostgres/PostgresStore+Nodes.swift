import Foundation
import PostgresNIO

/// The meterr nodes at work on this database. Each says it is alive every few seconds; a node not
/// seen for `PostgresStore.nodeLifetime` no longer counts (it died or was stopped), and is forgotten
/// a minute later.
extension PostgresStore {
    /// How long a node counts after it was last seen.
    public static let nodeLifetime: Duration = .seconds(15)

    /// Notes that node `id` is alive; returns how many nodes are (itself included).
    public func heartbeat(node id: String) async throws -> Int {
        let lifetime = Self.nodeLifetime.components.seconds
        let host = ProcessInfo.processInfo.hostName
        return try await client.withTransaction(logger: logger) { connection in
            try await connection.query(
                """
                INSERT INTO meterr_nodes (id, host) VALUES (\(id), \(host))
                ON CONFLICT (id) DO UPDATE SET seen_at = now()
                """, logger: logger)
            try await connection.query(
                "DELETE FROM meterr_nodes WHERE seen_at < now() - interval '1 minute'", logger: logger)
            let rows = try await connection.query(
                "SELECT count(*)::bigint FROM meterr_nodes WHERE seen_at >= now() - \(lifetime) * interval '1 second'",
                logger: logger)
            var count: Int64 = 1
            for try await value in rows.decode(Int64.self) { count = value }
            return Int(max(1, count))
        }
    }

    /// Says node `id` stopped, so the others take its share at once.
    public func leave(node id: String) async throws {
        try await client.query("DELETE FROM meterr_nodes WHERE id = \(id)", logger: logger)
    }
}
