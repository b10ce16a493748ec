import MeterrCore
import Synchronization

/// A negotiated price or discount for one organisation, applied before the catalog's list price.
///
/// The most specific override in effect wins: a model's over its provider's over the whole organisation's.
public struct OrgPriceOverride: Sendable, Hashable {
    /// What the override covers.
    public enum Scope: Sendable, Hashable {
        /// Every model the organisation calls.
        case all
        /// Every model of one provider.
        case provider(Provider)
        /// One catalog entry, by id (`openai/gpt-4o`).
        case model(String)
    }

    /// How the price changes.
    public enum Adjustment: Sendable, Hashable {
        /// A percentage off the list price (`"12.5"`), parsed exactly.
        case discount(percent: String, multiplier: PriceMultiplier)
        /// Negotiated per-token prices that replace the list prices (long-context tier included).
        case prices(PriceSet)
    }

    /// The organisation.
    public var org: String
    /// What it covers.
    public var scope: Scope
    /// The change.
    public var adjustment: Adjustment
    /// The first day it applies (`YYYY-MM-DD`); `nil` means always.
    public var effectiveFrom: String?
    var effectiveFromTime: Timestamp?

    /// Creates an override.
    public init(org: String, scope: Scope, adjustment: Adjustment, effectiveFrom: String? = nil) throws(MeterrError) {
        self.org = org
        self.scope = scope
        self.adjustment = adjustment
        self.effectiveFrom = effectiveFrom
        if let effectiveFrom {
            guard effectiveFrom.utf8.count == 10, let time = Timestamp(rfc3339: effectiveFrom) else {
                throw .invalid("effective_from", "must be a date such as 2026-01-01 (got \(effectiveFrom))")
            }
            self.effectiveFromTime = time
        }
    }

    /// A percentage discount; `percent` is a decimal string between 0 and 100 with at most four decimal places.
    public static func discount(
        org: String, scope: Scope, percent: String, effectiveFrom: String? = nil
    ) throws(MeterrError) -> OrgPriceOverride {
        switch PriceMultiplier.discount(percent: percent) {
        case .success(let multiplier):
            return try OrgPriceOverride(
                org: org, scope: scope, adjustment: .discount(percent: percent, multiplier: multiplier),
                effectiveFrom: effectiveFrom)
        case .failure(let problem):
            throw .invalid("discount_percent", "\(percent) \(problem)")
        }
    }

    var specificity: Int {
        switch scope {
        case .all: 0
        case .provider: 1
        case .model: 2
        }
    }

    func covers(provider entryProvider: Provider, id entryId: String) -> Bool {
        switch scope {
        case .all: true
        case .provider(let provider): provider == entryProvider
        case .model(let id): id == entryId
        }
    }
}

/// One line of a cost breakdown.
public struct CostLine: Sendable, Hashable {
    /// `input`, `cache_read`, `cache_write_5m`, `cache_write_1h`, `output`, `reasoning`, or `tool:NAME`.
    public var component: String
    /// Tokens (or tool calls) billed on this line.
    public var quantity: Int
    /// The unit price before tier multipliers and discounts; `nil` for tool calls.
    public var unitPrice: TokenPrice?
    /// The service-tier factor for this part combined with an org discount (×1 when neither applies).
    public var multiplier: PriceMultiplier = .one
    /// This line's share, rounded half to even on its own (the total is rounded once, so lines may differ from it
    /// by a nano-dollar).
    public var amount: Money
}

/// A priced call: the exact cost, the price id that produced it and how it was made up.
public struct CostQuote: Sendable, Hashable {
    /// The exact cost.
    public var cost: Money
    /// The catalog entry and version used (`anthropic/claude-sonnet-4-5@2025-09-29`), with the org override if any.
    public var priceId: String
    /// The catalog entry that priced the call.
    public var entryId: String
    /// Whether the long-context tier applied.
    public var longContext: Bool
    /// The service tier whose multiplier applied (`batch`, `flex`, `priority`), if any.
    public var serviceTier: String?
    /// The service tier asked for that the model has no multiplier for (priced at the standard rate).
    public var unpricedServiceTier: String?
    /// The service tier's input multiplier combined with an org discount (informational; see the lines).
    public var multiplier: PriceMultiplier
    /// The lines, in formula order.
    public var lines: [CostLine]
}

/// Counts calls that could not be priced, so the server can expose them (unpriced is not free).
public final class PricingWarnings: Sendable {
    private let count = Atomic<Int>(0)
    private let models = Mutex<[String: Int]>([:])

    /// Creates an empty counter.
    public init() {}

    /// How many calls had no price.
    public var unpricedCalls: Int { count.load(ordering: .relaxed) }

    /// Unpriced calls per `provider/model` as reported (at most 1,000 distinct names are kept).
    public var unpricedModels: [String: Int] { models.withLock { $0 } }

    func record(provider: Provider?, model: String) {
        count.add(1, ordering: .relaxed)
        let key = (provider?.rawValue ?? "?") + "/" + model
        models.withLock { table in
            if table[key] != nil || table.count < 1000 { table[key, default: 0] += 1 }
        }
    }
}

/// Prices usage exactly from a catalog, org overrides and Azure deployment names.
///
/// Formula (providers.md §0): `uncached input × input + cache reads × cache read + 5-minute writes × write 5m
/// + 1-hour writes × write 1h + (output − reasoning) × output + reasoning × reasoning price` (reasoning at the
/// output price when the model has no price of its own), where `uncached = input_tokens − reads − writes`, so a
/// cached token is billed once, at its cache price. The long-context tier replaces all prices when `input_tokens`
/// exceeds its threshold; a service-tier multiplier (batch ×0.5) and an org discount scale the token cost.
///
/// Rounding: prices are integers of nano-dollars per million tokens, so the token cost is the exact integer
/// `Σ tokens × price × tier ppm × discount ppm`, divided once by 10^18 and rounded half to even to whole
/// nano-dollars. Tool-call fees (exact nano-dollars) are added after, unscaled.
public struct CostEngine: UsagePricer {
    /// Everything the engine holds, behind one reference: an engine is handed to every call, and a
    /// copy then costs one retain instead of one per array and dictionary of the catalog.
    private final class Storage: Sendable {
        let catalog: PriceCatalog
        let azureDeployments: [String: String]
        let overridesByOrg: [String: [OrgPriceOverride]]
        let warnings: PricingWarnings

        init(
            catalog: PriceCatalog, azureDeployments: [String: String], overridesByOrg: [String: [OrgPriceOverride]],
            warnings: PricingWarnings
        ) {
            self.catalog = catalog
            self.azureDeployments = azureDeployments
            self.overridesByOrg = overridesByOrg
            self.warnings = warnings
        }
    }

    private let storage: Storage
    /// The catalog prices are read from.
    public var catalog: PriceCatalog { storage.catalog }
    /// Azure deployment name (lower-cased) → model name.
    public var azureDeployments: [String: String] { storage.azureDeployments }
    var overridesByOrg: [String: [OrgPriceOverride]] { storage.overridesByOrg }
    /// Calls that found no price.
    public var warnings: PricingWarnings { storage.warnings }

    /// Creates an engine.
    public init(
        catalog: PriceCatalog, azureDeployments: [String: String] = [:], overrides: [OrgPriceOverride] = [],
        warnings: PricingWarnings = PricingWarnings()
    ) {
        storage = Storage(
            catalog: catalog,
            // Azure deployment names are case-insensitive.
            azureDeployments: Dictionary(
                azureDeployments.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first }),
            overridesByOrg: Dictionary(grouping: overrides, by: \.org), warnings: warnings)
    }

    /// Prices a usage event at its own time; `nil` (and a counted warning) when its model has no price. The
    /// reported `model` is tried first, then `model_requested`. An event whose `endpoint` is `batch` is priced at
    /// the batch rate.
    public func price(_ event: UsageEvent) -> PricedUsage? {
        price(event, serviceTier: event.endpoint == "batch" ? "batch" : nil)
    }

    /// Prices a usage event at a service tier (`batch`, `flex`, `priority`; `nil` for the standard rate).
    public func price(_ event: UsageEvent, serviceTier: String?) -> PricedUsage? {
        guard
            let quote = try? quote(
                provider: event.provider, model: event.model, fallbackModel: event.modelRequested, usage: event.usage,
                at: event.ts, serviceTier: serviceTier, org: event.org, toolCalls: [:], lines: false)
        else { return nil }
        return PricedUsage(cost: quote.cost, priceId: quote.priceId)
    }

    /// Prices a call directly, with its breakdown.
    ///
    /// - Parameters:
    ///   - model: the model as reported or requested (snapshots, prefixes, aliases and Azure deployments resolve).
    ///   - provider: the provider, or `nil` to take it from a prefix or the first catalog match.
    ///   - usage: the token counts (`inputTokens` counts every prompt token, cache parts included).
    ///   - at: when the call happened; the price version in effect then is used.
    ///   - batch: price at the model's batch rate.
    ///   - serviceTier: another service tier (`flex`, `priority`); ignored when `batch` is set.
    ///   - org: the organisation whose overrides apply.
    ///   - toolCalls: server-side tool calls by tool name, billed per call.
    /// - Returns: the quote, or `nil` when the model has no price at that time (counted in `warnings`).
    /// - Throws: `invalidRequest` when the counts are negative or the cache parts exceed the input total.
    public func cost(
        model: String, provider: Provider? = nil, usage: Usage, at: Timestamp, batch: Bool = false,
        serviceTier: String? = nil, org: String? = nil, toolCalls: [String: Int] = [:]
    ) throws(MeterrError) -> CostQuote? {
        try quote(
            provider: provider, model: model, fallbackModel: nil, usage: usage, at: at,
            serviceTier: batch ? "batch" : serviceTier,
            org: org, toolCalls: toolCalls, lines: true)
    }

    /// The entry a model name resolves to, with this engine's Azure deployments.
    public func resolve(model: String, provider: Provider?) -> CatalogEntry? {
        catalog.resolve(provider: provider, model: model, azureDeployments: azureDeployments)
    }

    func override(for org: String?, provider: Provider, entryId: String, at time: Timestamp) -> OrgPriceOverride? {
        guard let org, !overridesByOrg.isEmpty, let candidates = overridesByOrg[org] else { return nil }
        var best: OrgPriceOverride?
        for candidate in candidates where candidate.covers(provider: provider, id: entryId) {
            if let start = candidate.effectiveFromTime, start > time { continue }
            guard let current = best else {
                best = candidate
                continue
            }
            let newer =
                (candidate.effectiveFromTime ?? Timestamp(milliseconds: .min))
                > (current.effectiveFromTime ?? Timestamp(milliseconds: .min))
            if candidate.specificity > current.specificity || (candidate.specificity == current.specificity && newer) {
                best = candidate
            }
        }
        return best
    }

    func quote(
        provider: Provider?, model: String, fallbackModel: String?, usage: Usage, at time: Timestamp,
        serviceTier: String?, org: String?,
        toolCalls: [String: Int], lines wantLines: Bool
    ) throws(MeterrError) -> CostQuote? {
        if usage.inputTokens < 0 || usage.cacheReadTokens < 0 || usage.cacheWriteTokens < 0
            || usage.cacheWrite1hTokens < 0 || usage.outputTokens < 0 || usage.reasoningTokens < 0
            || usage.uncachedInputTokens < 0 || usage.reasoningTokens > usage.outputTokens
        {
            try usage.validate()
        }
        for (tool, calls) in toolCalls where calls < 0 {
            throw .invalid("tool_calls.\(tool)", "must not be negative (got \(calls))")
        }
        guard
            let position = catalog.resolveIndex(provider: provider, model: model, azureDeployments: azureDeployments)
                ?? fallbackModel.flatMap({
                    catalog.resolveIndex(provider: provider, model: $0, azureDeployments: azureDeployments)
                })
        else {
            warnings.record(provider: provider, model: model)
            return nil
        }
        let start = catalog.compiledStart[position]
        var index = catalog.compiledStart[position + 1] - 1
        while index >= start && catalog.compiled[index].fromMilliseconds > time.milliseconds { index -= 1 }
        guard index >= start else {
            warnings.record(provider: provider, model: model)
            return nil
        }
        let version = catalog.compiled[index]
        let entryId = catalog.entryIds[position]
        var prices = version.prices
        var longContext = false
        if let tier = version.longContext, usage.inputTokens > tier.aboveInputTokens {
            prices = tier.prices
            longContext = true
        }
        var priceId = version.priceId
        var discount = PriceMultiplier.one
        // A provider-wide deal is with the provider that served the call: an Azure call priced by the
        // OpenAI entry does not get OpenAI's discount.
        if let override = override(
            for: org, provider: provider ?? catalog.entries[position].provider, entryId: entryId, at: time)
        {
            switch override.adjustment {
            case .prices(let negotiated):
                prices = negotiated
                longContext = false
                priceId = "org:\(override.org)/\(entryId)@\(override.effectiveFrom ?? "always")"
            case .discount(let percent, let multiplier):
                discount = multiplier
                priceId += "~org:\(override.org):-\(percent)%"
            }
        }
        var tier = ServiceTier(.one)
        var appliedTier: String?
        var missingTier: String?
        if let serviceTier {
            let found =
                serviceTier == "batch"
                ? version.batch
                : catalog.entries[position].versions[index - start].serviceTiers[serviceTier]
            if let found {
                tier = found
                appliedTier = serviceTier
            } else if serviceTier != "default" && serviceTier != "standard" {
                missingTier = serviceTier
            }
        }

        let write5m = prices.cacheWrite5m ?? prices.input
        let write1h = prices.cacheWrite1h ?? write5m
        let cacheRead = prices.cacheRead ?? prices.input
        let reasoningTokens = prices.reasoning == nil ? 0 : usage.reasoningTokens
        let outputTokens = usage.outputTokens - reasoningTokens
        let reasoningPrice = prices.reasoning ?? prices.output
        let uncached = usage.uncachedInputTokens
        let scale = Int128(discount.partsPerMillion)
        var total: Int128 = 0
        try Self.accumulate(&total, uncached, prices.input, tier.input)
        try Self.accumulate(&total, usage.cacheReadTokens, cacheRead, tier.cacheRead)
        try Self.accumulate(&total, usage.cacheWriteTokens, write5m, tier.cacheWrite5m)
        try Self.accumulate(&total, usage.cacheWrite1hTokens, write1h, tier.cacheWrite1h)
        try Self.accumulate(&total, outputTokens, prices.output, tier.output)
        try Self.accumulate(&total, reasoningTokens, reasoningPrice, tier.output)
        var nanos = try Self.scaledNanos(total, scale)
        var lines: [CostLine] = []
        if wantLines {
            let parts: [(String, Int, TokenPrice, PriceMultiplier)] = [
                ("input", uncached, prices.input, tier.input),
                ("cache_read", usage.cacheReadTokens, cacheRead, tier.cacheRead),
                ("cache_write_5m", usage.cacheWriteTokens, write5m, tier.cacheWrite5m),
                ("cache_write_1h", usage.cacheWrite1hTokens, write1h, tier.cacheWrite1h),
                ("output", outputTokens, prices.output, tier.output),
                ("reasoning", reasoningTokens, reasoningPrice, tier.output),
            ]
            for (name, tokens, price, factor) in parts where tokens > 0 {
                var line: Int128 = 0
                try Self.accumulate(&line, tokens, price, factor)
                let amount = try Self.scaledNanos(line, scale)
                let combined = PriceMultiplier(
                    partsPerMillion: factor.partsPerMillion * discount.partsPerMillion / 1_000_000)
                lines.append(
                    CostLine(
                        component: name, quantity: tokens, unitPrice: price, multiplier: combined,
                        amount: Money(nanos: amount)))
            }
        }
        for (tool, calls) in toolCalls.isEmpty ? [] : toolCalls.sorted(by: { $0.key < $1.key }) where calls > 0 {
            guard let fee = catalog.entries[position].versions[index - start].toolFees[tool] else { continue }
            let (amount, o1) = fee.nanos.multipliedReportingOverflow(by: Int64(calls))
            let (sum, o2) = nanos.addingReportingOverflow(amount)
            if o1 || o2 { throw Self.tooLarge }
            nanos = sum
            if wantLines {
                lines.append(
                    CostLine(component: "tool:" + tool, quantity: calls, unitPrice: nil, amount: Money(nanos: amount)))
            }
        }
        let combined = PriceMultiplier(
            partsPerMillion: tier.input.partsPerMillion * discount.partsPerMillion / 1_000_000)
        return CostQuote(
            cost: Money(nanos: nanos), priceId: priceId, entryId: entryId, longContext: longContext,
            serviceTier: appliedTier, unpricedServiceTier: missingTier, multiplier: combined, lines: lines)
    }

    /// Adds `tokens × price × factor` (nano-dollars per million tokens × parts per million) to `total`.
    static func accumulate(
        _ total: inout Int128, _ tokens: Int, _ price: TokenPrice, _ factor: PriceMultiplier
    ) throws(MeterrError) {
        let (cost, o1) = Int128(tokens).multipliedReportingOverflow(by: Int128(price.nanosPerMillion))
        let (scaled, o2) = cost.multipliedReportingOverflow(by: Int128(factor.partsPerMillion))
        let (sum, o3) = total.addingReportingOverflow(scaled)
        if o1 || o2 || o3 { throw tooLarge }
        total = sum
    }

    static let tooLarge = MeterrError.invalid("usage", "the cost of these counts is too large to represent")

    /// `tokenCost × scale / 10^18` (nano-dollars per million tokens × tier parts per million × discount parts per
    /// million) rounded half to even to whole nano-dollars.
    static func scaledNanos(_ tokenCost: Int128, _ scale: Int128) throws(MeterrError) -> Int64 {
        let (scaled, overflow) = tokenCost.multipliedReportingOverflow(by: scale)
        guard !overflow, let nanos = Int64(exactly: roundHalfEven(scaled, 1_000_000_000_000_000_000)) else {
            throw tooLarge
        }
        return nanos
    }

    /// `value / divisor` rounded half to even (`divisor` > 0, `value` ≥ 0 in practice; negatives round the same way).
    static func roundHalfEven(_ value: Int128, _ divisor: Int128) -> Int128 {
        let quotient = value / divisor
        let remainder = value % divisor
        let twice = remainder.magnitude * 2
        if twice > divisor.magnitude || (twice == divisor.magnitude && quotient % 2 != 0) {
            return value < 0 ? quotient - 1 : quotient + 1
        }
        return quotient
    }
}
