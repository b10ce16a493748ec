import Foundation
import MeterrCore

/// Reading and writing the catalog's own JSON format (`meterr.prices.v1`), and loading the shipped catalog.
///
/// ```json
/// {"format": "meterr.prices.v1", "models": [{
///   "provider": "anthropic", "model": "claude-sonnet-4-5", "aliases": ["claude-sonnet-4-5-20250929"],
///   "mode": "chat", "max_input_tokens": 200000, "max_output_tokens": 64000,
///   "supports": {"tools": true, "vision": true, "json_schema": true},
///   "versions": [{"effective_from": "2025-09-29", "source": "…",
///     "input": "3", "cache_read": "0.3", "cache_write_5m": "3.75", "cache_write_1h": "6", "output": "15",
///     "long_context": {"above_input_tokens": 200000, "input": "6", "output": "22.5"},
///     "service_tiers": {"batch": "0.5"}, "tool_fees_usd": {"web_search": "0.01"}}]}]}
/// ```
/// A service tier is one factor, or per-part factors: `{"multiplier": "0.5", "cache_read": "1"}`.
/// Prices are US dollars per million tokens as decimal strings; tool fees are US dollars per call. `supports` lists
/// only the capabilities known for the model; a missing key (or a missing `supports`) means unknown.
extension PriceCatalog {
    /// The format tag written at the top of catalog files.
    public static let formatTag = "meterr.prices.v1"

    /// Parses a catalog file; errors name the entry and key at fault, and nothing is returned half-read.
    public static func decode(_ bytes: [UInt8]) throws(MeterrError) -> PriceCatalog {
        let root: OrderedJSON
        do {
            root = try OrderedJSONParser.parse(bytes)
        } catch {
            throw MeterrError(.configuration, "the file " + error.message)
        }
        guard case .object = root, case .array(let models)? = root["models"] else {
            throw MeterrError(.configuration, "a catalog is an object with a \"models\" array", field: "models")
        }
        if let tag = root["format"], tag != .string(formatTag) {
            throw MeterrError(.configuration, "unknown catalog format (expected \(formatTag))", field: "format")
        }
        var entries: [CatalogEntry] = []
        entries.reserveCapacity(models.count)
        for (position, model) in models.enumerated() {
            entries.append(try decodeEntry(model, path: "models[\(position)]"))
        }
        return try PriceCatalog(entries: entries)
    }

    /// The catalog in its own JSON format.
    public func encode() -> String {
        OrderedJSONWriter.write(
            .object([("format", .string(Self.formatTag)), ("models", .array(entries.map(Self.encodeEntry)))]))
    }

    /// The catalog shipped with meterr (the `catalog.json` resource).
    public static func shipped() throws(MeterrError) -> PriceCatalog { try decode(try shippedFile()) }

    /// The bytes of the shipped `catalog.json`, as bundled.
    static func shippedFile() throws(MeterrError) -> [UInt8] {
        guard let url = Bundle.module.url(forResource: "catalog", withExtension: "json") else {
            throw MeterrError(.internal, "the shipped price catalog is missing from the bundle")
        }
        return try readFile(url.path)
    }

    /// The overlay file in a data directory: `DIR/prices.json`.
    public static func overlayPath(dataDirectory: String) -> String {
        (dataDirectory as NSString).appendingPathComponent("prices.json")
    }

    /// The shipped catalog with the data directory's overlay (`DIR/prices.json`, if present) laid over it; the
    /// server and the CLI both price with this.
    public static func load(dataDirectory: String?) throws(MeterrError) -> PriceCatalog {
        let base = try shipped()
        guard let dataDirectory else { return base }
        let path = overlayPath(dataDirectory: dataDirectory)
        guard FileManager.default.fileExists(atPath: path) else { return base }
        let overlay: PriceCatalog
        do {
            overlay = try decode(try readFile(path))
        } catch {
            throw MeterrError(.configuration, "\(path): \(error.message)", field: error.field)
        }
        return try base.merging(overlay)
    }

    /// Reads a whole file as bytes.
    static func readFile(_ path: String) throws(MeterrError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MeterrError(.configuration, "cannot read \(path)")
        }
        return [UInt8](data)
    }

    /// Writes text to a file atomically (temporary file, then rename), so readers never see half a file.
    static func writeFileAtomically(_ text: String, to path: String) throws(MeterrError) {
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw MeterrError(.storage, "cannot write \(path)")
        }
    }

    // MARK: - Decoding

    static func decodeEntry(_ value: OrderedJSON, path: String) throws(MeterrError) -> CatalogEntry {
        guard case .object = value else { throw .invalid(path, "must be an object") }
        let providerName = try string(value, "provider", path)
        guard let provider = Provider(rawValue: providerName) else {
            throw .invalid(path + ".provider", "unknown provider \(providerName)")
        }
        let model = try string(value, "model", path)
        let name = "\(path) (\(providerName)/\(model))"
        var aliases: [String] = []
        if let list = value["aliases"] {
            guard case .array(let items) = list else { throw .invalid(name + ".aliases", "must be an array") }
            for item in items {
                guard let alias = item.stringValue else { throw .invalid(name + ".aliases", "must hold strings") }
                aliases.append(alias)
            }
        }
        guard case .array(let versionValues)? = value["versions"], !versionValues.isEmpty else {
            throw .invalid(name + ".versions", "must be a non-empty array")
        }
        var versions: [PriceVersion] = []
        for (position, version) in versionValues.enumerated() {
            versions.append(try decodeVersion(version, path: "\(name).versions[\(position)]"))
        }
        return CatalogEntry(
            provider: provider, model: model, aliases: aliases,
            mode: try optionalString(value, "mode", name) ?? "chat",
            maxInputTokens: try optionalInt(value, "max_input_tokens", name),
            maxOutputTokens: try optionalInt(value, "max_output_tokens", name),
            capabilities: try decodeCapabilities(value, path: name),
            deprecationDate: try optionalString(value, "deprecation_date", name), versions: versions)
    }

    /// The entry's `supports` object: `tools`, `vision` and `json_schema`, each `true` or `false`; any other key or
    /// value is an error, not a guess.
    static func decodeCapabilities(_ entry: OrderedJSON, path: String) throws(MeterrError) -> ModelCapabilities {
        guard let value = entry["supports"], value != .null else { return ModelCapabilities() }
        guard case .object(let members) = value else { throw .invalid(path + ".supports", "must be an object") }
        var capabilities = ModelCapabilities()
        for (key, flag) in members {
            let field = "\(path).supports.\(key)"
            guard case .bool(let supported) = flag else {
                throw .invalid(field, "must be true or false, not \(flag.kindName)")
            }
            switch key {
            case "tools": capabilities.tools = supported
            case "vision": capabilities.vision = supported
            case "json_schema": capabilities.jsonSchema = supported
            default: throw .invalid(field, "is not a capability (tools, vision, json_schema)")
            }
        }
        return capabilities
    }

    /// The `supports` object with the known capabilities only, or `nil` when none is known.
    static func encodeCapabilities(_ capabilities: ModelCapabilities) -> OrderedJSON? {
        var members: [(key: String, value: OrderedJSON)] = []
        if let supported = capabilities.tools { members.append(("tools", .bool(supported))) }
        if let supported = capabilities.vision { members.append(("vision", .bool(supported))) }
        if let supported = capabilities.jsonSchema { members.append(("json_schema", .bool(supported))) }
        return members.isEmpty ? nil : .object(members)
    }

    static func decodeVersion(_ value: OrderedJSON, path: String) throws(MeterrError) -> PriceVersion {
        guard case .object = value else { throw .invalid(path, "must be an object") }
        let prices = try decodePrices(value, path: path)
        var longContext: LongContextTier?
        if let tier = value["long_context"] {
            guard case .object = tier else { throw .invalid(path + ".long_context", "must be an object") }
            guard let threshold = try optionalInt(tier, "above_input_tokens", path + ".long_context") else {
                throw .invalid(path + ".long_context.above_input_tokens", "is required")
            }
            longContext = LongContextTier(
                aboveInputTokens: threshold, prices: try decodePrices(tier, path: path + ".long_context"))
        }
        var tiers: [String: ServiceTier] = [:]
        if let object = value["service_tiers"] {
            guard case .object(let members) = object else {
                throw .invalid(path + ".service_tiers", "must be an object")
            }
            for (tierName, tier) in members {
                tiers[tierName] = try decodeTier(tier, path: "\(path).service_tiers.\(tierName)")
            }
        }
        var fees: [String: Money] = [:]
        if let object = value["tool_fees_usd"] {
            guard case .object(let members) = object else {
                throw .invalid(path + ".tool_fees_usd", "must be an object")
            }
            for (tool, fee) in members {
                let field = "\(path).tool_fees_usd.\(tool)"
                guard let text = fee.stringValue else { throw .invalid(field, "must be a decimal string") }
                switch ExactDecimal.scaled(text, shift: 9) {
                case .success(let nanos): fees[tool] = Money(nanos: nanos)
                case .failure(let problem): throw .invalid(field, "\(text) \(problem)")
                }
            }
        }
        let from = try string(value, "effective_from", path)
        do {
            return try PriceVersion(
                effectiveFrom: from, source: try optionalString(value, "source", path) ?? "", prices: prices,
                longContext: longContext, serviceTiers: tiers, toolFees: fees)
        } catch {
            throw .invalid(path + ".effective_from", error.message)
        }
    }

    /// A tier is a factor (`"0.5"`) or an object with a `multiplier` and per-part exceptions
    /// (`{"multiplier": "0.5", "cache_read": "1"}`).
    static func decodeTier(_ value: OrderedJSON, path: String) throws(MeterrError) -> ServiceTier {
        func factor(_ value: OrderedJSON, _ field: String) throws(MeterrError) -> PriceMultiplier {
            guard let text = value.stringValue else { throw .invalid(field, "must be a decimal string") }
            switch PriceMultiplier.parse(text) {
            case .success(let multiplier): return multiplier
            case .failure(let problem): throw .invalid(field, "\(text) \(problem)")
            }
        }
        guard case .object = value else { return ServiceTier(try factor(value, path)) }
        guard let base = value["multiplier"] else { throw .invalid(path + ".multiplier", "is required") }
        let all = try factor(base, path + ".multiplier")
        func part(_ key: String) throws(MeterrError) -> PriceMultiplier {
            guard let override = value[key] else { return all }
            return try factor(override, "\(path).\(key)")
        }
        return ServiceTier(
            input: try part("input"), cacheRead: try part("cache_read"), cacheWrite5m: try part("cache_write_5m"),
            cacheWrite1h: try part("cache_write_1h"), output: try part("output"))
    }

    static func encodeTier(_ tier: ServiceTier) -> OrderedJSON {
        if tier.isUniform { return .string(tier.input.text) }
        return .object(
            [(key: "multiplier", value: .string(tier.input.text))]
                + tier.exceptions.map { (key: $0.key, value: OrderedJSON.string($0.multiplier.text)) })
    }

    static func decodePrices(_ value: OrderedJSON, path: String) throws(MeterrError) -> PriceSet {
        guard let input = try price(value, "input", path), let output = try price(value, "output", path) else {
            throw .invalid(path, "needs both \"input\" and \"output\" prices")
        }
        return PriceSet(
            input: input, cacheRead: try price(value, "cache_read", path),
            cacheWrite5m: try price(value, "cache_write_5m", path),
            cacheWrite1h: try price(value, "cache_write_1h", path),
            output: output, reasoning: try price(value, "reasoning", path))
    }

    static func price(_ object: OrderedJSON, _ key: String, _ path: String) throws(MeterrError) -> TokenPrice? {
        guard let value = object[key] else { return nil }
        guard let text = value.stringValue else {
            throw .invalid(
                "\(path).\(key)", "must be a decimal string of US dollars per million tokens, not \(value.kindName)")
        }
        switch TokenPrice.perMillion(text) {
        case .success(let price): return price
        case .failure(let problem): throw .invalid("\(path).\(key)", "\(text) \(problem)")
        }
    }

    static func string(_ object: OrderedJSON, _ key: String, _ path: String) throws(MeterrError) -> String {
        guard let text = object[key]?.stringValue, !text.isEmpty else {
            throw .invalid("\(path).\(key)", "is required and must be a string")
        }
        return text
    }

    static func optionalString(_ object: OrderedJSON, _ key: String, _ path: String) throws(MeterrError) -> String? {
        guard let value = object[key], value != .null else { return nil }
        guard let text = value.stringValue else { throw .invalid("\(path).\(key)", "must be a string") }
        return text
    }

    static func optionalInt(_ object: OrderedJSON, _ key: String, _ path: String) throws(MeterrError) -> Int? {
        guard let value = object[key], value != .null else { return nil }
        guard case .number(let text) = value, case .success(let number) = ExactDecimal.scaled(text, shift: 0) else {
            throw .invalid("\(path).\(key)", "must be a whole non-negative number")
        }
        return Int(number)
    }

    // MARK: - Encoding

    static func encodeEntry(_ entry: CatalogEntry) -> OrderedJSON {
        var members: [(key: String, value: OrderedJSON)] = [
            ("provider", .string(entry.provider.rawValue)), ("model", .string(entry.model)),
        ]
        if !entry.aliases.isEmpty { members.append(("aliases", .array(entry.aliases.map(OrderedJSON.string)))) }
        members.append(("mode", .string(entry.mode)))
        if let limit = entry.maxInputTokens { members.append(("max_input_tokens", .number(String(limit)))) }
        if let limit = entry.maxOutputTokens { members.append(("max_output_tokens", .number(String(limit)))) }
        if let supports = encodeCapabilities(entry.capabilities) { members.append(("supports", supports)) }
        if let date = entry.deprecationDate { members.append(("deprecation_date", .string(date))) }
        members.append(("versions", .array(entry.versions.map(encodeVersion))))
        return .object(members)
    }

    static func encodeVersion(_ version: PriceVersion) -> OrderedJSON {
        var members: [(key: String, value: OrderedJSON)] = [
            ("effective_from", .string(version.effectiveFrom)), ("source", .string(version.source)),
        ]
        members.append(contentsOf: encodePrices(version.prices))
        if let tier = version.longContext {
            members.append(
                (
                    "long_context",
                    .object(
                        [("above_input_tokens", .number(String(tier.aboveInputTokens)))] + encodePrices(tier.prices))
                ))
        }
        if !version.serviceTiers.isEmpty {
            let tiers = version.serviceTiers.sorted { $0.key < $1.key }.map {
                (key: $0.key, value: encodeTier($0.value))
            }
            members.append(("service_tiers", .object(tiers)))
        }
        if !version.toolFees.isEmpty {
            let fees = version.toolFees.sorted { $0.key < $1.key }.map {
                (key: $0.key, value: OrderedJSON.string(ExactDecimal.plain($0.value.nanos, scale: 9)))
            }
            members.append(("tool_fees_usd", .object(fees)))
        }
        return .object(members)
    }

    static func encodePrices(_ prices: PriceSet) -> [(key: String, value: OrderedJSON)] {
        var members: [(key: String, value: OrderedJSON)] = [("input", .string(prices.input.perMillionText))]
        if let price = prices.cacheRead { members.append(("cache_read", .string(price.perMillionText))) }
        if let price = prices.cacheWrite5m { members.append(("cache_write_5m", .string(price.perMillionText))) }
        if let price = prices.cacheWrite1h { members.append(("cache_write_1h", .string(price.perMillionText))) }
        members.append(("output", .string(prices.output.perMillionText)))
        if let price = prices.reasoning { members.append(("reasoning", .string(price.perMillionText))) }
        return members
    }
}
