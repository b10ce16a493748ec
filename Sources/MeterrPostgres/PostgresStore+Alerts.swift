import Logging
import MeterrCore
import MeterrStore
import PostgresNIO

/// The alert log on PostgreSQL. Several nodes may raise the same alert: each dedupe key of an
/// organisation is recorded once (a unique constraint), and an unacknowledged alert due to be sent
/// again is claimed by one node at a time.
extension PostgresStore: AlertStore {
    static let alertColumns =
        "id, org, kind, subject, severity, message, dedupe_key, created_at, acknowledged_at, acknowledged_by, details"

    /// How long a node that claimed an alert's re-notification has to note it (`markNotified`) before
    /// another node may claim it again: one database round trip per alert, so a minute is plenty.
    static let renotificationLease: Int64 = 60_000

    typealias AlertRow = (String, String, String, String?, String, String, String, Int64, Int64?, String?, String?)

    static func alert(_ row: AlertRow) -> AlertRecord {
        AlertRecord(
            id: row.0, orgId: row.1, kind: row.2, subject: row.3, severity: row.4, message: row.5, dedupeKey: row.6,
            createdAt: Timestamp(milliseconds: row.7), acknowledgedAt: row.8.map(Timestamp.init(milliseconds:)),
            acknowledgedBy: row.9
        )
        .withDetails(row.10.flatMap { try? JSONText.decodeObject($0) } ?? [:])
    }

    public func recordAlerts(_ alerts: [AlertRecord]) async throws -> [AlertRecord] {
        if alerts.isEmpty { return [] }
        // Rows in (organisation, dedupe key) order, so nodes recording overlapping batches wait for one
        // another in one order and never deadlock; each organisation's rows as that organisation.
        let order = alerts.indices.sorted {
            (alerts[$0].orgId, alerts[$0].dedupeKey) < (alerts[$1].orgId, alerts[$1].dedupeKey)
        }
        let inserted = try await client.withTransaction(logger: logger) { connection -> Set<Int> in
            try await become(PostgresMigrations.appRole, on: connection)
            var inserted: Set<Int> = []
            var current: String?
            for index in order {
                let alert = alerts[index]
                if alert.orgId != current {
                    try await see(alert.orgId, on: connection)
                    current = alert.orgId
                }
                let rows = try await connection.query(
                    """
                    INSERT INTO alerts (\(unescaped: Self.alertColumns), renotify_at)
                    VALUES (\(alert.id), \(alert.orgId), \(alert.kind), \(alert.subject), \(alert.severity),
                        \(alert.message), \(alert.dedupeKey), \(alert.createdAt.milliseconds), NULL, NULL,
                        \(alert.details.isEmpty ? nil : JSONText.object(alert.details)),
                        \(alert.renotifyAt?.milliseconds))
                    ON CONFLICT (org, dedupe_key) DO NOTHING RETURNING id
                    """, logger: logger)
                for try await _ in rows.decode(String.self) { inserted.insert(index) }
            }
            return inserted
        }
        return alerts.indices.filter(inserted.contains).map { alerts[$0] }
    }

    public func alerts(org: String, limit: Int, unacknowledgedOnly: Bool) async throws -> [AlertRecord] {
        try await tenant(org) { connection in
            let rows = try await connection.query(
                """
                SELECT \(unescaped: Self.alertColumns) FROM alerts
                WHERE org = \(org) AND (NOT \(unacknowledgedOnly) OR acknowledged_at IS NULL)
                ORDER BY created_at DESC, id COLLATE "C" LIMIT \(Int64(limit))
                """, logger: logger)
            var alerts: [AlertRecord] = []
            for try await row in rows.decode(AlertRow.self) { alerts.append(Self.alert(row)) }
            return alerts
        }
    }

    public func acknowledge(org: String, id: String, actor: String) async throws -> Bool {
        try await tenant(org) { connection in
            let rows = try await connection.query(
                """
                UPDATE alerts SET acknowledged_at = coalesce(acknowledged_at, \(clock.now().milliseconds)),
                    acknowledged_by = coalesce(acknowledged_by, \(actor))
                WHERE org = \(org) AND id = \(id) RETURNING id
                """, logger: logger)
            var found = false
            for try await _ in rows.decode(String.self) { found = true }
            return found
        }
    }

    public func acknowledgeAll(org: String, kind: String?, severity: String?, actor: String) async throws -> Int {
        try await tenant(org) { connection in
            let rows = try await connection.query(
                """
                WITH acknowledged AS (
                    UPDATE alerts SET acknowledged_at = \(clock.now().milliseconds), acknowledged_by = \(actor)
                    WHERE org = \(org) AND acknowledged_at IS NULL
                        AND (\(kind)::text IS NULL OR kind = \(kind))
                        AND (\(severity)::text IS NULL OR severity = \(severity))
                    RETURNING id
                )
                SELECT count(*) FROM acknowledged
                """, logger: logger)
            var count = 0
            for try await value in rows.decode(Int64.self) { count = Int(value) }
            if count > 0 {
                try await log(
                    on: connection, org: org, actor: actor, action: "alert.acknowledge_all", target: nil,
                    detail: "\(count) alerts" + (kind.map { " of kind \($0)" } ?? "")
                        + (severity.map { ", \($0)" } ?? ""))
            }
            return count
        }
    }

    public func latestAlert(org: String, kind: String, subject: String?) async throws -> AlertRecord? {
        try await tenant(org) { connection in
            let rows = try await connection.query(
                """
                SELECT \(unescaped: Self.alertColumns) FROM alerts
                WHERE org = \(org) AND kind = \(kind) AND subject IS NOT DISTINCT FROM \(subject)::text
                ORDER BY created_at DESC LIMIT 1
                """, logger: logger)
            var latest: AlertRecord?
            for try await row in rows.decode(AlertRow.self) { latest = Self.alert(row) }
            return latest
        }
    }

    /// Claims the due alerts it returns, every organisation's: each is due again only after
    /// `renotificationLease` unless `markNotified` says when, so nodes running at once never send the
    /// same reminder twice, and one that dies after claiming leaves its alerts to the others.
    public func dueRenotifications(now: Timestamp, limit: Int) async throws -> [(AlertRecord, Int)] {
        try await acrossOrganisations { connection in
            let rows = try await connection.query(
                """
                WITH due AS MATERIALIZED (
                    SELECT id, renotify_at FROM alerts
                    WHERE renotify_at <= \(now.milliseconds) AND acknowledged_at IS NULL
                    ORDER BY renotify_at LIMIT \(Int64(limit)) FOR UPDATE SKIP LOCKED
                )
                UPDATE alerts a SET renotify_at = \(now.milliseconds + Self.renotificationLease) FROM due
                WHERE a.id = due.id
                RETURNING a.id, a.org, a.kind, a.subject, a.severity, a.message, a.dedupe_key, a.created_at,
                    a.acknowledged_at, a.acknowledged_by, a.details, a.notifications, due.renotify_at
                """, logger: logger)
            var due: [(alert: AlertRecord, notifications: Int, at: Int64)] = []
            for try await row in rows.decode(
                (String, String, String, String?, String, String, String, Int64, Int64?, String?, String?, Int64, Int64)
                    .self)
            {
                let alert = Self.alert((row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9, row.10))
                due.append((alert, Int(row.11), row.12))
            }
            // RETURNING keeps no order: the oldest due first, as SQLite answers.
            due.sort {
                ($0.at, $0.alert.createdAt.milliseconds, $0.alert.id) < (
                    $1.at, $1.alert.createdAt.milliseconds, $1.alert.id
                )
            }
            return due.map { ($0.alert, $0.notifications) }
        }
    }

    public func markNotified(id: String, sent: Bool, next: Timestamp?) async throws {
        try await acrossOrganisations { connection -> Void in
            try await connection.query(
                """
                UPDATE alerts SET renotify_at = \(next?.milliseconds), notifications = notifications + \(sent ? 1 : 0)
                WHERE id = \(id)
                """, logger: logger)
        }
    }
}
