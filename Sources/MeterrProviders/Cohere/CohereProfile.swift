import MeterrCore

/// Cohere: chat on `/v2/chat` and the older `/v1/chat`, embeddings on `/embed`, at `api.cohere.com`;
/// usage as billed units; errors as `{"message": …}`.
public struct CohereProfile: ProviderProfile {
    public init() {}

    public var provider: Provider { .cohere }
    public var defaultBaseURL: String { "https://api.cohere.com" }
    public var gatewayPrefix: String { "/cohere" }
    public var gatewayMounts: [String] { ["/cohere/v2/", "/cohere/v1/"] }
    public var keyHeaders: [String] { ["authorization"] }
    public var meteredCalls: String { "v2/chat, v1/chat, embed; also tokenize, detokenize" }
    public var freeCalls: [String] { ["/tokenize", "/detokenize"] }

    public func endpoint(forPath path: String) -> ProviderEndpoint? {
        let trimmed = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
        if trimmed.hasSuffix("/v2/chat") { return .chat }
        if trimmed.hasSuffix("/v1/chat") { return .chatV1 }
        if trimmed.hasSuffix("/embed") { return .embed }
        return nil
    }

    /// The v1 surface has a default model; v2's embed needs one, v1's does not.
    public func requiresModel(_ endpoint: ProviderEndpoint, path: String) -> Bool {
        switch endpoint {
        case .chatV1: false
        case .embed: path.hasPrefix("/v2/")
        default: true
        }
    }

    public func credentialHeader(key: String, compatible: Bool) -> (name: String, value: String) {
        ("authorization", "Bearer \(key)")
    }

    public func openAICompatiblePath(_ path: String) -> String? { "/compatibility/v1" + OpenAIWire.surface(path) }

    public var failureMarkers: FailureMarkers {
        FailureMarkers(contextMessages: ["too many tokens", "context length"])
    }
    public var chatTranslator: (any ChatTranslator)? { CohereTranslator() }

    public func readUsage(endpoint: ProviderEndpoint, body: [UInt8]) -> UsageReading {
        CohereUsage.read(endpoint: endpoint, body: body)
    }

    public func usageTap(endpoint: ProviderEndpoint) -> any StreamUsageTap {
        endpoint == .chatV1 ? CohereV1Tap() : CohereV2Tap()
    }

    public func errorBody(status: Int, message: String) -> [UInt8] {
        var json = JSONWriter(capacity: 200)
        json.beginObject()
        json.string("message", message)
        json.endObject()
        return json.bytes
    }
}
