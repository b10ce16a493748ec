/// A block anomaly detection put on an entity (`GET /api/anomalies/blocks`): open while in force,
/// then `expired` or `lifted`.
public struct AnomalyBlockInfo: Sendable, Hashable, Codable {
    /// Its id.
    public var id: String
    /// The entity blocked.
    public var entity: String
    /// The rung of the escalation ladder it reached.
    public var level: String
    /// Why, for people.
    public var reason: String
    /// `open`, `expired` or `lifted`.
    public var status: String
    /// When it began.
    public var createdAt: Timestamp
    /// When it ends by itself; `nil` until lifted.
    public var until: Timestamp?
    /// When it was lifted.
    public var liftedAt: Timestamp?
    /// Who lifted it.
    public var liftedBy: String?

    /// Creates a block's view.
    public init(
        id: String, entity: String, level: String, reason: String, status: String, createdAt: Timestamp,
        until: Timestamp?, liftedAt: Timestamp?, liftedBy: String?
    ) {
        self.id = id
        self.entity = entity
        self.level = level
        self.reason = reason
        self.status = status
        self.createdAt = createdAt
        self.until = until
        self.liftedAt = liftedAt
        self.liftedBy = liftedBy
    }

    enum CodingKeys: String, CodingKey {
        case id, entity, level, reason, status, until
        case createdAt = "created_at"
        case liftedAt = "lifted_at"
        case liftedBy = "lifted_by"
    }

    /// Encodes every key, `null` for absent values.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(entity, forKey: .entity)
        try c.encode(level, forKey: .level)
        try c.encode(reason, forKey: .reason)
        try c.encode(status, forKey: .status)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(until, forKey: .until)
        try c.encode(liftedAt, forKey: .liftedAt)
        try c.encode(liftedBy, forKey: .liftedBy)
    }
}

/// `GET /api/anomalies/blocks`.
public struct AnomalyBlockList: Sendable, Hashable, Codable {
    /// The blocks, newest first.
    public var blocks: [AnomalyBlockInfo]

    /// Creates a list.
    public init(blocks: [AnomalyBlockInfo]) { self.blocks = blocks }
}
