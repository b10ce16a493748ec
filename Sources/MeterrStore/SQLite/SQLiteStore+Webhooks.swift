import Foundation
import GRDB
import MeterrCore

extension SQLiteStore: WebhookStore {
    public func createWebhook(_ webhook: Webhook, secret: String, vault: CredentialVault, actor: String) async throws {
        let sealed = Data(try vault.seal(secret))
        try await write { db in
            try Self.requireOrganisation(db, webhook.orgId)
            try db.execute(
                sql:
                    "INSERT INTO webhooks (id, org_id, url, format, sealed_secret, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [
                    webhook.id, webhook.orgId, webhook.url, webhook.format, sealed, webhook.createdAt.milliseconds,
                ])
            try self.log(
                db, org: webhook.orgId, actor: actor, action: "webhook.create", target: webhook.id, detail: webhook.url)
        }
    }

    public func webhooks(org: String) async throws -> [Webhook] {
        try await read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: "SELECT id, org_id, url, format, created_at FROM webhooks WHERE org_id = ? ORDER BY created_at"
                ),
                arguments: [org]
            ).map {
                Webhook(id: $0[0], orgId: $0[1], url: $0[2], format: $0[3], createdAt: Timestamp(milliseconds: $0[4]))
            }
        }
    }

    public func deleteWebhook(org: String, id: String, actor: String) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql:
                    "DELETE FROM webhook_deliveries WHERE webhook_id IN (SELECT id FROM webhooks WHERE org_id = ? AND id = ?)",
                arguments: [org, id])
            try db.execute(sql: "DELETE FROM webhooks WHERE org_id = ? AND id = ?", arguments: [org, id])
            guard db.changesCount > 0 else { return false }
            try self.log(db, org: org, actor: actor, action: "webhook.delete", target: id, detail: nil)
            return true
        }
    }

    public func enqueueDeliveries(alert: AlertRecord, deliveryKey: String, payload: (Webhook) -> String) async throws {
        let hooks = try await webhooks(org: alert.orgId)
        if hooks.isEmpty { return }
        let bodies = hooks.map { ($0.id, payload($0)) }
        try await write { db in
            for (id, body) in bodies {
                try db.execute(
                    sql: """
                        INSERT INTO webhook_deliveries (webhook_id, alert_id, payload, next_attempt_at) VALUES (?, ?, ?, ?)
                        ON CONFLICT (webhook_id, alert_id) DO NOTHING
                        """,
                    arguments: [id, deliveryKey, body, self.clock.now().milliseconds])
            }
        }
    }

    public func dueDeliveries(now: Timestamp, limit: Int, vault: CredentialVault) async throws -> [Delivery] {
        try await read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT d.seq, w.id, w.org_id, w.url, w.format, w.created_at, w.sealed_secret, d.alert_id, d.payload,
                            d.attempts
                        FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
                        WHERE d.delivered_at IS NULL AND d.next_attempt_at <= ?
                        ORDER BY d.seq LIMIT ?
                        """),
                arguments: [now.milliseconds, limit]
            ).map { row in
                Delivery(
                    seq: row[0],
                    webhook: Webhook(
                        id: row[1], orgId: row[2], url: row[3], format: row[4],
                        createdAt: Timestamp(milliseconds: row[5])),
                    secret: try vault.open(Array(row[6] as Data)), alertId: row[7], payload: row[8], attempts: row[9])
            }
        }
    }

    public func markDelivered(seq: Int64, at: Timestamp) async throws {
        try await write { db in
            try db.execute(
                sql: "UPDATE webhook_deliveries SET delivered_at = ?, attempts = attempts + 1 WHERE seq = ?",
                arguments: [at.milliseconds, seq])
        }
    }

    public func markFailed(seq: Int64, attempts: Int, nextAttempt: Timestamp, error: String) async throws {
        try await write { db in
            try db.execute(
                sql: "UPDATE webhook_deliveries SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE seq = ?",
                arguments: [attempts, nextAttempt.milliseconds, String(error.prefix(500)), seq])
        }
    }
}
