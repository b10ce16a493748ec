/// How a usage summary groups its totals (`group_by`).
public enum SummaryGrouping: String, Sendable, Hashable, CaseIterable, Codable {
    /// One group: the totals alone.
    case none
    /// One group per model the providers reported (with its provider).
    case model
    /// One group per provider.
    case provider
    /// One group per team, user, meterr key or project.
    case team, user, key, project
    /// One group per UTC day or hour.
    case day, hour

    /// The key a group's value sits under (`key_id` for keys, the grouping's name otherwise).
    public var valueKey: String { self == .key ? "key_id" : rawValue }
}

/// Request count, token counts and cost of a set of calls.
///
/// On the wire the token counts sit beside the other fields, and `cost_usd` is `null` when every
/// call was unpriced: their cost is unknown, not zero.
public struct UsageTotals: Sendable, Hashable, Codable {
    /// Calls counted.
    public var requests: Int
    /// Their token counts, summed.
    public var usage: Usage
    /// The summed cost of the priced calls.
    public var pricedCost: Money
    /// Calls whose model had no price.
    public var unpricedRequests: Int
    /// The input and output tokens of those calls.
    public var unpricedTokens: Int

    /// Creates totals.
    public init(
        requests: Int = 0, usage: Usage = Usage(), pricedCost: Money = .zero, unpricedRequests: Int = 0,
        unpricedTokens: Int = 0
    ) {
        self.requests = requests
        self.usage = usage
        self.pricedCost = pricedCost
        self.unpricedRequests = unpricedRequests
        self.unpricedTokens = unpricedTokens
    }

    /// The cost; `nil` when every call was unpriced (unknown, not zero).
    public var cost: Money? { requests > 0 && unpricedRequests == requests ? nil : pricedCost }

    /// Adds one event.
    public mutating func add(_ event: UsageEvent) {
        requests += 1
        usage += event.usage
        if let cost = event.cost {
            pricedCost += cost
        } else {
            unpricedRequests += 1
            unpricedTokens += event.usage.inputTokens + event.usage.outputTokens
        }
    }

    /// Adds other totals.
    public static func += (lhs: inout UsageTotals, rhs: UsageTotals) {
        lhs.requests += rhs.requests
        lhs.usage += rhs.usage
        lhs.pricedCost += rhs.pricedCost
        lhs.unpricedRequests += rhs.unpricedRequests
        lhs.unpricedTokens += rhs.unpricedTokens
    }

    enum CodingKeys: String, CodingKey {
        case requests
        case cost = "cost_usd"
        case unpricedRequests = "unpriced_requests"
        case unpricedTokens = "unpriced_tokens"
    }

    /// Decodes totals (`unpriced_tokens` is 0 from a meterr that does not report it).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        requests = try container.decode(Int.self, forKey: .requests)
        pricedCost = try container.decodeIfPresent(Money.self, forKey: .cost) ?? .zero
        unpricedRequests = try container.decode(Int.self, forKey: .unpricedRequests)
        unpricedTokens = try container.decodeIfPresent(Int.self, forKey: .unpricedTokens) ?? 0
        usage = try Usage(from: decoder)
    }

    /// Encodes the count, the token counts and the cost side by side.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(requests, forKey: .requests)
        try usage.encode(to: encoder)
        try container.encode(cost, forKey: .cost)
        try container.encode(unpricedRequests, forKey: .unpricedRequests)
        try container.encode(unpricedTokens, forKey: .unpricedTokens)
    }
}

/// One group of a summary: its value and its totals.
public struct SummaryGroup: Sendable, Hashable {
    /// The group's value: a model, team, … name (`nil` for unattributed calls), or the bucket start
    /// for `day` and `hour`.
    public var value: String?
    /// The provider, when grouping by model.
    public var provider: String?
    /// The totals of the group.
    public var totals: UsageTotals

    /// Creates a group.
    public init(value: String?, provider: String? = nil, totals: UsageTotals) {
        self.value = value
        self.provider = provider
        self.totals = totals
    }
}

/// Totals over a time range, per group and overall (`GET /api/usage/summary`). Each group carries
/// its value under the grouping's name (`"model": "gpt-4o"`, `"key_id": "key_…"`).
public struct UsageSummary: Sendable, Hashable, Codable {
    /// The summary's groups (the name its SDK callers know).
    public typealias Group = SummaryGroup

    /// The range covered, aligned to the hour.
    public var from: Timestamp
    /// The end of the range covered.
    public var to: Timestamp
    /// How the groups are formed.
    public var groupBy: SummaryGrouping
    /// The groups: by cost, largest first, or by time for `day` and `hour`.
    public var groups: [SummaryGroup]
    /// The totals over every group.
    public var totals: UsageTotals

    /// Creates a summary.
    public init(from: Timestamp, to: Timestamp, groupBy: SummaryGrouping, groups: [SummaryGroup], totals: UsageTotals) {
        self.from = from
        self.to = to
        self.groupBy = groupBy
        self.groups = groups
        self.totals = totals
    }

    enum CodingKeys: String, CodingKey {
        case from, to, groups, totals
        case groupBy = "group_by"
    }

    /// Decodes a summary; a grouping this SDK does not know reads as `none`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        from = try container.decode(Timestamp.self, forKey: .from)
        to = try container.decode(Timestamp.self, forKey: .to)
        let name = try container.decode(String.self, forKey: .groupBy)
        groupBy = SummaryGrouping(rawValue: name) ?? .none
        totals = try container.decode(UsageTotals.self, forKey: .totals)
        let valueKey = NameKey(name == "key" ? "key_id" : name)
        var list = try container.nestedUnkeyedContainer(forKey: .groups)
        var groups: [SummaryGroup] = []
        while !list.isAtEnd {
            let member = try list.superDecoder()
            let fields = try member.container(keyedBy: NameKey.self)
            groups.append(
                SummaryGroup(
                    value: try fields.decodeIfPresent(String.self, forKey: valueKey),
                    provider: try fields.decodeIfPresent(String.self, forKey: NameKey("provider")),
                    totals: try UsageTotals(from: member)))
        }
        self.groups = groups
    }

    /// Encodes a summary; `provider` is in each group only when grouping by model.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(from, forKey: .from)
        try container.encode(to, forKey: .to)
        try container.encode(groupBy, forKey: .groupBy)
        var list = container.nestedUnkeyedContainer(forKey: .groups)
        for group in groups {
            let member = list.superEncoder()
            var fields = member.container(keyedBy: NameKey.self)
            try fields.encode(group.value, forKey: NameKey(groupBy.valueKey))
            if groupBy == .model { try fields.encode(group.provider, forKey: NameKey("provider")) }
            try group.totals.encode(to: member)
        }
        try container.encode(totals, forKey: .totals)
    }
}
