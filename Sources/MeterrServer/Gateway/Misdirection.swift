import HTTPTypes
import MeterrCore
import MeterrProviders

/// Calls an official SDK makes when its base URL misses meterr's prefix for it (the bare host, or the
/// prefix without its version): answered `404` in that SDK's error format, saying which base URL to
/// use, instead of a bare "no such route" or a call forwarded to the wrong place.
struct Misdirection: Sendable {
    /// The path starts with this…
    var prefix: String
    /// …or is exactly it.
    var exact: Bool
    /// The SDK that makes such calls.
    var provider: Provider

    static let all: [Misdirection] = [
        // The OpenAI SDK at the bare host, or at /openai without /v1.
        .init(prefix: "/chat/completions", exact: true, provider: .openai),
        .init(prefix: "/completions", exact: true, provider: .openai),
        .init(prefix: "/embeddings", exact: true, provider: .openai),
        .init(prefix: "/responses", exact: false, provider: .openai),
        .init(prefix: "/moderations", exact: true, provider: .openai),
        .init(prefix: "/models", exact: true, provider: .openai),
        .init(prefix: "/openai/deployments/", exact: false, provider: .azure),
        .init(prefix: "/openai/chat/", exact: false, provider: .openai),
        .init(prefix: "/openai/completions", exact: true, provider: .openai),
        .init(prefix: "/openai/embeddings", exact: true, provider: .openai),
        .init(prefix: "/openai/responses", exact: false, provider: .openai),
        .init(prefix: "/openai/models", exact: false, provider: .openai),
        // The Anthropic SDK at the bare host, or at /anthropic/v1.
        .init(prefix: "/v1/messages", exact: false, provider: .anthropic),
        .init(prefix: "/messages", exact: false, provider: .anthropic),
        .init(prefix: "/anthropic/v1/v1/", exact: false, provider: .anthropic),
        // Gemini's and Cohere's SDKs at the bare host.
        .init(prefix: "/v1beta/", exact: false, provider: .gemini),
        .init(prefix: "/v2/chat", exact: true, provider: .cohere),
        .init(prefix: "/v2/embed", exact: true, provider: .cohere),
    ]

    /// The misdirection a call's path shows, if any.
    static func of(path: String) -> Misdirection? {
        all.first { $0.exact ? path == $0.prefix : path.hasPrefix($0.prefix) }
    }

    var sdkName: String {
        switch provider {
        case .openai: "OpenAI"
        case .azure: "Azure OpenAI (azure_endpoint)"
        case .anthropic: "Anthropic"
        case .gemini: "Google Gen AI"
        case .mistral: "Mistral"
        case .cohere: "Cohere"
        }
    }

    /// What to tell the caller: the base URL their SDK should be given on this meterr.
    func message(host: String?, scheme: String) -> String {
        let profile = Providers.profile(provider)
        let base = "\(scheme)://\(host ?? "HOST:PORT")\(profile.sdkBasePath)"
        let also = provider == .openai ? " (or \(scheme)://\(host ?? "HOST:PORT")/v1 for meterr's unified API)" : ""
        return "this is meterr, and this path is not one it serves: give the \(sdkName) SDK the base URL "
            + "\(base)\(also)"
    }
}
