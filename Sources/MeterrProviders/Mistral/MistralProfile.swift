import MeterrCore

/// Mistral: the Chat Completions shape (also FIM and agents completions, embeddings) at
/// `api.mistral.ai/v1`; streams carry their usage on the last chunk unasked.
public struct MistralProfile: OpenAIWireProfile {
    public init() {}

    public var provider: Provider { .mistral }
    public var defaultBaseURL: String { "https://api.mistral.ai" }
    public var gatewayPrefix: String { "/mistral" }
    public var keyHeaders: [String] { ["authorization"] }
    public var meteredCalls: String { "chat/completions, fim/completions, agents/completions, embeddings" }

    public func credentialHeader(key: String, compatible: Bool) -> (name: String, value: String) {
        ("authorization", "Bearer \(key)")
    }

    public func openAICompatiblePath(_ path: String) -> String? { "/v1" + OpenAIWire.surface(path) }
}
