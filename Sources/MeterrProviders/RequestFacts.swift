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

    /// The fields of a body that is one JSON object (whitespace around it allowed), read as its bytes
    /// are walked: only the members read are built, a repeated member's last value counting as in a
    /// parsed object; any other body reads as no object.
    /// The members read, in the order `read` takes their values.
    static let members = [
        "model", "stream", "max_tokens", "max_completion_tokens", "max_output_tokens", "stream_options", "user",
    ]

    static func read(_ bytes: UnsafeBufferPointer<UInt8>) -> TopLevelFields {
        var parser = JSONParser(bytes)
        var values = [JSONValue?](repeating: nil, count: members.count)
        do {
            try parser.forEachMember(named: members, "body") { (parser, place) throws(MeterrError) in
                values[place] = try parser.readValue(depth: 1)
            }
        } catch {
            return TopLevelFields()
        }
        parser.skipWhitespace()
        guard parser.atEnd else { return TopLevelFields() }
        let (model, stream, maxTokens, maxCompletionTokens, maxOutputTokens, streamOptions, user) = (
            values[0], values[1], values[2], values[3], values[4], values[5], values[6]
        )
        var fields = TopLevelFields(isObject: true)
        fields.model = model?.string
        fields.stream = stream == .bool(true)
        fields.maxTokens = maxCompletionTokens?.int ?? maxTokens?.int ?? maxOutputTokens?.int
        if let streamOptions {
            fields.hasStreamOptions = !streamOptions.isNull
            fields.includeUsage = streamOptions["include_usage"] == .bool(true)
        }
        fields.user = user?.string
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
