/// A budget and where its current period stands (`GET /api/budgets`, and the answer to creating or
/// changing one).
public struct BudgetStatus: Sendable, Hashable, Codable {
    /// The budget's id.
    public var id: String
    /// Its name.
    public var name: String
    /// What it covers: `org`, `team`, `user`, `project`, `key` or `tag`.
    public var scope: String
    /// The team, user, project, key or `key=value` tag it covers (`nil` for the organisation).
    public var value: String?
    /// `day`, `week`, `month` or `rolling`.
    public var period: String
    /// A rolling budget's window in hours (`nil` for calendar periods).
    public var windowHours: Int?
    /// The time zone its periods follow.
    public var timeZone: String
    /// The limit per period.
    public var limit: Money
    /// Whether calls that would cross it are refused.
    public var hard: Bool
    /// The percentages that raise alerts.
    public var thresholds: [Int]
    /// Spent this period.
    public var spent: Money
    /// Held for calls in progress.
    public var reserved: Money
    /// Spent, in percent of the limit.
    public var percentUsed: Int
    /// The spend the period is on course for; `nil` before there is a pace to go by.
    public var projected: Money?
    /// When the limit would be crossed at the current pace, if it would.
    public var projectedToExceedAt: Timestamp?
    /// When this period began.
    public var periodStart: Timestamp
    /// When the next period begins.
    public var resetsAt: Timestamp
    /// Calls this period whose model had no price, so the spend cannot count them.
    public var unpricedRequests: Int
    /// Their input and output tokens.
    public var unpricedTokens: Int

    /// Creates a status.
    public init(
        id: String, name: String, scope: String, value: String?, period: String, windowHours: Int?,
        timeZone: String, limit: Money, hard: Bool, thresholds: [Int], spent: Money, reserved: Money,
        percentUsed: Int, projected: Money?, projectedToExceedAt: Timestamp?, periodStart: Timestamp,
        resetsAt: Timestamp, unpricedRequests: Int, unpricedTokens: Int
    ) {
        self.id = id
        self.name = name
        self.scope = scope
        self.value = value
        self.period = period
        self.windowHours = windowHours
        self.timeZone = timeZone
        self.limit = limit
        self.hard = hard
        self.thresholds = thresholds
        self.spent = spent
        self.reserved = reserved
        self.percentUsed = percentUsed
        self.projected = projected
        self.projectedToExceedAt = projectedToExceedAt
        self.periodStart = periodStart
        self.resetsAt = resetsAt
        self.unpricedRequests = unpricedRequests
        self.unpricedTokens = unpricedTokens
    }

    enum CodingKeys: String, CodingKey {
        case id, name, scope, value, period, hard, thresholds
        case windowHours = "window_hours"
        case timeZone = "time_zone"
        case limit = "limit_usd"
        case spent = "spent_usd"
        case reserved = "reserved_usd"
        case percentUsed = "percent_used"
        case projected = "projected_usd"
        case projectedToExceedAt = "projected_to_exceed_at"
        case periodStart = "period_start"
        case resetsAt = "resets_at"
        case unpricedRequests = "unpriced_requests"
        case unpricedTokens = "unpriced_tokens"
    }

    /// Decodes a status (the unpriced counts are 0 from a meterr that does not report them).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        name = try c.decode(String.self, forKey: .name)
        scope = try c.decode(String.self, forKey: .scope)
        value = try c.decodeIfPresent(String.self, forKey: .value)
        period = try c.decode(String.self, forKey: .period)
        windowHours = try c.decodeIfPresent(Int.self, forKey: .windowHours)
        timeZone = try c.decode(String.self, forKey: .timeZone)
        limit = try c.decode(Money.self, forKey: .limit)
        hard = try c.decode(Bool.self, forKey: .hard)
        thresholds = try c.decode([Int].self, forKey: .thresholds)
        spent = try c.decode(Money.self, forKey: .spent)
        reserved = try c.decode(Money.self, forKey: .reserved)
        percentUsed = try c.decode(Int.self, forKey: .percentUsed)
        projected = try c.decodeIfPresent(Money.self, forKey: .projected)
        projectedToExceedAt = try c.decodeIfPresent(Timestamp.self, forKey: .projectedToExceedAt)
        periodStart = try c.decode(Timestamp.self, forKey: .periodStart)
        resetsAt = try c.decode(Timestamp.self, forKey: .resetsAt)
        unpricedRequests = try c.decodeIfPresent(Int.self, forKey: .unpricedRequests) ?? 0
        unpricedTokens = try c.decodeIfPresent(Int.self, forKey: .unpricedTokens) ?? 0
    }

    /// Encodes every key, `null` for absent values.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(scope, forKey: .scope)
        try c.encode(value, forKey: .value)
        try c.encode(period, forKey: .period)
        try c.encode(windowHours, forKey: .windowHours)
        try c.encode(timeZone, forKey: .timeZone)
        try c.encode(limit, forKey: .limit)
        try c.encode(hard, forKey: .hard)
        try c.encode(thresholds, forKey: .thresholds)
        try c.encode(spent, forKey: .spent)
        try c.encode(reserved, forKey: .reserved)
        try c.encode(percentUsed, forKey: .percentUsed)
        try c.encode(projected, forKey: .projected)
        try c.encode(projectedToExceedAt, forKey: .projectedToExceedAt)
        try c.encode(periodStart, forKey: .periodStart)
        try c.encode(resetsAt, forKey: .resetsAt)
        try c.encode(unpricedRequests, forKey: .unpricedRequests)
        try c.encode(unpricedTokens, forKey: .unpricedTokens)
    }
}

extension BudgetStatus {
    /// Writes the status as its `Codable` form does (the same members in the same order, `null` for
    /// absent values), without a container per member: a page of budgets spent most of its encoding there.
    /// A contract test holds the two equal.
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.string("id", id)
        json.string("name", name)
        json.string("scope", scope)
        json.string("value", value)
        json.string("period", period)
        json.int("window_hours", windowHours)
        json.string("time_zone", timeZone)
        json.money("limit_usd", limit)
        json.bool("hard", hard)
        json.beginArray("thresholds")
        for threshold in thresholds { json.int(nil, threshold) }
        json.endArray()
        json.money("spent_usd", spent)
        json.money("reserved_usd", reserved)
        json.int("percent_used", percentUsed)
        json.money("projected_usd", projected)
        json.time("projected_to_exceed_at", projectedToExceedAt)
        json.time("period_start", periodStart)
        json.time("resets_at", resetsAt)
        json.int("unpriced_requests", unpricedRequests)
        json.int("unpriced_tokens", unpricedTokens)
        json.endObject()
    }

    /// The status as one JSON object.
    public var jsonObject: [UInt8] {
        var json = JSONWriter(capacity: 640)
        write(to: &json)
        return json.bytes
    }
}

/// `GET /api/budgets`.
public struct BudgetList: Sendable, Hashable, Codable {
    /// Every budget of the organisation.
    public var budgets: [BudgetStatus]

    /// Creates a list.
    public init(budgets: [BudgetStatus]) { self.budgets = budgets }
}
