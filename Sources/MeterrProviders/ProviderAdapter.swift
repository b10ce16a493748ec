import MeterrCore

/// What the gateway needs to know about a request before it goes upstream.
public struct RequestFacts: Sendable, Hashable {
    /// The model asked for (from the body, or from the path for Gemini and Azure deployments).
    public var model: String?
    /// Whether the response will stream.
    public var stream: Bool
    /// The output limit the caller set, if any.
    public var maxTokens: Int?
    /// Whether an OpenAI-style stream already asks for its usage (`stream_options.include_usage`).
    public var includesUsage: Bool
    /// OpenAI's `user` field, used for attribution.
    public var user: String?
    /// Whether the body is one well-formed JSON object (and nothing after it but whitespace).
    public var bodyIsObject: Bool

    /// Creates facts.
    public init(
        model: String? = nil, stream: Bool = false, maxTokens: Int? = nil, includesUsage: Bool = false,
        user: String? = nil, bodyIsObject: Bool = true
    ) {
        self.model = model
        self.stream = stream
        self.maxTokens = maxTokens
        self.includesUsage = includesUsage
        self.user = user
        self.bodyIsObject = bodyIsObject
    }
}

/// One provider's wire conventions: which paths it serves, where keys go, how errors look.
public struct ProviderAdapter: Sendable {
    /// The provider.
    public let provider: Provider
    /// The upstream base URL (scheme, host and any fixed path prefix), without a trailing slash.
    public let defaultBaseURL: String
    /// Request headers that carry the caller's key, in the order they are looked at.
    public let keyHeaders: [String]
    /// Whether the key may also come as the `key` query parameter (Gemini).
    public let keyInQuery: Bool

    /// The adapter of each provider.
    public static func of(_ provider: Provider) -> ProviderAdapter {
        switch provider {
        case .openai:
            ProviderAdapter(
                provider: .openai, defaultBaseURL: "https://api.openai.com", keyHeaders: ["authorization"],
                keyInQuery: false)
        case .azure:
            ProviderAdapter(
                provider: .azure, defaultBaseURL: "", keyHeaders: ["api-key", "authorization"], keyInQuery: false)
        case .anthropic:
            ProviderAdapter(
                provider: .anthropic, defaultBaseURL: "https://api.anthropic.com",
                keyHeaders: ["x-api-key", "authorization"], keyInQuery: false)
        case .gemini:
            ProviderAdapter(
                provider: .gemini, defaultBaseURL: "https://generativelanguage.googleapis.com",
                keyHeaders: ["x-goog-api-key", "authorization"], keyInQuery: true)
        case .mistral:
            ProviderAdapter(
                provider: .mistral, defaultBaseURL: "https://api.mistral.ai", keyHeaders: ["authorization"],
                keyInQuery: false)
        case .cohere:
            ProviderAdapter(
                provider: .cohere, defaultBaseURL: "https://api.cohere.com", keyHeaders: ["authorization"],
                keyInQuery: false)
        }
    }

    /// The metered endpoint a path (below the provider prefix, e.g. `/v1/chat/completions`) is, or
    /// `nil` for calls that cost nothing (model lists, unknown paths are still forwarded).
    public func endpoint(forPath path: String) -> ProviderEndpoint? {
        let trimmed = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
        switch provider {
        case .openai, .azure, .mistral:
            if trimmed.hasSuffix("/chat/completions") { return .chatCompletions }
            if trimmed.hasSuffix("/completions") { return .completions }
            if trimmed.hasSuffix("/responses") { return .responses }
            if trimmed.hasSuffix("/embeddings") { return .embeddings }
            return nil
        case .anthropic:
            if trimmed.hasSuffix("/messages/count_tokens") { return .countTokens }
            if trimmed.hasSuffix("/messages") { return .messages }
            return nil
        case .gemini:
            if trimmed.hasSuffix(":streamGenerateContent") { return .streamGenerateContent }
            if trimmed.hasSuffix(":generateContent") { return .generateContent }
            if trimmed.hasSuffix(":countTokens") { return .countTokens }
            if trimmed.hasSuffix(":embedContent") || trimmed.hasSuffix(":batchEmbedContents") { return .embedContent }
            return nil
        case .cohere:
            if trimmed.hasSuffix("/v2/chat") { return .chat }
            if trimmed.hasSuffix("/v1/chat") { return .chatV1 }
            if trimmed.hasSuffix("/embed") { return .embed }
            return nil
        }
    }

    /// Reads the request's model, stream flag and output limit without decoding the whole body.
    public func inspect(path: String, query: String?, body: [UInt8]) -> RequestFacts {
        var facts = RequestFacts()
        let top = body.withUnsafeBufferPointer { TopLevelFields.read($0) }
        facts.model = top.model
        facts.stream = top.stream
        facts.maxTokens = top.maxTokens
        facts.includesUsage = top.includeUsage
        facts.user = top.user
        facts.bodyIsObject = top.isObject
        switch provider {
        case .gemini:
            // /v1beta/models/{model}:generateContent
            if let range = path.range(of: "/models/") {
                let rest = path[range.upperBound...]
                facts.model = String(rest.prefix { $0 != ":" && $0 != "?" && $0 != "/" })
            }
            facts.stream = path.contains(":streamGenerateContent")
        case .azure:
            // /openai/deployments/{deployment}/… names the deployment; the body's model is ignored there.
            if let range = path.range(of: "/deployments/") {
                facts.model = String(path[range.upperBound...].prefix { $0 != "/" && $0 != "?" })
            }
        default:
            break
        }
        return facts
    }

    /// Why the gateway answers a POST itself instead of forwarding it, or `nil` when it may go: a
    /// path meterr cannot meter (it would spend unseen: 404), a body that is not a JSON object, or
    /// a call that names no model (400). `endpoint` is `endpoint(forPath: path)`. (Reads, GET and
    /// DELETE, cost nothing and always go.)
    public func refusal(path: String, endpoint: ProviderEndpoint?, facts: RequestFacts) -> RequestRefusal? {
        let trimmed = path.firstIndex(of: "?").map { String(path[..<$0]) } ?? path
        guard let endpoint else {
            if freeCalls.contains(where: { trimmed.hasSuffix($0) }) { return nil }
            return RequestRefusal(
                status: 404,
                message: "meterr does not forward POST \(trimmed): it forwards the calls it can meter "
                    + "(\(meteredCalls)), so that nothing is spent unseen")
        }
        guard facts.bodyIsObject else {
            return RequestRefusal(status: 400, message: "the request body is not a JSON object")
        }
        if facts.model?.isEmpty ?? true, requiresModel(endpoint, path: trimmed) {
            return RequestRefusal(
                status: 400,
                message: provider == .gemini
                    ? "the path names no model: call …/models/MODEL:\(trimmed.split(separator: ":").last ?? "")"
                    : "the request names no model: set \"model\" to a model name")
        }
        return nil
    }

    /// The metered calls of this provider, as a refusal lists them.
    var meteredCalls: String {
        switch provider {
        case .openai, .azure: "chat/completions, completions, responses, embeddings; also moderations"
        case .mistral: "chat/completions, fim/completions, agents/completions, embeddings"
        case .anthropic: "messages, messages/count_tokens"
        case .gemini: "generateContent, streamGenerateContent, countTokens, embedContent, batchEmbedContents"
        case .cohere: "v2/chat, v1/chat, embed; also tokenize, detokenize"
        }
    }

    /// POST paths (as suffixes) that cost nothing and are forwarded unmetered.
    var freeCalls: [String] {
        switch provider {
        case .openai, .azure: ["/moderations", "/responses/input_tokens", "/cancel"]
        case .cohere: ["/tokenize", "/detokenize"]
        case .mistral, .anthropic, .gemini: []
        }
    }

    /// Whether the provider refuses this call without a model (Cohere's v1 surface and the
    /// Responses API, which may take its model from a stored prompt, have a default).
    func requiresModel(_ endpoint: ProviderEndpoint, path: String) -> Bool {
        switch endpoint {
        case .responses, .chatV1: false
        case .embed: path.hasPrefix("/v2/")
        default: true
        }
    }

    /// The body with `"stream_options":{"include_usage":true}` added, for OpenAI-style streams that
    /// did not ask for usage; `nil` when the body already has `stream_options` (left as sent).
    public static func requestingUsage(_ body: [UInt8]) -> [UInt8]? {
        guard let open = body.firstIndex(of: UInt8(ascii: "{")),
            !body.withUnsafeBufferPointer({ TopLevelFields.read($0).hasStreamOptions })
        else { return nil }
        var rewritten = Array(body[...open])
        rewritten.append(contentsOf: #""stream_options":{"include_usage":true}"#.utf8)
        let rest = body[body.index(after: open)...]
        if rest.contains(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 && $0 != UInt8(ascii: "}") }) {
            rewritten.append(UInt8(ascii: ","))
        }
        rewritten.append(contentsOf: rest)
        return rewritten
    }

    /// The body with its top-level `model` replaced by `model`, every other byte as sent.
    public static func replacingModel(in body: [UInt8], with model: String) -> [UInt8]? {
        guard let range = body.withUnsafeBufferPointer({ JSONMemberScanner.topLevelValueRange(key: "model", in: $0) })
        else { return nil }
        var quoted: [UInt8] = []
        JSONWriter.appendQuoted(model, to: &quoted)
        return Array(body[..<range.lowerBound]) + quoted + Array(body[range.upperBound...])
    }

    /// Where a provider serves the OpenAI Chat Completions format, for `/v1` calls naming
    /// `provider/model`: the path on its upstream and whether its key goes in `api-key` (Azure) or as
    /// a Bearer token.
    public static func openAICompatiblePath(for provider: Provider, path: String) -> String? {
        let surface = path.hasPrefix("/v1/") ? String(path.dropFirst(3)) : path
        switch provider {
        case .openai: return "/v1" + surface
        case .azure: return "/openai/v1" + surface
        case .mistral: return "/v1" + surface
        case .anthropic: return surface == "/chat/completions" ? "/v1/chat/completions" : nil
        case .gemini: return "/v1beta/openai" + surface
        case .cohere: return "/compatibility/v1" + surface
        }
    }

    /// The provider a `/v1` model name routes to (`anthropic/claude-…`), and the model without it.
    public static func routedModel(_ model: String) -> (Provider, String)? {
        guard let slash = model.firstIndex(of: "/") else { return nil }
        let prefix = model[..<slash].lowercased()
        let rest = String(model[model.index(after: slash)...])
        guard !rest.isEmpty else { return nil }
        switch prefix {
        case "openai": return (.openai, rest)
        case "azure": return (.azure, rest)
        case "anthropic": return (.anthropic, rest)
        case "gemini", "google": return (.gemini, rest)
        case "mistral": return (.mistral, rest)
        case "cohere": return (.cohere, rest)
        default: return nil
        }
    }

    /// An error body in this provider's own shape, so its SDK raises its usual error.
    public func errorBody(status: Int, message: String) -> [UInt8] {
        var json = JSONWriter(capacity: 200)
        switch provider {
        case .openai, .azure, .mistral:
            json.beginObject()
            json.beginObject("error")
            json.string("message", message)
            json.string("type", Self.openAIType(status))
            json.raw("param", "null".utf8)
            json.string("code", Self.openAICode(status))
            json.endObject()
            json.endObject()
        case .anthropic:
            json.beginObject()
            json.string("type", "error")
            json.beginObject("error")
            json.string("type", Self.anthropicType(status))
            json.string("message", message)
            json.endObject()
            json.endObject()
        case .gemini:
            json.beginObject()
            json.beginObject("error")
            json.int("code", status)
            json.string("message", message)
            json.string("status", Self.googleStatus(status))
            json.endObject()
            json.endObject()
        case .cohere:
            json.beginObject()
            json.string("message", message)
            json.endObject()
        }
        return json.bytes
    }

    static func openAIType(_ status: Int) -> String {
        switch status {
        case 401, 403: "invalid_request_error"
        case 429: "rate_limit_exceeded"
        case 500...: "server_error"
        default: "invalid_request_error"
        }
    }

    static func openAICode(_ status: Int) -> String {
        switch status {
        case 401: "invalid_api_key"
        case 404: "not_found"
        case 413: "request_too_large"
        case 429: "rate_limit_exceeded"
        case 502: "bad_gateway"
        case 504: "gateway_timeout"
        default: status >= 500 ? "server_error" : "invalid_request"
        }
    }

    static func anthropicType(_ status: Int) -> String {
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

    static func googleStatus(_ status: Int) -> String {
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

/// A call the gateway answers itself, with its status and message (in the provider's error shape).
public struct RequestRefusal: Sendable, Hashable {
    /// The HTTP status.
    public var status: Int
    /// What is wrong and what to do.
    public var message: String
}

/// The few top-level request fields the gateway reads, found in one pass that skips everything else.
struct TopLevelFields {
    var isObject = false
    var model: String?
    var stream = false
    var maxTokens: Int?
    var includeUsage = false
    var hasStreamOptions = false
    var user: String?

    static func read(_ bytes: UnsafeBufferPointer<UInt8>) -> TopLevelFields {
        var fields = TopLevelFields()
        guard
            case .object(let members)? = JSONMemberScanner.topLevel(
                keys: [
                    "model", "stream", "max_tokens", "max_completion_tokens", "max_output_tokens", "stream_options",
                    "user",
                ],
                in: bytes, wholeBody: true)
        else { return fields }
        fields.isObject = true
        fields.model = members["model"]?.string
        fields.stream = members["stream"] == .bool(true)
        fields.maxTokens =
            members["max_completion_tokens"]?.int ?? members["max_tokens"]?.int ?? members["max_output_tokens"]?.int
        if let options = members["stream_options"] {
            fields.hasStreamOptions = !options.isNull
            fields.includeUsage = options["include_usage"] == .bool(true)
        }
        fields.user = members["user"]?.string
        return fields
    }
}
