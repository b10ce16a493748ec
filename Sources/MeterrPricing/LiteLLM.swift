import MeterrCore

/// What an import did with each LiteLLM entry.
public struct LiteLLMMergeResult: Sendable {
    /// One line of the report.
    public struct Item: Sendable, Hashable {
        /// The LiteLLM key.
        public var key: String
        /// The catalog entry it maps to (`openai/gpt-4o`), if any.
        public var entryId: String?
        /// Why it was skipped, or what changed.
        public var detail: String
    }

    /// Models the catalog did not have.
    public var added: [Item] = []
    /// Models whose price differs from the catalog's at the import date (a new version is added).
    public var changed: [Item] = []
    /// Entries not imported, with the reason.
    public var skipped: [Item] = []
    /// The new overlay: the old overlay plus the added entries and new versions.
    public var overlay: PriceCatalog
}

/// Import and export in LiteLLM's `model_prices_and_context_window.json` format.
///
/// Per-token prices are read from the JSON number text digit by digit (never through `Double`), so `3.75e-06`
/// becomes exactly $3.75 per million tokens. Keys used: `litellm_provider`, `mode`, `max_input_tokens`,
/// `max_output_tokens`, `input_cost_per_token`, `output_cost_per_token`, `cache_read_input_token_cost`,
/// `cache_creation_input_token_cost` (5-minute write), `cache_creation_input_token_cost_above_1hr`,
/// `output_cost_per_reasoning_token`, `…_above_{N}k_tokens` (long-context tier),
/// `…_{batches|flex|priority}` (when they are one uniform multiplier), `search_context_cost_per_query`
/// (Anthropic web search per call), `deprecation_date`, `source`, and the capability flags
/// `supports_function_calling` (tools), `supports_vision` and `supports_response_schema` (JSON-schema output), where
/// an absent flag is unknown.
public enum LiteLLM {
    static let priceKeys: Set<String> = [
        "input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost",
        "cache_creation_input_token_cost", "cache_creation_input_token_cost_above_1hr",
        "output_cost_per_reasoning_token",
    ]
    static let meteredModes: Set<String> = ["chat", "completion", "responses", "embedding"]
    static let tierSuffixes: [(suffix: String, tier: String)] = [
        ("batches", "batch"), ("flex", "flex"), ("priority", "priority"),
    ]
    static let toolsFlag = "supports_function_calling"
    static let visionFlag = "supports_vision"
    static let jsonSchemaFlag = "supports_response_schema"

    static func provider(litellm name: String) -> Provider? {
        switch name {
        case "openai", "text-completion-openai": .openai
        case "azure", "azure_text": .azure
        case "anthropic": .anthropic
        case "gemini": .gemini
        case "mistral": .mistral
        case "cohere", "cohere_chat": .cohere
        default: nil
        }
    }

    /// A LiteLLM entry turned into a catalog entry (one version), or the reason it cannot be.
    enum Parsed {
        case entry(CatalogEntry)
        case skipped(String)
    }

    /// Parses a LiteLLM file. Throws on malformed input, naming the entry and key; unsupported entries are
    /// returned as skipped with the reason.
    static func parse(
        _ bytes: [UInt8], effectiveFrom: String, sourceName: String
    ) throws(MeterrError) -> [(key: String, parsed: Parsed)] {
        let root: OrderedJSON
        do {
            root = try OrderedJSONParser.parse(bytes)
        } catch {
            throw MeterrError(.invalidRequest, "the file " + error.message)
        }
        guard case .object(let members) = root else {
            throw MeterrError(.invalidRequest, "a LiteLLM price file is one JSON object keyed by model")
        }
        var results: [(key: String, parsed: Parsed)] = []
        for (key, value) in members {
            if key == "sample_spec" || key == "fallback_generalizations" {
                results.append((key, .skipped("documentation entry")))
                continue
            }
            guard case .object = value else {
                throw .invalid(key, "must be an object of prices, not \(value.kindName)")
            }
            results.append((key, try parseEntry(key: key, value, effectiveFrom: effectiveFrom, sourceName: sourceName)))
        }
        return results
    }

    static func parseEntry(
        key: String, _ value: OrderedJSON, effectiveFrom: String, sourceName: String
    ) throws(MeterrError) -> Parsed {
        guard let providerName = value["litellm_provider"]?.stringValue else { return .skipped("no litellm_provider") }
        guard let provider = provider(litellm: providerName) else {
            return .skipped("provider \(providerName) is not one meterr meters")
        }
        let mode = value["mode"]?.stringValue ?? "chat"
        guard meteredModes.contains(mode) else { return .skipped("mode \(mode) is not priced per token") }
        var model = key
        if let slash = key.firstIndex(of: "/") {
            let prefix = key[..<slash]
            guard prefix == providerName || LiteLLM.provider(litellm: String(prefix)) == provider else {
                return .skipped("prefixed key for another route (\(prefix))")
            }
            model = String(key[key.index(after: slash)...])
            if model.contains("/") { return .skipped("regional or sized variant") }
        }
        // Every price key is checked before anything is decided, so a malformed value is an error, not a skip.
        var prices: [String: TokenPrice] = [:]
        if case .object(let members) = value {
            for (name, field) in members where isPriceKey(name) {
                guard case .number(let text) = field else {
                    throw .invalid("\(key).\(name)", "expected a number of US dollars per token, got \(field.kindName)")
                }
                switch TokenPrice.perToken(text) {
                case .success(let price): prices[name] = price
                case .failure(let problem): throw .invalid("\(key).\(name)", "\(text) \(problem)")
                }
            }
        }
        guard let input = prices["input_cost_per_token"] else { return .skipped("no per-token input price") }
        guard
            let output = prices["output_cost_per_token"] ?? (mode == "embedding" ? TokenPrice(nanosPerMillion: 0) : nil)
        else { return .skipped("no per-token output price") }
        if input.nanosPerMillion == 0 && output.nanosPerMillion == 0 {
            return .skipped("all prices are zero (unpriced is not free)")
        }
        let reasoning = prices["output_cost_per_reasoning_token"].flatMap { $0 == output ? nil : $0 }
        let base = PriceSet(
            input: input, cacheRead: prices["cache_read_input_token_cost"],
            cacheWrite5m: prices["cache_creation_input_token_cost"],
            cacheWrite1h: prices["cache_creation_input_token_cost_above_1hr"], output: output, reasoning: reasoning)

        var longContext: LongContextTier?
        let thresholds = prices.keys.compactMap { name -> Int? in
            guard name.hasPrefix("input_cost_per_token_above_"), name.hasSuffix("k_tokens") else { return nil }
            let middle = name.dropFirst("input_cost_per_token_above_".count).dropLast("k_tokens".count)
            return Int(middle)
        }
        if let thousands = thresholds.min() {
            let suffix = "_above_\(thousands)k_tokens"
            longContext = LongContextTier(
                aboveInputTokens: thousands * 1000,
                prices: PriceSet(
                    input: prices["input_cost_per_token" + suffix]!,
                    cacheRead: prices["cache_read_input_token_cost" + suffix] ?? base.cacheRead,
                    cacheWrite5m: prices["cache_creation_input_token_cost" + suffix] ?? base.cacheWrite5m,
                    cacheWrite1h: prices["cache_creation_input_token_cost_above_1hr" + suffix] ?? base.cacheWrite1h,
                    output: prices["output_cost_per_token" + suffix] ?? base.output, reasoning: base.reasoning))
        }

        var tiers: [String: ServiceTier] = [:]
        for (suffix, tier) in tierSuffixes {
            if let found = serviceTier(prices, base: base, suffix: suffix) { tiers[tier] = found }
        }
        var fees: [String: Money] = [:]
        if provider == .anthropic,
            case .number(let text)? = value["search_context_cost_per_query"]?["search_context_size_medium"],
            case .success(let nanos) = ExactDecimal.scaled(text, shift: 9)
        {
            fees["web_search"] = Money(nanos: nanos)
        }
        let capabilities = ModelCapabilities(
            tools: try flag(value, toolsFlag, key), vision: try flag(value, visionFlag, key),
            jsonSchema: try flag(value, jsonSchemaFlag, key))
        let source =
            value["source"]?.stringValue.map { "\($0) (via \(sourceName) key \(key))" } ?? "\(sourceName) key \(key)"
        let version: PriceVersion
        do {
            version = try PriceVersion(
                effectiveFrom: effectiveFrom, source: source, prices: base, longContext: longContext,
                serviceTiers: tiers, toolFees: fees)
        } catch {
            throw .invalid("effective_from", error.message)
        }
        return .entry(
            CatalogEntry(
                provider: provider, model: model, mode: mode, maxInputTokens: integer(value["max_input_tokens"]),
                maxOutputTokens: integer(value["max_output_tokens"]), capabilities: capabilities,
                deprecationDate: value["deprecation_date"]?.stringValue, versions: [version]))
    }

    /// A `supports_…` flag: `nil` when absent, an error when it is not a boolean.
    static func flag(_ value: OrderedJSON, _ name: String, _ key: String) throws(MeterrError) -> Bool? {
        guard let field = value[name] else { return nil }
        guard case .bool(let supported) = field else {
            throw .invalid("\(key).\(name)", "expected true or false, got \(field.kindName)")
        }
        return supported
    }

    static func isPriceKey(_ name: String) -> Bool {
        if priceKeys.contains(name) { return true }
        for base in priceKeys where name.hasPrefix(base + "_") {
            let rest = name.dropFirst(base.count + 1)
            if rest == "batches" || rest == "flex" || rest == "priority" { return true }
            if rest.hasPrefix("above_") && rest.hasSuffix("k_tokens") && !rest.contains("_priority")
                && Int(rest.dropFirst("above_".count).dropLast("k_tokens".count)) != nil
            {
                return true
            }
        }
        return false
    }

    static func integer(_ value: OrderedJSON?) -> Int? {
        guard case .number(let text)? = value, case .success(let number) = ExactDecimal.scaled(text, shift: 0) else {
            return nil
        }
        return Int(number)
    }

    /// The tier's factors, part by part: each listed tier price divided by its base price (exact to a millionth, or
    /// the tier is dropped); a part without a tier price takes the input's factor.
    static func serviceTier(_ prices: [String: TokenPrice], base: PriceSet, suffix: String) -> ServiceTier? {
        func ratio(_ tier: TokenPrice, _ base: TokenPrice) -> PriceMultiplier? {
            guard base.nanosPerMillion > 0 else { return nil }
            let (ppm, remainder) = (tier.nanosPerMillion * 1_000_000).quotientAndRemainder(
                dividingBy: base.nanosPerMillion)
            return remainder == 0 ? PriceMultiplier(partsPerMillion: ppm) : nil
        }
        guard let tierInput = prices["input_cost_per_token_" + suffix], let input = ratio(tierInput, base.input) else {
            return nil
        }
        func part(_ key: String, _ basePrice: TokenPrice?) -> PriceMultiplier?? {
            guard let tierPrice = prices[key + "_" + suffix] else { return .some(input) }
            guard let basePrice else { return .none }
            // A free part (embedding output) stays free at any factor.
            if basePrice.nanosPerMillion == 0 { return tierPrice.nanosPerMillion == 0 ? .some(input) : .none }
            return ratio(tierPrice, basePrice).map { .some($0) } ?? .none
        }
        guard let output = part("output_cost_per_token", base.output),
            let cacheRead = part("cache_read_input_token_cost", base.cacheRead),
            let cacheWrite = part("cache_creation_input_token_cost", base.cacheWrite5m)
        else { return nil }
        return ServiceTier(
            input: input, cacheRead: cacheRead ?? input, cacheWrite5m: cacheWrite ?? input,
            cacheWrite1h: cacheWrite ?? input,
            output: output ?? input)
    }

    /// Merges a LiteLLM file into the data directory's overlay.
    ///
    /// A model the catalog lacks is added (its version starts at `addedEffectiveFrom`, by default the start of
    /// the catalog's time, so earlier calls get a price too); a model whose prices differ from the catalog's
    /// version in effect at `effectiveFrom` gets a new version starting then; an equal one is skipped as
    /// unchanged. Throws on a malformed file and then changes nothing.
    ///
    /// - Parameters:
    ///   - current: the catalog in use (shipped + overlay), to compare against.
    ///   - overlay: the overlay as stored, to extend.
    public static func merge(
        _ bytes: [UInt8], sourceName: String, current: PriceCatalog, overlay: PriceCatalog, effectiveFrom: String,
        addedEffectiveFrom: String = PriceCatalog.sinceRelease
    ) throws(MeterrError) -> LiteLLMMergeResult {
        let parsed = try parse(bytes, effectiveFrom: effectiveFrom, sourceName: sourceName)
        guard let effectiveTime = Timestamp(rfc3339: effectiveFrom) else {
            throw .invalid("effective_from", "must be a date such as 2026-12-01")
        }
        var result = LiteLLMMergeResult(overlay: overlay)
        var additions: [CatalogEntry] = []
        var seen: [String: String] = [:]
        for (key, item) in parsed {
            guard case .entry(var entry) = item else {
                if case .skipped(let reason) = item {
                    result.skipped.append(.init(key: key, entryId: nil, detail: reason))
                }
                continue
            }
            if let existing = current.entry(provider: entry.provider, model: entry.model) {
                entry.model = existing.model
                if let first = seen[existing.id] {
                    result.skipped.append(
                        .init(key: key, entryId: existing.id, detail: "same model as an earlier key (\(first))"))
                    continue
                }
                seen[existing.id] = key
                let incoming = entry.versions[0]
                if let old = existing.version(at: effectiveTime), samePrices(old, incoming) {
                    result.skipped.append(.init(key: key, entryId: existing.id, detail: "unchanged"))
                    continue
                }
                let before = existing.version(at: effectiveTime).map { describe($0) } ?? "no price"
                result.changed.append(
                    .init(
                        key: key, entryId: existing.id,
                        detail: "\(before) → \(describe(incoming)) from \(effectiveFrom)"))
                additions.append(
                    CatalogEntry(
                        provider: existing.provider, model: existing.model, mode: existing.mode, versions: [incoming]))
            } else {
                if let first = seen[entry.id] {
                    result.skipped.append(
                        .init(key: key, entryId: entry.id, detail: "same model as an earlier key (\(first))"))
                    continue
                }
                seen[entry.id] = key
                var version = entry.versions[0]
                version = try PriceVersion(
                    effectiveFrom: addedEffectiveFrom, source: version.source, prices: version.prices,
                    longContext: version.longContext, serviceTiers: version.serviceTiers, toolFees: version.toolFees)
                entry.versions = [version]
                result.added.append(.init(key: key, entryId: entry.id, detail: describe(version)))
                additions.append(entry)
            }
        }
        result.overlay = try overlay.merging(try PriceCatalog(entries: additions))
        return result
    }

    static func samePrices(_ a: PriceVersion, _ b: PriceVersion) -> Bool {
        a.prices == b.prices && a.longContext == b.longContext && a.serviceTiers == b.serviceTiers
            && a.toolFees == b.toolFees
    }

    static func describe(_ version: PriceVersion) -> String {
        var text = "in \(version.prices.input.perMillionText) out \(version.prices.output.perMillionText)"
        if let read = version.prices.cacheRead { text += " cache read \(read.perMillionText)" }
        if let write = version.prices.cacheWrite5m { text += " cache write \(write.perMillionText)" }
        return text + " $/M"
    }

    /// The catalog in LiteLLM's format: for each entry (and each alias) the version in effect at `time`.
    public static func export(_ catalog: PriceCatalog, at time: Timestamp) -> String {
        var members: [(key: String, value: OrderedJSON)] = []
        for entry in catalog.entries {
            guard let version = entry.version(at: time) ?? entry.versions.first else { continue }
            let value = exportEntry(entry, version)
            for name in [entry.model] + entry.aliases {
                let key: String =
                    switch entry.provider {
                    case .openai, .anthropic, .cohere: name
                    default: entry.provider.rawValue + "/" + name
                    }
                members.append((key, value))
            }
        }
        return OrderedJSONWriter.write(.object(members))
    }

    static func exportEntry(_ entry: CatalogEntry, _ version: PriceVersion) -> OrderedJSON {
        var members: [(key: String, value: OrderedJSON)] = []
        func put(_ key: String, _ price: TokenPrice?) {
            if let price { members.append((key, .number(price.perTokenText))) }
        }
        let prices = version.prices
        put("input_cost_per_token", prices.input)
        put("output_cost_per_token", prices.output)
        put("cache_read_input_token_cost", prices.cacheRead)
        put("cache_creation_input_token_cost", prices.cacheWrite5m)
        put("cache_creation_input_token_cost_above_1hr", prices.cacheWrite1h)
        put("output_cost_per_reasoning_token", prices.reasoning)
        if let tier = version.longContext, tier.aboveInputTokens % 1000 == 0 {
            let suffix = "_above_\(tier.aboveInputTokens / 1000)k_tokens"
            put("input_cost_per_token" + suffix, tier.prices.input)
            put("output_cost_per_token" + suffix, tier.prices.output)
            put("cache_read_input_token_cost" + suffix, tier.prices.cacheRead)
            put("cache_creation_input_token_cost" + suffix, tier.prices.cacheWrite5m)
            put("cache_creation_input_token_cost_above_1hr" + suffix, tier.prices.cacheWrite1h)
        }
        for (suffix, tierName) in tierSuffixes {
            guard let tier = version.serviceTiers[tierName] else { continue }
            for (key, price, factor) in [
                ("input_cost_per_token_", prices.input, tier.input),
                ("output_cost_per_token_", prices.output, tier.output),
                ("cache_read_input_token_cost_", prices.cacheRead, tier.cacheRead),
                ("cache_creation_input_token_cost_", prices.cacheWrite5m, tier.cacheWrite5m),
            ] {
                guard let price else { continue }
                let (scaled, remainder) = (price.nanosPerMillion * factor.partsPerMillion)
                    .quotientAndRemainder(dividingBy: 1_000_000)
                if remainder == 0 { put(key + suffix, TokenPrice(nanosPerMillion: scaled)) }
            }
        }
        let providerName: String =
            switch entry.provider {
            case .cohere: entry.mode == "embedding" ? "cohere" : "cohere_chat"
            default: entry.provider.rawValue
            }
        members.append(("litellm_provider", .string(providerName)))
        members.append(("mode", .string(entry.mode)))
        if let limit = entry.maxInputTokens { members.append(("max_input_tokens", .number(String(limit)))) }
        if let limit = entry.maxOutputTokens {
            members.append(("max_output_tokens", .number(String(limit))))
            members.append(("max_tokens", .number(String(limit))))
        }
        if let date = entry.deprecationDate { members.append(("deprecation_date", .string(date))) }
        for (name, supported) in [
            (toolsFlag, entry.capabilities.tools), (visionFlag, entry.capabilities.vision),
            (jsonSchemaFlag, entry.capabilities.jsonSchema),
        ] {
            if let supported { members.append((name, .bool(supported))) }
        }
        if let fee = version.toolFees["web_search"] {
            let text = ExactDecimal.pythonStyle(fee.nanos, scale: 9)
            members.append(
                (
                    "search_context_cost_per_query",
                    .object([
                        ("search_context_size_high", .number(text)), ("search_context_size_low", .number(text)),
                        ("search_context_size_medium", .number(text)),
                    ])
                ))
        }
        members.append(("source", .string(version.source)))
        return .object(members)
    }
}

extension PriceCatalog {
    /// The start date written for prices that apply from a model's release when the release date is not recorded.
    public static let sinceRelease = "2023-01-01"
}
