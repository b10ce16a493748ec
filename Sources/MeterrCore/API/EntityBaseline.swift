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
