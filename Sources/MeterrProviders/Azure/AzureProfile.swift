import MeterrCore

/// Azure OpenAI: OpenAI's wire on a resource's own endpoint (`AZURE_OPENAI_ENDPOINT`), by deployment
/// (`/openai/deployments/{deployment}/…?api-version=…`) or on its `/openai/v1` surface; keys go in `api-key`.
/// Its streams open with an empty content-filter chunk, which the OpenAI tap passes over.
public struct AzureProfile: OpenAIWireProfile {
    public init() {}

    public var provider: Provider { .azure }
    /// Every resource has its own endpoint: none by default.
    public var defaultBaseURL: String { "" }
    public var gatewayPrefix: String { "/azure" }
    public var gatewayMounts: [String] { ["/azure/openai/"] }
    public var keyHeaders: [String] { ["api-key", "authorization"] }
    public var keyVariable: String { "AZURE_OPENAI_API_KEY" }
    public var endpointVariable: String? { "AZURE_OPENAI_ENDPOINT" }
    public var meteredCalls: String { "chat/completions, completions, responses, embeddings; also moderations" }
    public var freeCalls: [String] { OpenAIWire.freeCalls }

    /// `/openai/deployments/{deployment}/…` names the deployment; the body's model is ignored there.
    public func inspect(path: String, query: String?, body: [UInt8]) -> RequestFacts {
        var facts = RequestFacts(body: body)
        if let range = path.range(of: "/deployments/") {
            facts.model = String(path[range.upperBound...].prefix { $0 != "/" && $0 != "?" })
        }
        return facts
    }

    /// Azure takes `api-key` on its own surfaces and its OpenAI-compatible one alike.
    public func credentialHeader(key: String, compatible: Bool) -> (name: String, value: String) { ("api-key", key) }

    public func requestingStreamUsage(
        endpoint: ProviderEndpoint?, facts: RequestFacts, body: @autoclosure () -> [UInt8]
    ) -> [UInt8]? {
        OpenAIWire.requestingStreamUsage(endpoint: endpoint, facts: facts, body: body())
    }

    public func openAICompatiblePath(_ path: String) -> String? { "/openai/v1" + OpenAIWire.surface(path) }
}
