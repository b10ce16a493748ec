import MeterrCore

/// Where an organisation's alerts are posted.
public struct Webhook: Sendable, Hashable {
    public var id: String
    public var orgId: String
    public var url: String
    /// `json` (meterr's signed payload) or `slack` (an incoming-webhook message).
    public var format: String
    public var createdAt: Timestamp

    /// Creates a webhook.
    public init(id: String, orgId: String, url: String, format: String, createdAt: Timestamp) {
        self.id = id
        self.orgId = orgId
        self.url = url
        self.format = format
        self.createdAt = createdAt
    }
}

/// One alert to post to one webhook.
public struct Delivery: Sendable, Hashable {
    public var seq: Int64
    public var webhook: Webhook
    /// The signing secret (opened from its sealed form).
    public var secret: String
    public var alertId: String
    public var payload: String
    public var attempts: Int

    /// Creates a delivery (as a store reads it from its queue).
    package init(seq: Int64, webhook: Webhook, secret: String, alertId: String, payload: String, attempts: Int) {
        self.seq = seq
        self.webhook = webhook
        self.secret = secret
        self.alertId = alertId
        self.payload = payload
        self.attempts = attempts
    }
}

/// Webhooks and their delivery queue, kept in the database so a restart loses no alert.
public protocol WebhookStore: Sendable {
    func createWebhook(_ webhook: Webhook, secret: String, vault: CredentialVault, actor: String) async throws
    func webhooks(org: String) async throws -> [Webhook]
    func deleteWebhook(org: String, id: String, actor: String) async throws -> Bool
    /// Queues an alert for each of its organisation's webhooks (once per webhook and delivery key:
    /// the alert id, or the alert id and the number of a re-notification).
    func enqueueDeliveries(alert: AlertRecord, deliveryKey: String, payload: (Webhook) -> String) async throws
    /// Deliveries due at `now`, oldest first.
    func dueDeliveries(now: Timestamp, limit: Int, vault: CredentialVault) async throws -> [Delivery]
    func markDelivered(seq: Int64, at: Timestamp) async throws
    func markFailed(seq: Int64, attempts: Int, nextAttempt: Timestamp, error: String) async throws
}
