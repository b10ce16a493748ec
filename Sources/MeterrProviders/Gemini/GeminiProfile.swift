import MeterrCore

/// Google Gemini: `generateContent`, `streamGenerateContent` (server-sent events or a JSON array),
/// `countTokens` and embeddings under `/v1beta/models/{model}:…` (the google-genai SDK also calls
/// `/v1/models/…`); the model is in the path; keys in `x-goog-api-key` or `?key=`.
public struct GeminiProfile: ProviderProfile {
    public init() {}

    public var provider: Provider { .gemini }
    public var defaultBaseURL: String { "https://generativelanguage.googleapis.com" }
    public var gatewayPrefix: String { "/gemini" }
    public var gatewayMounts: [String] { ["/gemini/v1beta/", "/gemini/v1/"] }
    public var routingNames: [String] { ["gemini", "google"] }
    public var keyHeaders: [String] { ["x-goog-api-key", "authorization"] }
    public var keyInQuery: Bool { true }
    public var meteredCalls: String {
        "generateContent, streamGenerateContent, countTokens, embedContent, batchEmbedContents"
    }

    public func endpoint(forPath path: String) -> ProviderEndpoint? {
        let trimmed = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
        if trimmed.hasSuffix(":streamGenerateContent") { return .streamGenerateContent }
        if trimmed.hasSuffix(":generateContent") { return .generateContent }
        if trimmed.hasSuffix(":countTokens") { return .countTokens }
        if trimmed.hasSuffix(":embedContent") || trimmed.hasSuffix(":batchEmbedContents") { return .embedContent }
        return nil
    }

    /// `/v1beta/models/{model}:generateContent`: the model and the streaming come from the path.
    public func inspect(path: String, query: String?, body: [UInt8]) -> RequestFacts {
        var facts = RequestFacts(body: body)
        if let range = path.range(of: "/models/") {
            let rest = path[range.upperBound...]
            facts.model = String(rest.prefix { $0 != ":" && $0 != "?" && $0 != "/" })
        }
        facts.stream = path.contains(":streamGenerateContent")
        return facts
    }

    public func missingModel(path: String) -> String {
        "the path names no model: call …/models/MODEL:\(path.split(separator: ":").last ?? "")"
    }

    public func credentialHeader(key: String, compatible: Bool) -> (name: String, value: String) {
        compatible ? ("authorization", "Bearer \(key)") : ("x-goog-api-key", key)
    }

    public func openAICompatiblePath(_ path: String) -> String? { "/v1beta/openai" + OpenAIWire.surface(path) }

    public var failureMarkers: FailureMarkers {
        FailureMarkers(contextMessages: ["exceeds the maximum number of tokens", "input token count"])
    }
    public var chatTranslator: (any ChatTranslator)? { GeminiTranslator() }

    public func readUsage(endpoint: ProviderEndpoint, body: [UInt8]) -> UsageReading { GeminiUsage.read(body: body) }

    public func usageTap(endpoint: ProviderEndpoint) -> any StreamUsageTap { GeminiTap() }

    public func errorBody(status: Int, message: String) -> [UInt8] {
        var json = JSONWriter(capacity: 200)
        json.beginObject()
        json.beginObject("error")
        json.int("code", status)
        json.string("message", message)
        json.string("status", Self.status(status))
        json.endObject()
        json.endObject()
        return json.bytes
    }

    static func status(_ status: Int) -> String {
        switch status {
        case 400, 413: "INVALID_ARGUMENT"
        case 401: "UNAUTHENTICATED"
        case 403: "PERMISSION_DENIED"
        case 404: "NOT_FOUND"
        case 429: "RESOURCE_EXHAUSTED"
        case 503, 502: "UNAVAILABLE"
        case 504: "DEADLINE_EXCEEDED"
        default: status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT"
        }
    }
}
