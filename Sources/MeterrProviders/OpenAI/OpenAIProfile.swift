import MeterrCore

/// OpenAI: Chat Completions, legacy Completions, Responses and Embeddings at `api.openai.com/v1`.
/// Its wire (paths, usage, stream usage on request, error shape) is shared by Azure OpenAI and Mistral.
public struct OpenAIProfile: OpenAIWireProfile {
    public init() {}

    public var provider: Provider { .openai }
    public var defaultBaseURL: String { "https://api.openai.com" }
    public var gatewayPrefix: String { "/openai" }
    public var sdkBasePath: String { "/openai/v1" }
    public var keyHeaders: [String] { ["authorization"] }
    public var meteredCalls: String { "chat/completions, completions, responses, embeddings; also moderations" }
    public var freeCalls: [String] { OpenAIWire.freeCalls }

    public func credentialHeader(key: String, compatible: Bool) -> (name: String, value: String) {
        ("authorization", "Bearer \(key)")
    }

    public func requestingStreamUsage(
        endpoint: ProviderEndpoint?, facts: RequestFacts, body: @autoclosure () -> [UInt8]
    ) -> [UInt8]? {
        OpenAIWire.requestingStreamUsage(endpoint: endpoint, facts: facts, body: body())
    }

    public func openAICompatiblePath(_ path: String) -> String? { "/v1" + OpenAIWire.surface(path) }
}

/// A provider that speaks the OpenAI wire (OpenAI, Azure OpenAI, Mistral): its paths, usage, stream
/// taps and error shape come from `OpenAIWire`.
public protocol OpenAIWireProfile: ProviderProfile {}

extension OpenAIWireProfile {
    public func endpoint(forPath path: String) -> ProviderEndpoint? { OpenAIWire.endpoint(forPath: path) }

    /// The Responses API may take its model from a stored prompt.
    public func requiresModel(_ endpoint: ProviderEndpoint, path: String) -> Bool { endpoint != .responses }

    public func readUsage(endpoint: ProviderEndpoint, body: [UInt8]) -> UsageReading {
        OpenAIUsage.read(endpoint: endpoint, body: body)
    }

    public func usageTap(endpoint: ProviderEndpoint) -> any StreamUsageTap { OpenAIWire.usageTap(endpoint: endpoint) }

    public func errorBody(status: Int, message: String) -> [UInt8] {
        OpenAIWire.errorBody(status: status, message: message)
    }
}

/// The OpenAI wire, as OpenAI, Azure OpenAI, Mistral and every provider's OpenAI-compatible surface speak it.
public enum OpenAIWire {
    /// The provider whose format this is; plain model names on the unified `/v1` API go to it.
    public static let provider = Provider.openai
    /// Its profile: how calls in the OpenAI format are read, whichever provider serves them.
    public static let profile: any ProviderProfile = OpenAIProfile()

    /// The metered endpoint of an OpenAI-style path.
    static func endpoint(forPath path: String) -> ProviderEndpoint? {
        // Compared as bytes, without copying the path (every call asks).
        let bytes = path.utf8
        let trimmed = bytes[..<(bytes.firstIndex(of: UInt8(ascii: "?")) ?? bytes.endIndex)]
        func ends(with suffix: StaticString) -> Bool {
            let count = suffix.utf8CodeUnitCount
            guard trimmed.count >= count else { return false }
            return suffix.withUTF8Buffer { trimmed.suffix(count).elementsEqual($0) }
        }
        if ends(with: "/chat/completions") { return .chatCompletions }
        if ends(with: "/completions") { return .completions }
        if ends(with: "/responses") { return .responses }
        if ends(with: "/embeddings") { return .embeddings }
        return nil
    }

    /// OpenAI's calls that cost nothing.
    static let freeCalls = ["/moderations", "/responses/input_tokens", "/cancel"]

    /// The part of a `/v1` path below its version (`/chat/completions`).
    static func surface(_ path: String) -> String { path.hasPrefix("/v1/") ? String(path.dropFirst(3)) : path }

    /// Chat and Completions streams send usage only when asked (`stream_options.include_usage`): meterr
    /// asks when the caller did not, and takes the extra chunk out again (`UsageChunkStripper`).
    static func requestingStreamUsage(
        endpoint: ProviderEndpoint?, facts: RequestFacts, body: @autoclosure () -> [UInt8]
    ) -> [UInt8]? {
        guard facts.stream, !facts.includesUsage, endpoint == .chatCompletions || endpoint == .completions else {
            return nil
        }
        return requestingUsage(body())
    }

    /// The body with `"stream_options":{"include_usage":true}` added; `nil` when the body already has
    /// `stream_options` (left as sent).
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

    /// The usage tap of an OpenAI-style stream.
    static func usageTap(endpoint: ProviderEndpoint) -> any StreamUsageTap {
        endpoint == .responses ? OpenAIResponsesTap() : OpenAIChatTap()
    }

    /// `{"error": {"message", "type", "param", "code"}}`.
    static func errorBody(status: Int, message: String) -> [UInt8] {
        var json = JSONWriter(capacity: 200)
        json.beginObject()
        json.beginObject("error")
        json.string("message", message)
        json.string("type", errorType(status))
        json.raw("param", "null".utf8)
        json.string("code", errorCode(status))
        json.endObject()
        json.endObject()
        return json.bytes
    }

    static func errorType(_ status: Int) -> String {
        switch status {
        case 401, 403: "invalid_request_error"
        case 429: "rate_limit_exceeded"
        case 500...: "server_error"
        default: "invalid_request_error"
        }
    }

    static func errorCode(_ status: Int) -> String {
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
}
