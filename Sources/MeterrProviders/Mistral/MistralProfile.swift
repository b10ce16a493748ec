import MeterrCore

/// Mistral: the Chat Completions shape (also FIM and agents completions, embeddings) at
/// `api.mistral.ai/v1`; streams carry their usage on the last chunk unasked.
public struct MistralProfile: ProviderProfile {
    public init() {}

    public var provider: Provider { .mistral }
    public var defaultBaseURL: String { "https://api.mistral.ai" }
    public var gatewayPrefix: String { "/mistral" }
    public var keyHeaders: [String] { ["authorization"] }
    public var meteredCalls: String { "chat/completions, fim/completions, agents/completions, embeddings" }

    public func endpoint(forPath path: String) -> ProviderEndpoint? { OpenAIWire.endpoint(forPath: path) }

    public func requiresModel(_ endpoint: ProviderEndpoint, path: String) -> Bool { endpoint != .responses }

    public func credentialHeader(key: String, compatible: Bool) -> (name: String, value: String) {
        ("authorization", "Bearer \(key)")
    }

    public func openAICompatiblePath(_ path: String) -> String? { "/v1" + OpenAIWire.surface(path) }

    public func readUsage(endpoint: ProviderEndpoint, body: [UInt8]) -> UsageReading {
        OpenAIUsage.read(endpoint: endpoint, body: body)
    }

    public func usageTap(endpoint: ProviderEndpoint) -> any StreamUsageTap { OpenAIWire.usageTap(endpoint: endpoint) }

    public func errorBody(status: Int, message: String) -> [UInt8] {
        OpenAIWire.errorBody(status: status, message: message)
    }
}
