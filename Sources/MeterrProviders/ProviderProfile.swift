import MeterrCore

/// Everything meterr knows about one provider's wire, in the provider's own folder: where the
/// gateway serves it, which calls it forwards, meters or refuses, how a request is read, where keys
/// go, how usage is read from answers and streams, what its errors look like, and where it serves
/// the OpenAI format. The gateway asks the profile and names no provider.
public protocol ProviderProfile: Sendable {
    /// The provider.
    var provider: Provider { get }
    /// The upstream base URL (scheme, host and any fixed path prefix), without a trailing slash.
    var defaultBaseURL: String { get }
    /// meterr's own part of the gateway's paths (`/anthropic`): what an SDK's base URL adds to meterr's.
    var gatewayPrefix: String { get }
    /// The gateway paths it serves (`/anthropic/v1/`), each starting with `gatewayPrefix`.
    var gatewayMounts: [String] { get }
    /// The base URL path its official SDK is given (`/openai/v1` for OpenAI, `/anthropic` for Anthropic).
    var sdkBasePath: String { get }
    /// The prefixes that name it in a `/v1` model (`anthropic/claude-…`).
    var routingNames: [String] { get }
    /// The environment variable its SDK reads the provider key from (`ANTHROPIC_API_KEY`).
    var keyVariable: String { get }
    /// The environment variable its SDK reads its endpoint from, when it has one (`AZURE_OPENAI_ENDPOINT`).
    var endpointVariable: String? { get }
    /// Request headers that carry the caller's key, in the order they are looked at.
    var keyHeaders: [String] { get }
    /// Whether the key may also come as the `key` query parameter.
    var keyInQuery: Bool { get }
    /// Other headers its SDKs send that a browser's preflight must allow (`anthropic-version`).
    var sdkHeaders: [String] { get }
    /// The calls it meters, as a refusal lists them.
    var meteredCalls: String { get }
    /// POST paths (as suffixes) that cost nothing and are forwarded unmetered.
    var freeCalls: [String] { get }

    /// The metered endpoint a path (below the gateway prefix, e.g. `/v1/chat/completions`) is, or
    /// `nil` for calls that cost nothing (model lists; unknown paths are refused or forwarded free).
    func endpoint(forPath path: String) -> ProviderEndpoint?
    /// The request's model, stream flag and output limit, read without decoding the whole body.
    func inspect(path: String, query: String?, body: [UInt8]) -> RequestFacts
    /// Whether the provider refuses this call without a model.
    func requiresModel(_ endpoint: ProviderEndpoint, path: String) -> Bool
    /// The header that carries the provider's own key: on a call in its own format, or in the
    /// OpenAI format (`compatible`, a `/v1` call routed to it).
    func credentialHeader(key: String, compatible: Bool) -> (name: String, value: String)
    /// The body with the stream's usage asked for, when the provider sends it only on request
    /// (OpenAI's `stream_options.include_usage`); `nil` when the request goes as sent. The body is
    /// read only when the call is such a stream: a large prompt is not copied for nothing.
    func requestingStreamUsage(endpoint: ProviderEndpoint?, facts: RequestFacts, body: @autoclosure () -> [UInt8])
        -> [UInt8]?
    /// Where it serves the OpenAI Chat Completions format, for `/v1` calls naming `provider/model`:
    /// the path on its upstream, or `nil` when it does not serve that surface.
    func openAICompatiblePath(_ path: String) -> String?
    /// What its error answers say beyond their status (context length, no tools), for the router.
    var failureMarkers: FailureMarkers { get }
    /// Its native translation of OpenAI Chat Completions calls (for `/v1` calls naming `provider/model`),
    /// or `nil` when it speaks the OpenAI format itself (or has no translation).
    var chatTranslator: (any ChatTranslator)? { get }
    /// The usage in a whole (non-streamed) response body.
    func readUsage(endpoint: ProviderEndpoint, body: [UInt8]) -> UsageReading
    /// A tap that reads usage from a streamed response, event by event.
    func usageTap(endpoint: ProviderEndpoint) -> any StreamUsageTap
    /// An error body in the provider's own shape, so its SDK raises its usual error.
    func errorBody(status: Int, message: String) -> [UInt8]
    /// What a call that names no model is told.
    func missingModel(path: String) -> String
}

extension ProviderProfile {
    public var keyInQuery: Bool { false }
    public var keyVariable: String { provider.rawValue.uppercased() + "_API_KEY" }
    public var endpointVariable: String? { nil }
    public var sdkHeaders: [String] { [] }
    public var freeCalls: [String] { [] }
    public var gatewayMounts: [String] { [gatewayPrefix + "/v1/"] }
    public var sdkBasePath: String { gatewayPrefix }
    public var routingNames: [String] { [provider.rawValue] }
    public var chatTranslator: (any ChatTranslator)? { nil }
    public var failureMarkers: FailureMarkers {
        FailureMarkers(contextMessages: ["maximum context length", "input tokens exceed the configured limit"])
    }

    /// The failure a failed answer describes, or `nil` for a success.
    public func failure(status: Int, body: [UInt8]) -> AttemptFailure? {
        FailureClassifier.classify(status: status, body: body, markers: failureMarkers)
    }

    public func inspect(path: String, query: String?, body: [UInt8]) -> RequestFacts {
        RequestFacts(body: body)
    }

    /// Most calls name their model; surfaces with a default say otherwise.
    public func requiresModel(_ endpoint: ProviderEndpoint, path: String) -> Bool { true }

    public func requestingStreamUsage(
        endpoint: ProviderEndpoint?, facts: RequestFacts, body: @autoclosure () -> [UInt8]
    ) -> [UInt8]? {
        nil
    }

    /// Why the gateway answers a POST itself instead of forwarding it, or `nil` when it may go: a
    /// path meterr cannot meter (it would spend unseen: 404), a body that is not a JSON object, or
    /// a call that names no model (400). `endpoint` is `endpoint(forPath: path)`. (Reads, GET and
    /// DELETE, cost nothing and always go.)
    public func refusal(path: String, endpoint: ProviderEndpoint?, facts: RequestFacts) -> RequestRefusal? {
        let trimmed = path.utf8.firstIndex(of: UInt8(ascii: "?")).map { String(path[..<$0]) } ?? path
        guard let endpoint else {
            if freeCalls.contains(where: { trimmed.hasSuffix($0) }) { return nil }
            return RequestRefusal(
                code: .notFound,
                message: "meterr does not forward POST \(trimmed): it forwards the calls it can meter "
                    + "(\(meteredCalls)), so that nothing is spent unseen")
        }
        guard facts.bodyIsObject else {
            return RequestRefusal(code: .invalidRequest, message: "the request body is not a JSON object")
        }
        if facts.model?.isEmpty ?? true, requiresModel(endpoint, path: trimmed) {
            return RequestRefusal(code: .invalidRequest, message: missingModel(path: trimmed))
        }
        return nil
    }

    public func missingModel(path: String) -> String {
        "the request names no model: set \"model\" to a model name"
    }
}

/// Every provider's profile, and the one switch over providers.
public enum Providers {
    /// The profiles, in the order of `Provider.allCases`.
    public static let all: [any ProviderProfile] = Provider.allCases.map(profile)

    /// A provider's profile.
    public static func profile(_ provider: Provider) -> any ProviderProfile {
        switch provider {
        case .openai: OpenAIProfile()
        case .azure: AzureProfile()
        case .anthropic: AnthropicProfile()
        case .gemini: GeminiProfile()
        case .mistral: MistralProfile()
        case .cohere: CohereProfile()
        }
    }

    /// The provider a `/v1` model name routes to (`anthropic/claude-…`), and the model without it.
    public static func routed(_ model: String) -> (Provider, String)? {
        guard let slash = model.firstIndex(of: "/") else { return nil }
        let prefix = model[..<slash].lowercased()
        let rest = String(model[model.index(after: slash)...])
        guard !rest.isEmpty, let profile = all.first(where: { $0.routingNames.contains(prefix) }) else { return nil }
        return (profile.provider, rest)
    }
}
