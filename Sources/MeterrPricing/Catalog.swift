import MeterrCore

/// The per-token prices of one model in one version (and one long-context tier).
///
/// A missing cache price means the provider does not discount or surcharge that part: cache reads and writes are
/// then billed at the input price, a 1-hour write falls back to the 5-minute write price, and reasoning tokens
/// without a price of their own are billed at the output price.
public struct PriceSet: Sendable, Hashable {
    /// Uncached prompt tokens.
    public var input: TokenPrice
    /// Prompt tokens read from the cache.
    public var cacheRead: TokenPrice?
    /// Prompt tokens written to a 5-minute cache.
    public var cacheWrite5m: TokenPrice?
    /// Prompt tokens written to a 1-hour cache.
    public var cacheWrite1h: TokenPrice?
    /// Output tokens (reasoning included unless `reasoning` is set).
    public var output: TokenPrice
    /// Reasoning tokens, where the provider prices them apart from other output.
    public var reasoning: TokenPrice?

    /// Creates a price set.
    public init(
        input: TokenPrice, cacheRead: TokenPrice? = nil, cacheWrite5m: TokenPrice? = nil,
        cacheWrite1h: TokenPrice? = nil, output: TokenPrice, reasoning: TokenPrice? = nil
    ) {
        self.input = input
        self.cacheRead = cacheRead
        self.cacheWrite5m = cacheWrite5m
        self.cacheWrite1h = cacheWrite1h
        self.output = output
        self.reasoning = reasoning
    }
}

/// A long-context tier: once a request's prompt (all input tokens, cached included) exceeds the threshold, the whole
/// request is billed at the tier's prices.
public struct LongContextTier: Sendable, Hashable {
    /// The tier applies when `input_tokens` is strictly above this.
    public var aboveInputTokens: Int
    /// The tier's prices.
    public var prices: PriceSet

    /// Creates a tier.
    public init(aboveInputTokens: Int, prices: PriceSet) {
        self.aboveInputTokens = aboveInputTokens
        self.prices = prices
    }
}

/// A service tier's multipliers (batch, flex, priority): one factor for the whole token cost, or one per part
/// where the provider discounts parts differently (Gemini 2.5 batch halves input and output but not cache reads).
public struct ServiceTier: Sendable, Hashable, CustomStringConvertible {
    /// Factor on uncached input.
    public var input: PriceMultiplier
    /// Factor on cache reads.
    public var cacheRead: PriceMultiplier
    /// Factor on 5-minute cache writes.
    public var cacheWrite5m: PriceMultiplier
    /// Factor on 1-hour cache writes.
    public var cacheWrite1h: PriceMultiplier
    /// Factor on output (reasoning included).
    public var output: PriceMultiplier

    /// One factor for every part.
    public init(_ multiplier: PriceMultiplier) {
        self.init(
            input: multiplier, cacheRead: multiplier, cacheWrite5m: multiplier, cacheWrite1h: multiplier,
            output: multiplier)
    }

    /// One factor per part.
    public init(
        input: PriceMultiplier, cacheRead: PriceMultiplier, cacheWrite5m: PriceMultiplier,
        cacheWrite1h: PriceMultiplier, output: PriceMultiplier
    ) {
        self.input = input
        self.cacheRead = cacheRead
        self.cacheWrite5m = cacheWrite5m
        self.cacheWrite1h = cacheWrite1h
        self.output = output
    }

    /// Whether every part has the same factor.
    public var isUniform: Bool {
        cacheRead == input && cacheWrite5m == input && cacheWrite1h == input && output == input
    }

    /// The parts whose factor differs from the input's, by catalog key.
    public var exceptions: [(key: String, multiplier: PriceMultiplier)] {
        [
            ("cache_read", cacheRead), ("cache_write_5m", cacheWrite5m), ("cache_write_1h", cacheWrite1h),
            ("output", output),
        ]
        .filter { $0.1 != input }.map { (key: $0.0, multiplier: $0.1) }
    }

    public var description: String {
        exceptions.reduce("×" + input.text) { $0 + " (\($1.key) ×\($1.multiplier.text))" }
    }
}

/// One dated version of a model's prices.
public struct PriceVersion: Sendable, Hashable {
    /// The first day (UTC) this version prices calls, as written in the catalog (`2025-09-29`).
    public var effectiveFrom: String
    /// `effectiveFrom` as a time.
    public var effectiveFromTime: Timestamp
    /// Where the numbers come from (URL or file and commit).
    public var source: String
    /// The standard prices.
    public var prices: PriceSet
    /// The long-context tier, if the model has one.
    public var longContext: LongContextTier?
    /// Multipliers per service tier (`batch`, `flex`, `priority`).
    public var serviceTiers: [String: ServiceTier]
    /// Fees per server-side tool call, e.g. `web_search`.
    public var toolFees: [String: Money]

    /// Creates a version; `effectiveFrom` must be a `YYYY-MM-DD` date.
    public init(
        effectiveFrom: String, source: String, prices: PriceSet, longContext: LongContextTier? = nil,
        serviceTiers: [String: ServiceTier] = [:], toolFees: [String: Money] = [:]
    ) throws(MeterrError) {
        guard effectiveFrom.utf8.count == 10, let time = Timestamp(rfc3339: effectiveFrom) else {
            throw .invalid("effective_from", "must be a date such as 2025-09-29 (got \(effectiveFrom))")
        }
        self.effectiveFrom = effectiveFrom
        self.effectiveFromTime = time
        self.source = source
        self.prices = prices
        self.longContext = longContext
        self.serviceTiers = serviceTiers
        self.toolFees = toolFees
    }
}

/// One model of the catalog with its price history.
public struct CatalogEntry: Sendable, Hashable {
    /// The provider that serves the model.
    public var provider: Provider
    /// The model's canonical name (`claude-sonnet-4-5`).
    public var model: String
    /// Other names priced the same way: dated snapshots, `-latest` aliases.
    public var aliases: [String]
    /// `chat`, `completion`, `responses`, `embedding`, …
    public var mode: String
    /// The largest prompt the model accepts.
    public var maxInputTokens: Int?
    /// The largest output the model produces.
    public var maxOutputTokens: Int?
    /// Whether the model takes tools, images and JSON-schema output; unknown unless a source says.
    public var capabilities: ModelCapabilities
    /// The provider's announced end of life (`YYYY-MM-DD`), if any.
    public var deprecationDate: String?
    /// Price versions, oldest first.
    public var versions: [PriceVersion]

    /// Creates an entry; versions are sorted by their start date.
    public init(
        provider: Provider, model: String, aliases: [String] = [], mode: String = "chat", maxInputTokens: Int? = nil,
        maxOutputTokens: Int? = nil, capabilities: ModelCapabilities = ModelCapabilities(),
        deprecationDate: String? = nil, versions: [PriceVersion]
    ) {
        self.provider = provider
        self.model = model
        self.aliases = aliases
        self.mode = mode
        self.maxInputTokens = maxInputTokens
        self.maxOutputTokens = maxOutputTokens
        self.capabilities = capabilities
        self.deprecationDate = deprecationDate
        self.versions = versions.sorted { $0.effectiveFromTime < $1.effectiveFromTime }
    }

    /// `provider/model`, e.g. `anthropic/claude-sonnet-4-5`.
    public var id: String { provider.rawValue + "/" + model }

    /// The version in effect at `time`: the latest one that started on or before it.
    public func version(at time: Timestamp) -> PriceVersion? { versionIndex(at: time).map { versions[$0] } }

    /// The position in `versions` of the version in effect at `time`.
    public func versionIndex(at time: Timestamp) -> Int? {
        var index = versions.count - 1
        while index >= 0 {
            if versions[index].effectiveFromTime <= time { return index }
            index -= 1
        }
        return nil
    }

    /// The version that starts last (the current list price, unless one is scheduled).
    public var latestVersion: PriceVersion? { versions.last }

    /// The price id of a version of this entry: `anthropic/claude-sonnet-4-5@2025-09-29`.
    public func priceId(_ version: PriceVersion) -> String { id + "@" + version.effectiveFrom }
}

/// What pricing needs of one version, as plain values.
struct CompiledVersion: Sendable {
    var fromMilliseconds: Int64
    var prices: PriceSet
    var longContext: LongContextTier?
    var batch: ServiceTier?
    var priceId: String
}

/// The key of the name index: a provider and a lower-cased model name.
struct ModelKey: Hashable {
    var provider: Provider
    var name: String
}

/// The price catalog: models, their versions and a name index. Immutable once built; share it freely.
public struct PriceCatalog: Sendable {
    /// Every entry, in catalog order.
    public private(set) var entries: [CatalogEntry]
    var index: [ModelKey: Int]
    var bareIndex: [String: Int]
    /// `family-latest` without an entry of its own: the family's newest dated snapshot (`codestral-latest`
    /// → `codestral-2508`), by provider and bare.
    var latestIndex: [ModelKey: Int]
    var bareLatestIndex: [String: Int]
    /// Every entry's id, computed once so pricing allocates no strings.
    let entryIds: [String]
    /// Every version of every entry, flattened into plain values (no reference counting on the hot path); entry
    /// `i` owns `compiled[compiledStart[i]..<compiledStart[i + 1]]`, oldest first.
    let compiled: [CompiledVersion]
    let compiledStart: [Int]

    /// Builds a catalog; names and aliases must be unique per provider.
    public init(entries: [CatalogEntry]) throws(MeterrError) {
        self.entries = entries
        self.index = [:]
        self.bareIndex = [:]
        self.latestIndex = [:]
        self.bareLatestIndex = [:]
        self.entryIds = entries.map(\.id)
        var compiled: [CompiledVersion] = []
        var compiledStart: [Int] = []
        for entry in entries {
            compiledStart.append(compiled.count)
            for version in entry.versions {
                compiled.append(
                    CompiledVersion(
                        fromMilliseconds: version.effectiveFromTime.milliseconds, prices: version.prices,
                        longContext: version.longContext, batch: version.serviceTiers["batch"],
                        priceId: entry.priceId(version)))
            }
        }
        compiledStart.append(compiled.count)
        self.compiled = compiled
        self.compiledStart = compiledStart
        for (position, entry) in entries.enumerated() {
            guard !entry.versions.isEmpty else {
                throw MeterrError(.configuration, "\(entry.id) has no price versions", field: entry.id)
            }
            var seenDates = Set<String>()
            for version in entry.versions where !seenDates.insert(version.effectiveFrom).inserted {
                throw MeterrError(
                    .configuration, "\(entry.id) has two versions effective from \(version.effectiveFrom)",
                    field: entry.id)
            }
            for name in [entry.model] + entry.aliases {
                let key = ModelKey(provider: entry.provider, name: name.lowercased())
                if let other = index[key] {
                    throw MeterrError(
                        .configuration, "the name \(name) belongs to both \(entries[other].id) and \(entry.id)",
                        field: entry.id)
                }
                index[key] = position
                if bareIndex[key.name] == nil { bareIndex[key.name] = position }
            }
        }
        var newest: [ModelKey: (date: String, position: Int)] = [:]
        for (position, entry) in entries.enumerated() {
            guard let (family, date) = Self.datedSnapshot(entry.model.lowercased()) else { continue }
            let key = ModelKey(provider: entry.provider, name: family)
            if newest[key].map({ date > $0.date }) ?? true { newest[key] = (date, position) }
        }
        for (key, found) in newest {
            latestIndex[key] = found.position
            // Without a provider, the first family in catalog order, as for other names.
            if bareLatestIndex[key.name].map({ found.position < $0 }) ?? true {
                bareLatestIndex[key.name] = found.position
            }
        }
    }

    /// A snapshot's family and its date as `YYYYMMDD`: `codestral-2508` (Mistral's `YYMM`) →
    /// (`codestral`, `20250800`); `gpt-4o-2024-08-06` → (`gpt-4o`, `20240806`); `…-20250929` likewise.
    static func datedSnapshot(_ name: String) -> (family: String, date: String)? {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        func digits(_ text: String, _ count: Int) -> Bool {
            text.count == count && text.allSatisfy(\.isASCII) && text.allSatisfy(\.isNumber)
        }
        let n = parts.count
        if n > 3, digits(parts[n - 3], 4), digits(parts[n - 2], 2), digits(parts[n - 1], 2) {
            return (parts[..<(n - 3)].joined(separator: "-"), parts[n - 3] + parts[n - 2] + parts[n - 1])
        }
        guard n > 1 else { return nil }
        let last = parts[n - 1]
        let family = parts[..<(n - 1)].joined(separator: "-")
        if digits(last, 8), last.hasPrefix("20") { return (family, last) }
        if digits(last, 4), let month = Int(last.suffix(2)), (1...12).contains(month) {
            return (family, "20" + last + "00")
        }
        return nil
    }

    /// An empty catalog.
    public static let empty = try! PriceCatalog(entries: [])

    /// The entry whose canonical name or alias is exactly `model` for `provider` (case-insensitive).
    public func entry(provider: Provider, model: String) -> CatalogEntry? {
        index[ModelKey(provider: provider, name: model.lowercased())].map { entries[$0] }
    }

    /// The entry with the id `provider/model`.
    public func entry(id: String) -> CatalogEntry? {
        guard let slash = id.firstIndex(of: "/"), let provider = Provider(rawValue: String(id[..<slash])) else {
            return nil
        }
        return entry(provider: provider, model: String(id[id.index(after: slash)...]))
    }

    /// This catalog with `overlay` laid over it: overlay entries are added, and an overlay entry with the id of an
    /// existing one adds its versions to it (replacing a version with the same start date) and takes its metadata
    /// (limits, capabilities and end of life only where the overlay knows them).
    public func merging(_ overlay: PriceCatalog) throws(MeterrError) -> PriceCatalog {
        var merged = entries
        var positions: [String: Int] = [:]
        for (position, entry) in merged.enumerated() { positions[entry.id] = position }
        for entry in overlay.entries {
            guard let position = positions[entry.id] else {
                positions[entry.id] = merged.count
                merged.append(entry)
                continue
            }
            var base = merged[position]
            var versions = base.versions.filter { old in
                !entry.versions.contains { $0.effectiveFrom == old.effectiveFrom }
            }
            versions.append(contentsOf: entry.versions)
            base.aliases = Array(Set(base.aliases + entry.aliases)).sorted()
            base.mode = entry.mode
            base.maxInputTokens = entry.maxInputTokens ?? base.maxInputTokens
            base.maxOutputTokens = entry.maxOutputTokens ?? base.maxOutputTokens
            base.capabilities = base.capabilities.merging(entry.capabilities)
            base.deprecationDate = entry.deprecationDate ?? base.deprecationDate
            merged[position] = CatalogEntry(
                provider: base.provider, model: base.model, aliases: base.aliases, mode: base.mode,
                maxInputTokens: base.maxInputTokens, maxOutputTokens: base.maxOutputTokens,
                capabilities: base.capabilities, deprecationDate: base.deprecationDate, versions: versions)
        }
        return try PriceCatalog(entries: merged)
    }
}
