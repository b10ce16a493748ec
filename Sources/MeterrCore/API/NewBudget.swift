/// `POST /api/budgets`: a budget to create.
public struct NewBudget: Sendable, Hashable, Codable {
    /// Its name.
    public var name: String
    /// What it covers: `org`, `team`, `user`, `project`, `key` or `tag`.
    public var scope: String
    /// Which one (a team's name, a key's id, `key=value` for a tag); none for `org`.
    public var value: String?
    /// `day`, `week`, `month` or `rolling`.
    public var period: String
    /// The window of a rolling budget, in hours.
    public var windowHours: Int?
    /// The limit in USD, a decimal string (`"250.00"`).
    public var limitUSD: String
    /// Whether it refuses calls that would cross it.
    public var hard: Bool
    /// The time zone its calendar periods follow (`UTC` when none).
    public var timeZone: String?
    /// The percentages of the limit that raise alerts (`[50, 80, 100]` when none).
    public var thresholds: [Int]?

    /// Describes a budget.
    public init(
        name: String, scope: String = "org", value: String? = nil, period: String = "month", windowHours: Int? = nil,
        limitUSD: String, hard: Bool = false, timeZone: String? = nil, thresholds: [Int]? = nil
    ) {
        self.name = name
        self.scope = scope
        self.value = value
        self.period = period
        self.windowHours = windowHours
        self.limitUSD = limitUSD
        self.hard = hard
        self.timeZone = timeZone
        self.thresholds = thresholds
    }

    enum CodingKeys: String, CodingKey {
        case name, scope, value, period, hard, thresholds
        case windowHours = "window_hours"
        case limitUSD = "limit_usd"
        case timeZone = "time_zone"
    }
}

/// `POST /api/webhooks`: where to post an organisation's alerts.
public struct NewWebhook: Sendable, Hashable, Codable {
    /// The https URL alerts are posted to.
    public var url: String
    /// `json` (meterr's signed JSON, the default) or `slack`.
    public var format: String?

    /// Describes a webhook.
    public init(url: String, format: String? = nil) {
        self.url = url
        self.format = format
    }
}
