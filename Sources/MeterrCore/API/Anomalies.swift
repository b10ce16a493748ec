/// One entity's spend this hour beside its learnt baseline (`GET /api/anomalies/baselines`).
public struct EntityBaseline: Sendable, Hashable, Codable {
    /// The entity: `org`, `team:ml`, `key:key_…`, ….
    public var entity: String
    /// Hours of activity the baseline has learnt from.
    public var hoursObserved: Int
    /// Whether it has seen enough hours to flag anomalies.
    public var warmedUp: Bool
    /// The hour counted now.
    public var hour: Timestamp
    /// Spent this hour.
    public var cost: Money
    /// The usual spend of an hour.
    public var baselineCost: Money
    /// How far an hour's spend usually strays from it.
    public var baselineCostDeviation: Money
    /// Tokens this hour.
    public var tokens: Int64
    /// The usual tokens of an hour.
    public var baselineTokens: Int64
    /// Calls this hour.
    public var requests: Int64
    /// The usual calls of an hour.
    public var baselineRequests: Int64
    /// Whether its calls are being slowed now.
    public var rateLimited: Bool

    /// Creates a baseline's view.
    public init(
        entity: String, hoursObserved: Int, warmedUp: Bool, hour: Timestamp, cost: Money, baselineCost: Money,
        baselineCostDeviation: Money, tokens: Int64, baselineTokens: Int64, requests: Int64, baselineRequests: Int64,
        rateLimited: Bool
    ) {
        self.entity = entity
        self.hoursObserved = hoursObserved
        self.warmedUp = warmedUp
        self.hour = hour
        self.cost = cost
        self.baselineCost = baselineCost
        self.baselineCostDeviation = baselineCostDeviation
        self.tokens = tokens
        self.baselineTokens = baselineTokens
        self.requests = requests
        self.baselineRequests = baselineRequests
        self.rateLimited = rateLimited
    }

    enum CodingKeys: String, CodingKey {
        case entity, hour, tokens, requests
        case hoursObserved = "hours_observed"
        case warmedUp = "warmed_up"
        case cost = "cost_usd"
        case baselineCost = "baseline_cost_usd"
        case baselineCostDeviation = "baseline_cost_deviation_usd"
        case baselineTokens = "baseline_tokens"
        case baselineRequests = "baseline_requests"
        case rateLimited = "rate_limited"
    }
}

/// `GET /api/anomalies/baselines`.
public struct BaselineList: Sendable, Hashable, Codable {
    /// Every entity with activity, by name.
    public var entities: [EntityBaseline]

    /// Creates a list.
    public init(entities: [EntityBaseline]) { self.entities = entities }
}

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
