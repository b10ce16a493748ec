import GRDB
import MeterrCore

extension SQLiteStore: AlertStore {
    static let alertColumns =
        "id, org_id, kind, subject, severity, message, dedupe_key, created_at, acknowledged_at, acknowledged_by, details"

    static func alert(_ row: Row) -> AlertRecord {
        AlertRecord(
            id: row[0], orgId: row[1], kind: row[2], subject: row[3], severity: row[4], message: row[5],
            dedupeKey: row[6], createdAt: Timestamp(milliseconds: row[7]),
            acknowledgedAt: (row[8] as Int64?).map(Timestamp.init(milliseconds:)), acknowledgedBy: row[9]
        )
        .withDetails((row[10] as String?).flatMap { try? JSONText.decodeObject($0) } ?? [:])
    }

    public func recordAlerts(_ alerts: [AlertRecord]) async throws -> [AlertRecord] {
        if alerts.isEmpty { return [] }
        return try await write { db in
            var recorded: [AlertRecord] = []
            for alert in alerts {
                try db.execute(
                    sql: "INSERT INTO alerts (\(Self.alertColumns), renotify_at) "
                        + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING",
                    arguments: [
                        alert.id, alert.orgId, alert.kind, alert.subject, alert.severity, alert.message,
                        alert.dedupeKey, alert.createdAt.milliseconds,
                        alert.details.isEmpty ? nil : JSONText.object(alert.details), alert.renotifyAt?.milliseconds,
                    ])
                if db.changesCount > 0 { recorded.append(alert) }
            }
            return recorded
        }
    }

    public func alerts(org: String, limit: Int, unacknowledgedOnly: Bool) async throws -> [AlertRecord] {
        try await read { db in
            try Array(
                Row.fetchCursor(
                    db.cachedStatement(
                        sql: "SELECT \(Self.alertColumns) FROM alerts WHERE org_id = ?"
                            + (unacknowledgedOnly ? " AND acknowledged_at IS NULL" : "")
                            + " ORDER BY created_at DESC, id LIMIT ?"),
                    arguments: [org, limit]
                ).map(Self.alert))
        }
    }

    public func acknowledge(org: String, id: String, actor: String) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql:
                    "UPDATE alerts SET acknowledged_at = COALESCE(acknowledged_at, ?), acknowledged_by = COALESCE(acknowledged_by, ?) "
                    + "WHERE org_id = ? AND id = ?",
                arguments: [self.clock.now().milliseconds, actor, org, id])
            return db.changesCount > 0
        }
    }

    public func acknowledgeAll(org: String, kind: String?, severity: String?, actor: String) async throws -> Int {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE alerts SET acknowledged_at = ?, acknowledged_by = ?
                    WHERE org_id = ? AND acknowledged_at IS NULL AND (? IS NULL OR kind = ?) AND (? IS NULL OR severity = ?)
                    """, arguments: [self.clock.now().milliseconds, actor, org, kind, kind, severity, severity])
            let count = db.changesCount
            if count > 0 {
                try self.log(
                    db, org: org, actor: actor, action: "alert.acknowledge_all", target: nil,
                    detail: "\(count) alerts" + (kind.map { " of kind \($0)" } ?? "")
                        + (severity.map { ", \($0)" } ?? ""))
            }
            return count
        }
    }

    public func latestAlert(org: String, kind: String, subject: String?) async throws -> AlertRecord? {
        try await read { db in
            try Row.fetchOne(
                db.cachedStatement(
                    sql: "SELECT \(Self.alertColumns) FROM alerts WHERE org_id = ? AND kind = ? AND subject IS ? "
                        + "ORDER BY created_at DESC LIMIT 1"),
                arguments: [org, kind, subject]
            ).map(Self.alert)
        }
    }

    public func dueRenotifications(now: Timestamp, limit: Int) async throws -> [(AlertRecord, Int)] {
        try await read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: "SELECT \(Self.alertColumns), notifications FROM alerts "
                        + "WHERE renotify_at <= ? AND acknowledged_at IS NULL ORDER BY renotify_at LIMIT ?"),
                arguments: [now.milliseconds, limit]
            ).map { (Self.alert($0), $0[11]) }
        }
    }

    public func markNotified(id: String, sent: Bool, next: Timestamp?) async throws {
        try await write { db in
            try db.execute(
                sql: "UPDATE alerts SET renotify_at = ?, notifications = notifications + ? WHERE id = ?",
                arguments: [next?.milliseconds, sent ? 1 : 0, id])
        }
    }
}
