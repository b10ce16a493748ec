import MeterrCore
import MeterrStore
import PostgresNIO

/// Retention and readiness on PostgreSQL. Events go a whole month at a time: a month past every
/// organisation's retention is dropped as a partition (`dropEventMonths`), never deleted row by row;
/// only an organisation that keeps its events for less time than another has its rows of the months
/// still kept deleted.
extension PostgresStore {
    /// Whether the database answers.
    public func isReady() async -> Bool {
        do {
            let rows = try await client.query("SELECT 1::integer", logger: logger)
            for try await one in rows.decode(Int.self) { return one == 1 }
            return false
        } catch {
            return false
        }
    }

    public func retentionCutoff(_ cutoff: Timestamp) -> Timestamp { cutoff.monthStart }

    public func removeEvents(org: String, before: Timestamp, limit: Int) async throws -> Int {
        try await tenant(org) { connection in
            let rows = try await connection.query(
                """
                WITH gone AS (
                    DELETE FROM usage_events WHERE (org, ts, seq) IN (
                        SELECT org, ts, seq FROM usage_events WHERE org = \(org) AND ts < \(before.milliseconds)
                        ORDER BY ts LIMIT \(limit))
                    RETURNING id
                ), ids AS (
                    DELETE FROM usage_event_ids WHERE org = \(org) AND id IN (SELECT id FROM gone) RETURNING 1
                )
                SELECT count(*)::bigint FROM gone
                """, logger: logger)
            var removed: Int64 = 0
            for try await count in rows.decode(Int64.self) { removed = count }
            try await connection.query(
                "DELETE FROM call_shapes WHERE org = \(org) AND ts < \(before.milliseconds)", logger: logger)
            return Int(removed)
        }
    }

    public func recordAudit(org: String, actor: String, action: String, target: String?, detail: String?)
        async throws
    {
        try await tenant(org) { connection in
            try await log(on: connection, org: org, actor: actor, action: action, target: target, detail: detail)
        }
    }
}
