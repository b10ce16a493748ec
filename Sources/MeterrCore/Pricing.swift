/// The cost of one call and the catalog entry that priced it.
public struct PricedUsage: Sendable, Hashable {
    /// The exact cost.
    public var cost: Money
    /// The catalog entry and version used, e.g. `openai/gpt-4o@2024-08-06`.
    public var priceId: String

    /// Creates a priced result.
    public init(cost: Money, priceId: String) {
        self.cost = cost
        self.priceId = priceId
    }
}

/// Prices usage events; the ledger's ingest path calls it for every event.
public protocol UsagePricer: Sendable {
    /// The cost of the event's usage at the event's time, or `nil` when its model has no price
    /// (unpriced is not free).
    func price(_ event: UsageEvent) -> PricedUsage?
}

extension UsageEvent {
    /// Prices the event with the catalog: the catalog's cost and price id replace whatever the
    /// report said; a cost the report carries stands only for models the catalog does not price.
    public mutating func applyPrice(from pricer: (any UsagePricer)?) {
        guard let priced = pricer?.price(self) else { return }
        cost = priced.cost
        priceId = priced.priceId
    }
}
