/// `GET /api/budgets/{id}/history`: a budget's closed periods, newest first.
public struct BudgetHistory: Sendable, Hashable, Codable {
    /// One closed period.
    public struct Period: Sendable, Hashable, Codable {
        /// `day`, `week`, `month` or `rolling` (the budget's period then).
        public var period: String
        /// A rolling period's window in hours.
        public var windowHours: Int?
        /// When it began.
        public var start: Timestamp
        /// When it ended.
        public var end: Timestamp
        /// The limit then.
        public var limit: Money
        /// What was spent.
        public var spent: Money
        /// Spent, in percent of the limit.
        public var percentUsed: Int
        /// Whether the spend crossed the limit.
        public var exceeded: Bool
        /// Why it closed (`period_end`, `rebaselined`, …).
        public var reason: String

        /// Creates a period.
        public init(
            period: String, windowHours: Int?, start: Timestamp, end: Timestamp, limit: Money, spent: Money,
            percentUsed: Int, exceeded: Bool, reason: String
        ) {
            self.period = period
            self.windowHours = windowHours
            self.start = start
            self.end = end
            self.limit = limit
            self.spent = spent
            self.percentUsed = percentUsed
            self.exceeded = exceeded
            self.reason = reason
        }

        enum CodingKeys: String, CodingKey {
            case period, start, end, exceeded, reason
            case windowHours = "window_hours"
            case limit = "limit_usd"
            case spent = "spent_usd"
            case percentUsed = "percent_used"
        }

        /// Encodes every key (`window_hours` is `null` for calendar periods).
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(period, forKey: .period)
            try c.encode(windowHours, forKey: .windowHours)
            try c.encode(start, forKey: .start)
            try c.encode(end, forKey: .end)
            try c.encode(limit, forKey: .limit)
            try c.encode(spent, forKey: .spent)
            try c.encode(percentUsed, forKey: .percentUsed)
            try c.encode(exceeded, forKey: .exceeded)
            try c.encode(reason, forKey: .reason)
        }
    }

    /// The budget's id.
    public var budgetId: String
    /// Its closed periods, newest first.
    public var periods: [Period]

    /// Creates a history.
    public init(budgetId: String, periods: [Period]) {
        self.budgetId = budgetId
        self.periods = periods
    }

    enum CodingKeys: String, CodingKey {
        case periods
        case budgetId = "budget_id"
    }
}
