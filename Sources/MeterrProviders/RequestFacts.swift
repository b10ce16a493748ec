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

/// A call the gateway answers itself, with the kind of refusal and its message (in the provider's error shape).
public struct RequestRefusal: Sendable, Hashable {
    /// What kind of refusal: `notFound` (a call meterr cannot meter), `invalidRequest` (a bad body).
    public var code: MeterrError.Code
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

    /// The members read (a set built once, not hashed anew on every call).
    static let keys: Set<String> = [
        "model", "stream", "max_tokens", "max_completion_tokens", "max_output_tokens", "stream_options", "user",
    ]

    static func read(_ bytes: UnsafeBufferPointer<UInt8>) -> TopLevelFields {
        var fields = TopLevelFields()
        guard case .object(let members)? = JSONMemberScanner.topLevel(keys: keys, in: bytes, wholeBody: true)
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

/// Rewrites of a request body that keep every other byte as sent.
public enum RequestRewrite {
    /// The body with its top-level `model` replaced by `model`.
    public static func replacingModel(in body: [UInt8], with model: String) -> [UInt8]? {
        guard let range = body.withUnsafeBufferPointer({ JSONMemberScanner.topLevelValueRange(key: "model", in: $0) })
        else { return nil }
        var quoted: [UInt8] = []
        JSONWriter.appendQuoted(model, to: &quoted)
        return Array(body[..<range.lowerBound]) + quoted + Array(body[range.upperBound...])
    }
}

extension RequestFacts {
    /// The facts the body's top level gives (model, stream, output limit, usage request, user).
    public init(body: [UInt8]) {
        let top = body.withUnsafeBufferPointer { TopLevelFields.read($0) }
        self.init(
            model: top.model, stream: top.stream, maxTokens: top.maxTokens, includesUsage: top.includeUsage,
            user: top.user, bodyIsObject: top.isObject)
    }
}
