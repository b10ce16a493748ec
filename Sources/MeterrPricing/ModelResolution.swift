import MeterrCore

extension PriceCatalog {
    /// Finds the catalog entry for a model name as a provider or caller wrote it.
    ///
    /// In order: the exact name; an Azure deployment name through `azureDeployments` (Azure models are priced by
    /// their OpenAI entry unless the catalog has an `azure` entry); a provider prefix (`anthropic/claude-…`,
    /// `openai/…`, `models/gemini-…`) is dropped and, without a provider, names the provider; then the name
    /// without `-latest`, and a dated snapshot without its date (`gpt-4o-2024-08-06` → `gpt-4o`,
    /// `claude-opus-4-20250514` → `claude-opus-4`, `gemini-2.0-flash-001` → `gemini-2.0-flash`) unless the snapshot
    /// has its own entry. Without a provider, the first entry with that name in catalog order wins.
    public func resolve(
        provider: Provider?, model: String, azureDeployments: [String: String] = [:]
    ) -> CatalogEntry? {
        resolveIndex(provider: provider, model: model, azureDeployments: azureDeployments).map { entries[$0] }
    }

    func lookup(_ provider: Provider?, _ name: String) -> Int? {
        guard let provider else { return bareIndex[name] }
        if let found = index[ModelKey(provider: provider, name: name)] { return found }
        return provider == .azure ? index[ModelKey(provider: .openai, name: name)] : nil
    }

    func resolveIndex(provider: Provider?, model: String, azureDeployments: [String: String]) -> Int? {
        if let found = lookup(provider, model) { return found }
        var provider = provider
        var name = model.lowercased()
        if provider == .azure, let mapped = azureDeployments[model] ?? azureDeployments[name] {
            name = mapped.lowercased()
        }
        if let slash = name.lastIndex(of: "/") {
            let prefix = name[..<slash]
            let known: Provider? =
                switch prefix {
                case "google", "gemini", "models": .gemini
                case "azure", "azure_ai": .azure
                case "cohere_chat": .cohere
                default: Provider(rawValue: String(prefix))
                }
            if known == nil && prefix != "models" { return nil }
            if provider == nil { provider = known }
            name = String(name[name.index(after: slash)...])
        }
        if let found = lookup(provider, name) { return found }
        for candidate in Self.baseNames(of: name) {
            if let found = lookup(provider, candidate) { return found }
        }
        // `family-latest` with no entry of its own: the family's newest snapshot.
        if name.hasSuffix("-latest") {
            let family = String(name.dropLast("-latest".count))
            if let provider {
                return latestIndex[ModelKey(provider: provider, name: family)]
                    ?? (provider == .azure ? latestIndex[ModelKey(provider: .openai, name: family)] : nil)
            }
            return bareLatestIndex[family]
        }
        return nil
    }

    /// Less specific spellings of a model name, most specific first.
    static func baseNames(of name: String) -> [String] {
        var names: [String] = []
        var current = name
        if current.hasSuffix("-latest") {
            current = String(current.dropLast("-latest".count))
            names.append(current)
        }
        if let undated = withoutDate(current) {
            names.append(undated)
        }
        return names
    }

    /// The name without a trailing date or revision: `-YYYY-MM-DD`, `-YYYYMMDD`, `@YYYYMMDD`, `-NNN`.
    static func withoutDate(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        func digits(_ range: Range<Int>) -> Bool {
            range.lowerBound >= 0 && range.allSatisfy { bytes[$0] >= 48 && bytes[$0] <= 57 }
        }
        let n = bytes.count
        let dash = UInt8(ascii: "-")
        if n > 11, bytes[n - 11] == dash, digits(n - 10..<n - 6), bytes[n - 6] == dash, digits(n - 5..<n - 3),
            bytes[n - 3] == dash, digits(n - 2..<n)
        {
            return String(decoding: bytes[..<(n - 11)], as: UTF8.self)
        }
        if n > 9, bytes[n - 9] == dash || bytes[n - 9] == UInt8(ascii: "@"), digits(n - 8..<n) {
            return String(decoding: bytes[..<(n - 9)], as: UTF8.self)
        }
        if n > 4, bytes[n - 4] == dash, digits(n - 3..<n) {
            return String(decoding: bytes[..<(n - 4)], as: UTF8.self)
        }
        return nil
    }
}
