import MeterrCore
import MeterrProviders

/// Settings that point each provider's official SDK at meterr's gateway, and the headers that
/// attribute its calls: for apps that go through the gateway instead of reporting themselves.
public struct MeterrGateway: Sendable, Hashable {
    /// meterr's base URL, e.g. `http://127.0.0.1:8787`.
    public let baseURL: String

    /// Creates the helper for a meterr.
    public init(baseURL: String) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
    }

    /// The base URL to give a provider's SDK (`base_url`, `azure_endpoint`, `server_url`), as
    /// DESIGN.md's URL layout has it: e.g. `…/openai/v1`, `…/anthropic`, `…/gemini`.
    public func baseURL(for provider: Provider) -> String { baseURL + Providers.profile(provider).sdkBasePath }

    /// The OpenAI-compatible unified API, where a `provider/model` name reaches any provider.
    public var unifiedBaseURL: String { baseURL + "/v1" }

    /// The header that carries the meterr key where the provider's SDK puts its API key.
    public static func keyHeader(for provider: Provider, key: String) -> (name: String, value: String) {
        Providers.profile(provider).credentialHeader(key: key, compatible: false)
    }

    /// The `x-meterr-*` headers that bill calls to a team, user, project and tags (a key bound to a
    /// team bills that team whatever they say).
    public static func attributionHeaders(_ attribution: Attribution) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = []
        if let team = attribution.team { headers.append((MeterrHeader.team, team)) }
        if let user = attribution.user { headers.append((MeterrHeader.user, user)) }
        if let project = attribution.project { headers.append((MeterrHeader.project, project)) }
        if !attribution.tags.isEmpty { headers.append((MeterrHeader.tags, MeterrHeader.tagsValue(attribution.tags))) }
        return headers
    }
}
