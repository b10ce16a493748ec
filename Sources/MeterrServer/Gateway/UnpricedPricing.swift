import MeterrCore
import MeterrPricing
import MeterrStore

/// Applies an organisation's `unpriced_policy` to calls whose model the catalog has no price for:
/// unpriced is not free, so a hard budget refuses them, prices them as a fallback model, or lets
/// them through knowingly.
struct UnpricedPricing: Sendable {
    let prices: PriceBook
    let policies: PolicyCache

    /// The cost engine in force.
    var engine: CostEngine { prices.engine }
    /// The server's `unpriced_policy`, for organisations that set none.
    var serverDefault: UnpricedPolicy { prices.edition.unpricedDefault }

    /// The policy in force for an organisation.
    func policy(org: String) async throws -> UnpricedPolicy {
        try await policies.policy(org: org).unpriced ?? serverDefault
    }

    /// The policy in force, from the cache (for code that cannot wait; admission loaded it).
    func cachedPolicy(org: String) -> UnpricedPolicy { policies.cached(org: org).unpriced ?? serverDefault }

    /// Whether the catalog prices a model of a provider.
    func isPriced(model: String, provider: Provider) -> Bool { engine.resolve(model: model, provider: provider) != nil }

    /// Prices an event the catalog could not, when its organisation's policy is `fallback`.
    func applyFallback(_ event: inout UsageEvent, policy: UnpricedPolicy) {
        guard event.cost == nil, case .fallback(let model) = policy,
            let priced = engine.fallbackPrice(event, model: model)
        else { return }
        event.cost = priced.cost
        event.priceId = priced.priceId
    }

    /// Why a hard budget refuses a call to an unpriced model, and how to let such calls through.
    static func refusal(model: String, budget: Budget) -> String {
        "model \"\(model)\" has no price, so the hard budget \"\(budget.name)\" cannot bound its cost; give it a "
            + "price (price_overrides in meterr.yaml, or meterr prices import) or set the organisation's "
            + "unpriced_policy to fallback or allow (PUT /api/policy)"
    }
}
