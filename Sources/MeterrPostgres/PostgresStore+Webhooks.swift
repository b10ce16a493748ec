import Logging
import MeterrCore
import MeterrStore
import NIOCore
import PostgresNIO

/// Webhooks and their delivery outbox on PostgreSQL. Several nodes run the sender: each delivery is
/// claimed by one of them for a lease, so it is posted once, and comes due again if its node dies.
extension PostgresStore: WebhookStore {
    /// How long a claimed delivery belongs to the node that claimed it before it is due again. The
    /// sender posts a claim's deliveries (up to 50) one after another, each waiting at most 10 s, so
    /// the lease outlasts a whole claim of timeouts; `markDelivered`/`markFailed` end it earlier.
    static let deliveryLease: Int64 = 600_000

    public func createWebhook(_ webhook: Webhook, secret: String, vault: CredentialVault, actor: String) async throws {
        let sealed = ByteBuffer(bytes: try vault.seal(secret))
        try await tenant(webhook.orgId) { connection in
            try await requireOrganisation(webhook.orgId, on: connection)
            try await connection.query(
                """
                INSERT INTO webhooks (id, org, url, format, sealed_secret, created_at)
                VALUES (\(webhook.id), \(webhook.orgId), \(webhook.url), \(webhook.format), \(sealed),
                    \(webhook.createdAt.milliseconds))
                """, logger: logger)
            try await log(
                on: connection, org: webhook.orgId, actor: actor, action: "webhook.create", target: webhook.id,
                detail: webhook.url)
        }
    }

    public func webhooks(org: String) async throws -> [Webhook] {
        try await tenant(org) { connection in
            let rows = try await connection.query(
                """
                SELECT id, org, url, format, created_at FROM webhooks WHERE org = \(org)
                ORDER BY created_at, id COLLATE "C"
                """, logger: logger)
            var hooks: [Webhook] = []
            for try await (id, org, url, format, created) in rows.decode((String, String, String, String, Int64).self) {
                hooks.append(
                    Webhook(id: id, orgId: org, url: url, format: format, createdAt: Timestamp(milliseconds: created)))
            }
            return hooks
        }
    }

    public func deleteWebhook(org: String, id: String, actor: String) async throws -> Bool {
        try await tenant(org) { connection in
            try await connection.query(
                "DELETE FROM webhook_deliveries WHERE org = \(org) AND webhook_id = \(id)", logger: logger)
            let rows = try await connection.query(
                "DELETE FROM webhooks WHERE org = \(org) AND id = \(id) RETURNING id", logger: logger)
            var deleted = false
            for try await _ in rows.decode(String.self) { deleted = true }
            guard deleted else { return false }
            try await log(on: connection, org: org, actor: actor, action: "webhook.delete", target: id, detail: nil)
            return true
        }
    }

    public func enqueueDeliveries(alert: AlertRecord, deliveryKey: String, payload: (Webhook) -> String) async throws {
        let hooks = try await webhooks(org: alert.orgId)
        if hooks.isEmpty { return }
        let bodies = hooks.map { ($0.id, payload($0)) }
        let now = clock.now().milliseconds
        try await tenant(alert.orgId) { connection in
            for (id, body) in bodies {
                // From the webhook's row: one deleted meanwhile gets no delivery (nor a foreign key error).
                try await connection.query(
                    """
                    INSERT INTO webhook_deliveries (org, webhook_id, alert_id, payload, next_attempt_at)
                    SELECT org, id, \(deliveryKey), \(body), \(now) FROM webhooks
                    WHERE org = \(alert.orgId) AND id = \(id)
                    ON CONFLICT (webhook_id, alert_id) DO NOTHING
                    """, logger: logger)
            }
        }
    }

    /// Claims the deliveries it returns (every organisation's, oldest first) in one statement: each
    /// is due again only after `deliveryLease` unless marked delivered or failed first, so nodes
    /// calling it at once never get the same delivery. Rows another node is claiming are skipped.
    public func dueDeliveries(now: Timestamp, limit: Int, vault: CredentialVault) async throws -> [Delivery] {
        try await acrossOrganisations { connection in
            let rows = try await connection.query(
                """
                WITH due AS MATERIALIZED (
                    SELECT seq FROM webhook_deliveries
                    WHERE delivered_at IS NULL AND next_attempt_at <= \(now.milliseconds)
                    ORDER BY seq LIMIT \(Int64(limit)) FOR UPDATE SKIP LOCKED
                ), claimed AS (
                    UPDATE webhook_deliveries d SET next_attempt_at = \(now.milliseconds + Self.deliveryLease)
                    FROM due WHERE d.seq = due.seq
                    RETURNING d.seq, d.webhook_id, d.alert_id, d.payload, d.attempts
                )
                SELECT c.seq, w.id, w.org, w.url, w.format, w.created_at, w.sealed_secret, c.alert_id, c.payload,
                    c.attempts
                FROM claimed c JOIN webhooks w ON w.id = c.webhook_id
                ORDER BY c.seq
                """, logger: logger)
            var due: [Delivery] = []
            for try await row in rows.decode(
                (Int64, String, String, String, String, Int64, ByteBuffer, String, String, Int32).self)
            {
                // A secret that does not open throws before the claim commits: nothing is claimed.
                due.append(
                    Delivery(
                        seq: row.0,
                        webhook: Webhook(
                            id: row.1, orgId: row.2, url: row.3, format: row.4,
                            createdAt: Timestamp(milliseconds: row.5)),
                        secret: try vault.open(Array(row.6.readableBytesView)), alertId: row.7, payload: row.8,
                        attempts: Int(row.9)))
            }
            return due
        }
    }

    public func markDelivered(seq: Int64, at: Timestamp) async throws {
        try await acrossOrganisations { connection -> Void in
            try await connection.query(
                """
                UPDATE webhook_deliveries SET delivered_at = \(at.milliseconds), attempts = attempts + 1
                WHERE seq = \(seq)
                """, logger: logger)
        }
    }

    public func markFailed(seq: Int64, attempts: Int, nextAttempt: Timestamp, error: String) async throws {
        try await acrossOrganisations { connection -> Void in
            try await connection.query(
                """
                UPDATE webhook_deliveries SET attempts = \(Int32(clamping: attempts)),
                    next_attempt_at = \(nextAttempt.milliseconds), last_error = \(String(error.prefix(500)))
                WHERE seq = \(seq)
                """, logger: logger)
        }
    }
}
