import Foundation

/// How meterr counts tokens for a model.
public enum ModelTokenizer: Sendable, Equatable {
    /// The model's own tokenizer, implemented exactly.
    case exact(Encoding)
    /// A related tokenizer used as an estimate (e.g. Tekken for Mistral's older SentencePiece models).
    case approximate(Encoding)
    /// No public local tokenizer: a calibrated estimate (see `TokenEstimate`).
    case estimated(EstimateFamily)

    /// The encoding used for counting, if any.
    public var encoding: Encoding? {
        switch self {
        case .exact(let e), .approximate(let e): e
        case .estimated: nil
        }
    }

    /// Whether text counts are exact.
    public var isExact: Bool {
        if case .exact = self { return true }
        return false
    }
}

/// Providers whose current models have no public local tokenizer.
public enum EstimateFamily: String, Sendable, CaseIterable, Codable {
    /// Claude 3 and later.
    case anthropic
    /// Gemini (Gemma-3 SentencePiece, not shipped here).
    case gemini
    /// Cohere Command.
    case cohere
    /// Anything meterr does not recognise.
    case unknown
}

/// Model name → tokenizer, following tiktoken's `model.py` plus Mistral and other providers.
public enum ModelMap {
    private static let o200kPrefixes = [
        "gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "gpt-oss", "codex-",
        "omni-moderation", "computer-use-preview", "gpt-realtime", "gpt-audio", "gpt-image",
    ]
    private static let cl100kPrefixes = [
        "gpt-4", "gpt-3.5-turbo", "gpt-35-turbo", "text-embedding-ada-002", "text-embedding-3", "davinci-002",
        "babbage-002",
    ]
    /// Mistral models released with or after Tekken (Nemo, 2024-07): tokenized exactly by tekken_240911.
    private static let tekkenPrefixes = [
        "open-mistral-nemo", "mistral-nemo", "pixtral", "ministral", "mistral-large", "mistral-small",
        "mistral-medium", "codestral", "magistral", "devstral", "voxtral", "mistral-ocr", "mistral-saba",
    ]
    /// Older Mistral models (SentencePiece V1–V3); Tekken is used as an approximation.
    private static let mistralLegacyPrefixes = ["open-mistral-7b", "open-mixtral", "mistral-tiny", "mistral-embed"]

    /// The canonical model name: lowercased, without a `provider/` prefix (`openai/`, `azure/`, `mistral/`, …) or
    /// a fine-tune wrapper (`ft:gpt-4o-mini-2024-07-18:org::id` → `gpt-4o-mini-2024-07-18`).
    public static func canonicalName(_ model: String) -> String {
        var name = model.lowercased().trimmingCharacters(in: .whitespaces)
        if let slash = name.lastIndex(of: "/") { name = String(name[name.index(after: slash)...]) }
        if name.hasPrefix("ft:") {
            name = String(name.dropFirst(3).prefix { $0 != ":" })
        }
        return name
    }

    /// The tokenizer for `model`; dated snapshots (`gpt-4o-2024-08-06`) and provider prefixes are accepted.
    public static func tokenizer(for model: String) -> ModelTokenizer {
        let name = canonicalName(model)
        func matches(_ prefix: String) -> Bool {
            guard name.hasPrefix(prefix) else { return false }
            if prefix.hasSuffix("-") || name.count == prefix.count { return true }
            // `o1` must not match `o1x`; `gpt-4` must not match `gpt-4o` (checked earlier) but does match `gpt-4-0613`.
            let next = name[name.index(name.startIndex, offsetBy: prefix.count)]
            return next == "-" || next == "." || next == ":" || next == "_"
        }
        if o200kPrefixes.contains(where: matches) { return .exact(.o200kBase) }
        if cl100kPrefixes.contains(where: matches) { return .exact(.cl100kBase) }
        if name == "mistral-large-2402" || name == "mistral-small-2402" || name == "codestral-2405"
            || name == "codestral-22b"
        {
            return .approximate(.tekken)
        }
        if tekkenPrefixes.contains(where: matches) { return .exact(.tekken) }
        // OpenAI models newer than tiktoken's map (e.g. gpt-6-*): its latest encoding, labelled approximate.
        if name.hasPrefix("gpt-") || name.hasPrefix("chatgpt-") { return .approximate(.o200kBase) }
        if mistralLegacyPrefixes.contains(where: matches) { return .approximate(.tekken) }
        if name.hasPrefix("claude") || name.hasPrefix("anthropic.") { return .estimated(.anthropic) }
        if name.hasPrefix("gemini") || name.hasPrefix("gemma") || name.hasPrefix("learnlm") {
            return .estimated(.gemini)
        }
        if name.hasPrefix("command") || name.hasPrefix("c4ai") || name.hasPrefix("embed-") || name.hasPrefix("rerank") {
            return .estimated(.cohere)
        }
        return .estimated(.unknown)
    }
}
