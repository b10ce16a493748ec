/// An alert meterr raised: a budget threshold crossed, a forecast, an anomaly (`GET /api/alerts`).
public struct Alert: Sendable, Hashable, Codable {
    /// The alert's id.
    public var id: String
    /// What kind of alert: `budget.threshold`, `budget.forecast`, `budget.blocked`, `anomaly.spike`, ….
    public var kind: String
    /// What it is about (a budget id, an entity such as `team:ml`).
    public var subject: String?
    /// `info`, `warning` or `critical`.
    public var severity: String
    /// A sentence for people.
    public var message: String
    /// When it was raised.
    public var createdAt: Timestamp
    /// When it was acknowledged, if it was.
    public var acknowledgedAt: Timestamp?
    /// Who acknowledged it.
    public var acknowledgedBy: String?

    /// Creates an alert.
    public init(
        id: String, kind: String, subject: String?, severity: String, message: String, createdAt: Timestamp,
        acknowledgedAt: Timestamp? = nil, acknowledgedBy: String? = nil
    ) {
        self.id = id
        self.kind = kind
        self.subject = subject
        self.severity = severity
        self.message = message
        self.createdAt = createdAt
        self.acknowledgedAt = acknowledgedAt
        self.acknowledgedBy = acknowledgedBy
    }

    enum CodingKeys: String, CodingKey {
        case id, kind, subject, severity, message
        case createdAt = "created_at"
        case acknowledgedAt = "acknowledged_at"
        case acknowledgedBy = "acknowledged_by"
    }

    /// Encodes every key, `null` for absent values.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(kind, forKey: .kind)
        try c.encode(subject, forKey: .subject)
        try c.encode(severity, forKey: .severity)
        try c.encode(message, forKey: .message)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(acknowledgedAt, forKey: .acknowledgedAt)
        try c.encode(acknowledgedBy, forKey: .acknowledgedBy)
    }
}

/// `GET /api/alerts`.
public struct AlertList: Sendable, Hashable, Codable {
    /// The alerts, newest first.
    public var alerts: [Alert]

    /// Creates a list.
    public init(alerts: [Alert]) { self.alerts = alerts }
}
