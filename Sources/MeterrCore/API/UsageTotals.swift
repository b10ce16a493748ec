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
