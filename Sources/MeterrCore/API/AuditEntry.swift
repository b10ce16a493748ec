/// One line of the audit log (`GET /api/audit`).
public struct AuditEntry: Sendable, Hashable, Codable {
    /// When it happened.
    public var at: Timestamp
    /// The key (or `cli`) that acted.
    public var actor: String
    /// What it did, e.g. `key.create`.
    public var action: String
    /// What it acted on (an id).
    public var target: String?
    /// More about it, for people.
    public var detail: String?

    /// Creates an entry.
    public init(at: Timestamp, actor: String, action: String, target: String? = nil, detail: String? = nil) {
        self.at = at
        self.actor = actor
        self.action = action
        self.target = target
        self.detail = detail
    }

    /// Encodes every key, `null` for absent values.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(at, forKey: .at)
        try c.encode(actor, forKey: .actor)
        try c.encode(action, forKey: .action)
        try c.encode(target, forKey: .target)
        try c.encode(detail, forKey: .detail)
    }
}

/// `GET /api/audit`.
public struct AuditLog: Sendable, Hashable, Codable {
    /// The entries, newest first.
    public var entries: [AuditEntry]

    /// Creates a log.
    public init(entries: [AuditEntry]) { self.entries = entries }
}
