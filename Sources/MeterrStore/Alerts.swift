import MeterrCore

/// Something an organisation should know: a budget threshold crossed, and later anomalies.
public struct AlertRecord: Sendable, Hashable {
    public var id: String
    public var orgId: String
    /// `budget.threshold`, `budget.blocked`, `budget.forecast`, `anomaly.spike`, …
    public var kind: String
    /// What it is about (a budget id, an entity such as `team:ml`).
    public var subject: String?
    /// `info`, `warning` or `critical`.
    public var severity: String
    public var message: String
    /// The same dedupe key is recorded once.
    public var dedupeKey: String
    public var createdAt: Timestamp
    public var acknowledgedAt: Timestamp?
    public var acknowledgedBy: String?
    /// When it is sent to the webhooks again unless acknowledged (`nil`: never).
    public var renotifyAt: Timestamp?
    /// Whether it goes to the webhooks at all (anomalies at the "log" rung only go to the log).
    public var notify: Bool
    /// Its facts as fields (`budget_name`, `limit_usd`, `spent_usd`, `period`, `model`, `key_id`…), sent
    /// in webhook payloads beside the message.
    public var details: [String: String] = [:]

    /// Creates an alert.
    public init(
        id: String, orgId: String, kind: String, subject: String?, severity: String, message: String,
        dedupeKey: String, createdAt: Timestamp, acknowledgedAt: Timestamp? = nil, acknowledgedBy: String? = nil,
        notify: Bool = true
    ) {
        self.notify = notify
        self.id = id
        self.orgId = orgId
        self.kind = kind
        self.subject = subject
        self.severity = severity
        self.message = message
        self.dedupeKey = dedupeKey
        self.createdAt = createdAt
        self.acknowledgedAt = acknowledgedAt
        self.acknowledgedBy = acknowledgedBy
    }
}

/// The alert log.
public protocol AlertStore: Sendable {
    /// Records alerts; those whose dedupe key is recorded already are skipped. Returns the new ones.
    func recordAlerts(_ alerts: [AlertRecord]) async throws -> [AlertRecord]
    /// An organisation's alerts, newest first.
    func alerts(org: String, limit: Int, unacknowledgedOnly: Bool) async throws -> [AlertRecord]
    /// Acknowledges an alert of `org`; `false` if it has none with that id.
    func acknowledge(org: String, id: String, actor: String) async throws -> Bool
    /// Acknowledges every open alert of an organisation (of one kind and severity, when given); how many.
    func acknowledgeAll(org: String, kind: String?, severity: String?, actor: String) async throws -> Int
    /// The newest alert of a kind about a subject, for cool-downs.
    func latestAlert(org: String, kind: String, subject: String?) async throws -> AlertRecord?
    /// Unacknowledged alerts due to be sent again at `now`, with how often they were sent so far.
    func dueRenotifications(now: Timestamp, limit: Int) async throws -> [(AlertRecord, Int)]
    /// Notes whether an alert was sent again, and when it is due next (`nil`: never).
    func markNotified(id: String, sent: Bool, next: Timestamp?) async throws
}

extension AlertRecord {
    /// The alert as the API shows it.
    public var alert: Alert {
        Alert(
            id: id, kind: kind, subject: subject, severity: severity, message: message, createdAt: createdAt,
            acknowledgedAt: acknowledgedAt, acknowledgedBy: acknowledgedBy)
    }
}

extension AlertRecord {
    /// The alert with these details.
    public func withDetails(_ details: [String: String]) -> AlertRecord {
        var alert = self
        alert.details = details
        return alert
    }
}
