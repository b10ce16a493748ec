import MeterrCore

/// Anthropic Messages (and `count_tokens`) at `api.anthropic.com/v1`; keys in `x-api-key` (current
/// official SDKs may send a Bearer token instead); errors as `{"type":"error","error":{…}}`.
public struct AnthropicProfile: ProviderProfile {
    public init() {}

    public var provider: Provider { .anthropic }
    public var defaultBaseURL: String { "https://api.anthropic.com" }
    public var gatewayPrefix: String { "/anthropic" }
    public var keyHeaders: [String] { ["x-api-key", "authorization"] }
    public var sdkHeaders: [String] { ["anthropic-version"] }
    public var meteredCalls: String { "messages, messages/count_tokens" }

    public func endpoint(forPath path: String) -> ProviderEndpoint? {
        let trimmed = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
        if trimmed.hasSuffix("/messages/count_tokens") { return .countTokens }
        if trimmed.hasSuffix("/messages") { return .messages }
        return nil
    }

    public func credentialHeader(key: String, compatible: Bool) -> (name: String, value: String) {
        compatible ? ("authorization", "Bearer \(key)") : ("x-api-key", key)
    }

    /// Anthropic serves only Chat Completions in the OpenAI format.
    public func openAICompatiblePath(_ path: String) -> String? {
        OpenAIWire.surface(path) == "/chat/completions" ? "/v1/chat/completions" : nil
    }

    public var failureMarkers: FailureMarkers {
        FailureMarkers(contextMessages: ["prompt is too long", "exceed context limit"])
    }
    public var chatTranslator: (any ChatTranslator)? { AnthropicTranslator() }

    public func readUsage(endpoint: ProviderEndpoint, body: [UInt8]) -> UsageReading {
        AnthropicUsage.read(body: body)
    }

    public func usageTap(endpoint: ProviderEndpoint) -> any StreamUsageTap { AnthropicTap() }

    public func errorBody(status: Int, message: String) -> [UInt8] {
        var json = JSONWriter(capacity: 200)
        json.beginObject()
        json.string("type", "error")
        json.beginObject("error")
        json.string("type", Self.errorType(status))
        json.string("message", message)
        json.endObject()
        json.endObject()
        return json.bytes
    }

    static func errorType(_ status: Int) -> String {
        switch status {
        case 401: "authentication_error"
        case 403: "permission_error"
        case 404: "not_found_error"
        case 413: "request_too_large"
        case 429: "rate_limit_error"
        case 529: "overloaded_error"
        case 500...: "api_error"
        default: "invalid_request_error"
        }
    }
}
