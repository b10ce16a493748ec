import MeterrCore

extension CostEngine {
    /// The entry a call of `provider` whose model has no price is priced as, under an organisation's
    /// `fallback` policy: `model` when named (any name the catalog resolves), else the provider's most
    /// expensive model of the call's kind at `time` (highest output price, then input): embedding models
    /// for embeddings, chat and responses models otherwise. Azure calls fall back among OpenAI's models
    /// when the catalog has no Azure entries.
    public func fallbackEntry(provider: Provider, model: String?, embeddings: Bool, at time: Timestamp)
        -> CatalogEntry?
    {
        if let model { return resolve(model: model, provider: provider) ?? resolve(model: model, provider: nil) }
        let kinds: Set = embeddings ? ["embedding"] : ["chat", "responses"]
        func priciest(_ provider: Provider) -> CatalogEntry? {
            catalog.entries.lazy.filter { $0.provider == provider && kinds.contains($0.mode) }
                .compactMap { entry in entry.version(at: time).map { (entry, $0.prices) } }
                .max { ($0.1.output, $0.1.input) < ($1.1.output, $1.1.input) }?.0
        }
        return priciest(provider) ?? (provider == .azure ? priciest(.openai) : nil)
    }

    /// Prices an event whose model has no price as its fallback entry; the price id says so
    /// (`fallback:openai/gpt-5-pro@2025-10-06`), and the event keeps the model it reported.
    public func fallbackPrice(_ event: UsageEvent, model: String?) -> PricedUsage? {
        guard
            let entry = fallbackEntry(
                provider: event.provider, model: model, embeddings: event.endpoint == "embeddings", at: event.ts),
            let quote = try? cost(
                model: entry.model, provider: entry.provider, usage: event.usage, at: event.ts,
                batch: event.endpoint == "batch", org: event.org)
        else { return nil }
        return PricedUsage(cost: quote.cost, priceId: "fallback:" + quote.priceId)
    }
}
