import MeterrCore

/// Translates OpenAI Chat Completions calls to one provider's native format and its answers back:
/// the request, the whole answer, the stream event by event, and its errors. Usage is never computed
/// here: the provider's own usage reader reads the native answer, and the OpenAI answer carries that
/// reading, so the ledger and the caller see the same numbers.
public protocol ChatTranslator: ChatReader {
    /// The provider's native request for an OpenAI call.
    func request(_ chat: ChatRequest, options: TranslationOptions) throws(TranslationError) -> NativeRequest
}

/// Reads one format's chat answers, whole or streamed, into the provider-neutral `ChatAnswer` and
/// `ChatDelta`s: the way back of a translation, and how a cached answer changes shape.
public protocol ChatReader: Sendable {
    /// What a whole answer holds (a 2xx body), or `nil` when it is not one.
    func answer(_ body: [UInt8], chat: ChatRequest) -> ChatAnswer?
    /// A reader of the stream's events.
    func stream(_ chat: ChatRequest) -> any ChatStreamReader
}

/// How a translation treats what the provider cannot do.
public struct TranslationOptions: Sendable {
    /// `drop` (the default): parameters the provider cannot honour are left out and named in
    /// `x-meterr-dropped-params`; `reject`: the call is answered 400 instead.
    public enum Unsupported: String, Sendable {
        case drop, reject
    }

    public var unsupported: Unsupported
    /// The output limit sent when the call sets none and the provider requires one (Anthropic).
    public var defaultMaxTokens: Int

    public init(unsupported: Unsupported = .drop, defaultMaxTokens: Int = 4096) {
        self.unsupported = unsupported
        self.defaultMaxTokens = defaultMaxTokens
    }
}

/// The native call a translation produces.
public struct NativeRequest: Sendable {
    /// The path (and query) on the provider's upstream.
    public var path: String
    public var body: [UInt8]
    /// Headers the native surface requires (`anthropic-version`).
    public var headers: [(name: String, value: String)]
    /// The OpenAI parameters left out because the provider cannot honour them.
    public var dropped: [String]

    public init(path: String, body: [UInt8], headers: [(name: String, value: String)] = [], dropped: [String] = []) {
        self.path = path
        self.body = body
        self.headers = headers
        self.dropped = dropped
    }
}

/// Collects the parameters a translation cannot honour, and refuses them when the caller asked so.
struct DroppedParameters {
    let options: TranslationOptions
    let provider: Provider
    private(set) var names: [String] = []

    init(_ options: TranslationOptions, provider: Provider) {
        self.options = options
        self.provider = provider
    }

    mutating func drop(_ name: String) throws(TranslationError) {
        if options.unsupported == .reject {
            throw TranslationError(
                "\(provider.rawValue) cannot honour \"\(name)\" (sent with x-meterr-unsupported-params: reject)")
        }
        if !names.contains(name) { names.append(name) }
    }
}

/// A whole answer, provider-neutral: what the OpenAI `chat.completion` is written from.
public struct ChatAnswer: Sendable {
    public struct Choice: Sendable {
        public var text: String?
        public var reasoning: String?
        public var toolCalls: [ChatRequest.ToolCall]
        /// OpenAI's finish reason (`stop`, `length`, `tool_calls`, `content_filter`).
        public var finishReason: String
        /// The provider's own, kept as `native_finish_reason`.
        public var nativeFinishReason: String?

        public init(
            text: String? = nil, reasoning: String? = nil, toolCalls: [ChatRequest.ToolCall] = [],
            finishReason: String, nativeFinishReason: String? = nil
        ) {
            self.text = text
            self.reasoning = reasoning
            self.toolCalls = toolCalls
            self.finishReason = finishReason
            self.nativeFinishReason = nativeFinishReason
        }
    }

    public var id: String?
    public var model: String?
    public var choices: [Choice]

    public init(id: String?, model: String?, choices: [Choice]) {
        self.id = id
        self.model = model
        self.choices = choices
    }

    /// The OpenAI `chat.completion` body, with the usage the provider's reader found.
    public func completionBody(created: Int64, fallbackId: String, fallbackModel: String, usage: Usage?) -> [UInt8] {
        var json = JSONWriter(capacity: 512)
        json.beginObject()
        json.string("id", ChatChunkWriter.completionId(id ?? fallbackId))
        json.string("object", "chat.completion")
        json.int("created", created)
        json.string("model", model ?? fallbackModel)
        json.beginArray("choices")
        for (index, choice) in choices.enumerated() {
            json.beginObject()
            json.int("index", index)
            json.beginObject("message")
            json.string("role", "assistant")
            json.string("content", choice.text)
            json.string("refusal", nil)
            if let reasoning = choice.reasoning { json.string("reasoning_content", reasoning) }
            if !choice.toolCalls.isEmpty {
                json.beginArray("tool_calls")
                for call in choice.toolCalls {
                    json.beginObject()
                    json.string("id", call.id)
                    json.string("type", "function")
                    json.beginObject("function")
                    json.string("name", call.name)
                    json.string("arguments", call.arguments)
                    json.endObject()
                    json.endObject()
                }
                json.endArray()
            }
            json.endObject()
            json.raw("logprobs", "null".utf8)
            json.string("finish_reason", choice.finishReason)
            if let native = choice.nativeFinishReason { json.string("native_finish_reason", native) }
            json.endObject()
        }
        json.endArray()
        if let usage { ChatChunkWriter.write(usage, to: &json) }
        json.endObject()
        return json.bytes
    }
}

/// One step of a translated stream, provider-neutral.
public enum ChatDelta: Sendable, Equatable {
    /// The stream's id and model, once the provider names them.
    case start(id: String?, model: String?)
    case text(choice: Int, String)
    case reasoning(choice: Int, String)
    /// A tool call begins (`index` counts tool calls only), with any arguments known at once.
    case toolCall(choice: Int, index: Int, id: String, name: String, arguments: String)
    case toolArguments(choice: Int, index: Int, String)
    case finish(choice: Int, reason: String, native: String?)
    /// The provider reported an error inside the stream.
    case error(type: String, message: String)
}

/// Reads a provider's stream events into deltas.
public protocol ChatStreamReader: Sendable {
    mutating func read(_ event: StreamEvent, into deltas: inout [ChatDelta])
}

/// Turns a native stream into OpenAI's `chat.completion.chunk` server-sent events: the role first,
/// then content, reasoning and tool-call deltas, the finish reason, the usage chunk when the caller
/// asked for it, and `[DONE]`; a stream that breaks off ends with an error event and no `[DONE]`.
public struct ChatStream: Sendable {
    private var reader: any ChatStreamReader
    private var writer: ChatChunkWriter
    private let includeUsage: Bool
    private var announced: Set<Int> = []
    private var finished = false
    private var failed = false
    private var deltas: [ChatDelta] = []

    public init(reader: any ChatStreamReader, chat: ChatRequest, created: Int64, fallbackId: String) {
        self.reader = reader
        writer = ChatChunkWriter(id: fallbackId, model: chat.model, created: created)
        includeUsage = chat.includeUsage
    }

    /// The OpenAI chunks one native event becomes.
    public mutating func translate(_ event: StreamEvent, into out: inout [UInt8]) {
        guard !failed else { return }
        deltas.removeAll(keepingCapacity: true)
        reader.read(event, into: &deltas)
        for delta in deltas { write(delta, into: &out) }
    }

    /// The end of the stream: the usage chunk (when asked for) and `[DONE]` after a finished stream,
    /// or an error event when it broke off.
    public mutating func finish(usage: Usage?, into out: inout [UInt8]) {
        guard !failed else { return }
        guard finished else {
            writer.error(type: "api_error", message: ChatChunkWriter.brokenOff, into: &out)
            return
        }
        if includeUsage, let usage { writer.usage(usage, into: &out) }
        out.append(contentsOf: "data: [DONE]\n\n".utf8)
    }

    private mutating func write(_ delta: ChatDelta, into out: inout [UInt8]) {
        switch delta {
        case .start(let id, let model):
            if let id { writer.id = ChatChunkWriter.completionId(id) }
            if let model { writer.model = model }
        case .text(let choice, let text):
            announce(choice, into: &out)
            if !text.isEmpty { writer.content(choice: choice, text, into: &out) }
        case .reasoning(let choice, let text):
            announce(choice, into: &out)
            if !text.isEmpty { writer.reasoning(choice: choice, text, into: &out) }
        case .toolCall(let choice, let index, let id, let name, let arguments):
            announce(choice, into: &out)
            writer.toolCall(choice: choice, index: index, id: id, name: name, arguments: arguments, into: &out)
        case .toolArguments(let choice, let index, let fragment):
            writer.toolArguments(choice: choice, index: index, fragment, into: &out)
        case .finish(let choice, let reason, let native):
            announce(choice, into: &out)
            writer.finish(choice: choice, reason: reason, native: native, into: &out)
            finished = true
        case .error(let type, let message):
            writer.error(type: type, message: message, into: &out)
            failed = true
        }
    }

    /// OpenAI's first chunk of a choice names the role.
    private mutating func announce(_ choice: Int, into out: inout [UInt8]) {
        guard announced.insert(choice).inserted else { return }
        writer.role(choice: choice, into: &out)
    }
}

/// Writes OpenAI's `chat.completion.chunk` events.
public struct ChatChunkWriter: Sendable {
    public var id: String
    public var model: String
    public let created: Int64

    public init(id: String, model: String, created: Int64) {
        self.id = Self.completionId(id)
        self.model = model
        self.created = created
    }

    /// OpenAI's ids start `chatcmpl-`; the provider's id follows.
    static func completionId(_ id: String) -> String { id.hasPrefix("chatcmpl-") ? id : "chatcmpl-" + id }

    mutating func role(choice: Int, into out: inout [UInt8]) {
        chunk(into: &out) { json in
            json.beginObject()
            json.int("index", choice)
            json.beginObject("delta")
            json.string("role", "assistant")
            json.string("content", "")
            json.endObject()
            json.raw("logprobs", "null".utf8)
            json.raw("finish_reason", "null".utf8)
            json.endObject()
        }
    }

    mutating func content(choice: Int, _ text: String, into out: inout [UInt8]) {
        delta(choice: choice, into: &out) { $0.string("content", text) }
    }

    mutating func reasoning(choice: Int, _ text: String, into out: inout [UInt8]) {
        delta(choice: choice, into: &out) { $0.string("reasoning_content", text) }
    }

    mutating func toolCall(
        choice: Int, index: Int, id: String, name: String, arguments: String, into out: inout [UInt8]
    ) {
        delta(choice: choice, into: &out) { json in
            json.beginArray("tool_calls")
            json.beginObject()
            json.int("index", index)
            json.string("id", id)
            json.string("type", "function")
            json.beginObject("function")
            json.string("name", name)
            json.string("arguments", arguments)
            json.endObject()
            json.endObject()
            json.endArray()
        }
    }

    mutating func toolArguments(choice: Int, index: Int, _ fragment: String, into out: inout [UInt8]) {
        delta(choice: choice, into: &out) { json in
            json.beginArray("tool_calls")
            json.beginObject()
            json.int("index", index)
            json.beginObject("function")
            json.string("arguments", fragment)
            json.endObject()
            json.endObject()
            json.endArray()
        }
    }

    mutating func finish(choice: Int, reason: String, native: String?, into out: inout [UInt8]) {
        chunk(into: &out) { json in
            json.beginObject()
            json.int("index", choice)
            json.beginObject("delta")
            json.endObject()
            json.raw("logprobs", "null".utf8)
            json.string("finish_reason", reason)
            if let native { json.string("native_finish_reason", native) }
            json.endObject()
        }
    }

    /// The usage chunk OpenAI sends last when `stream_options.include_usage` is set: no choices.
    mutating func usage(_ usage: Usage, into out: inout [UInt8]) {
        chunk(into: &out, usage: usage) { _ in }
    }

    /// What a stream that breaks off before its end says in its last event.
    public static let brokenOff = "the provider's stream ended before it finished"

    /// An error inside a stream that already answered 200: OpenAI's SDKs raise it as an API error.
    public func error(type: String, message: String, into out: inout [UInt8]) {
        var json = JSONWriter(capacity: 160)
        json.beginObject()
        json.beginObject("error")
        json.string("message", message)
        json.string("type", type)
        json.raw("param", "null".utf8)
        json.raw("code", "null".utf8)
        json.endObject()
        json.endObject()
        out.append(contentsOf: "data: ".utf8)
        out.append(contentsOf: json.bytes)
        out.append(contentsOf: "\n\n".utf8)
    }

    private func delta(choice: Int, into out: inout [UInt8], _ body: (inout JSONWriter) -> Void) {
        chunk(into: &out) { json in
            json.beginObject()
            json.int("index", choice)
            json.beginObject("delta")
            body(&json)
            json.endObject()
            json.raw("logprobs", "null".utf8)
            json.raw("finish_reason", "null".utf8)
            json.endObject()
        }
    }

    private func chunk(into out: inout [UInt8], usage: Usage? = nil, _ choices: (inout JSONWriter) -> Void) {
        var json = JSONWriter(capacity: 256)
        json.beginObject()
        json.string("id", id)
        json.string("object", "chat.completion.chunk")
        json.int("created", created)
        json.string("model", model)
        json.beginArray("choices")
        choices(&json)
        json.endArray()
        if let usage { Self.write(usage, to: &json) }
        json.endObject()
        out.append(contentsOf: "data: ".utf8)
        out.append(contentsOf: json.bytes)
        out.append(contentsOf: "\n\n".utf8)
    }

    /// OpenAI's `usage` from meterr's: all prompt tokens (cache reads and writes included), cache reads
    /// as `cached_tokens`, cache writes as `cache_write_tokens`, reasoning inside the completion tokens.
    static func write(_ usage: Usage, to json: inout JSONWriter) {
        json.beginObject("usage")
        json.int("prompt_tokens", usage.inputTokens)
        json.int("completion_tokens", usage.outputTokens)
        json.int("total_tokens", usage.inputTokens + usage.outputTokens)
        json.beginObject("prompt_tokens_details")
        json.int("cached_tokens", usage.cacheReadTokens)
        json.int("cache_write_tokens", usage.cacheWriteTokens + usage.cacheWrite1hTokens)
        json.endObject()
        json.beginObject("completion_tokens_details")
        json.int("reasoning_tokens", usage.reasoningTokens)
        json.endObject()
        json.endObject()
    }
}

/// Reading native error bodies and images, shared by the translators.
public enum TranslationSupport {
    /// The message of a provider's error body (`error.message`, `message`, or the body itself).
    public static func errorMessage(_ body: [UInt8]) -> String {
        if let value = JSONValue(parsing: body) {
            if let message = value[path: "error", "message"]?.string ?? value["message"]?.string
                ?? value["error"]?.string
            {
                return message
            }
        }
        let text = String(decoding: body.prefix(500), as: UTF8.self)
        return text.isEmpty ? "the provider answered without a body" : text
    }

    /// A `data:` URL's media type and base64 payload.
    static func dataURL(_ url: String) -> (mediaType: String, data: String)? {
        guard url.hasPrefix("data:"), let comma = url.firstIndex(of: ",") else { return nil }
        let header = url[url.index(url.startIndex, offsetBy: 5)..<comma]
        guard header.hasSuffix(";base64") else { return nil }
        return (String(header.dropLast(7)), String(url[url.index(after: comma)...]))
    }

    /// The media type an image URL's extension implies.
    static func imageType(_ url: String) -> String {
        let path = url.split(separator: "?").first.map(String.init)?.lowercased() ?? ""
        if path.hasSuffix(".png") { return "image/png" }
        if path.hasSuffix(".gif") { return "image/gif" }
        if path.hasSuffix(".webp") { return "image/webp" }
        return "image/jpeg"
    }

    /// A JSON value parsed from a tool's text result, or `nil` when it is not JSON.
    static func parsedJSON(_ text: String) -> OrderedJSON? {
        try? OrderedJSONParser.parse(Array(text.utf8))
    }

    /// Appends a provider-only extension's members, replacing members of the same name.
    static func merge(
        _ members: inout [(key: String, value: OrderedJSON)], _ extra: [(key: String, value: OrderedJSON)]?
    ) {
        for (key, value) in extra ?? [] {
            if let at = members.firstIndex(where: { $0.key == key }) {
                members[at].value = value
            } else {
                members.append((key, value))
            }
        }
    }
}
