import MeterrCore

/// Azure OpenAI: OpenAI's wire on a resource's own endpoint (`AZURE_OPENAI_ENDPOINT`), by deployment
/// (`/openai/deployments/{deployment}/…?api-version=…`) or on its `/openai/v1` surface; keys go in `api-key`.
public struct AzureProfile: ProviderProfile {
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

    public func endpoint(forPath path: String) -> ProviderEndpoint? { OpenAIWire.endpoint(forPath: path) }

    /// `/openai/deployments/{deployment}/…` names the deployment; the body's model is ignored there.
    public func inspect(path: String, query: String?, body: [UInt8]) -> RequestFacts {
        var facts = RequestFacts(body: body)
        if let range = path.range(of: "/deployments/") {
            facts.model = String(path[range.upperBound...].prefix { $0 != "/" && $0 != "?" })
        }
        return facts
    }

    public func requiresModel(_ endpoint: ProviderEndpoint, path: String) -> Bool { endpoint != .responses }

    /// Azure takes `api-key` on its own surfaces and its OpenAI-compatible one alike.
    public func credentialHeader(key: String, compatible: Bool) -> (name: String, value: String) { ("api-key", key) }

    public func requestingStreamUsage(endpoint: ProviderEndpoint?, facts: RequestFacts, body: [UInt8]) -> [UInt8]? {
        OpenAIWire.requestingStreamUsage(endpoint: endpoint, facts: facts, body: body)
    }

    public func openAICompatiblePath(_ path: String) -> String? { "/openai/v1" + OpenAIWire.surface(path) }

    public func readUsage(endpoint: ProviderEndpoint, body: [UInt8]) -> UsageReading {
        OpenAIUsage.read(endpoint: endpoint, body: body)
    }

    /// Azure's streams open with an empty content-filter chunk, which the OpenAI tap passes over.
    public func usageTap(endpoint: ProviderEndpoint) -> any StreamUsageTap { OpenAIWire.usageTap(endpoint: endpoint) }

    public func errorBody(status: Int, message: String) -> [UInt8] {
        OpenAIWire.errorBody(status: status, message: message)
    }
}
