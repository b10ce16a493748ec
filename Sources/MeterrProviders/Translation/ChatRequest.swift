import MeterrCore

/// An OpenAI Chat Completions request, read once into what every provider's translator needs: the
/// messages with their parts, tool calls and results, the tools, and the sampling and output settings.
/// Members it does not model are kept by name (`other`), for each translator to map or drop.
public struct ChatRequest: Sendable {
    /// Who speaks a message.
    public enum Role: String, Sendable {
        case system, developer, user, assistant, tool

        /// Whether the message instructs the model (a system or developer message).
        public var instructs: Bool { self == .system || self == .developer }
    }

    /// One part of a message's content.
    public enum Part: Sendable {
        case text(String, cacheControl: OrderedJSON?)
        /// An image by `https:` URL or `data:` URL.
        case image(url: String, cacheControl: OrderedJSON?)

        /// The part's text, if it is text.
        public var text: String? {
            if case .text(let text, _) = self { return text }
            return nil
        }
    }

    /// A tool call the assistant made, with its arguments as the JSON text OpenAI carries.
    public struct ToolCall: Sendable {
        public var id: String
        public var name: String
        public var arguments: String

        /// The arguments as a JSON object (`{}` when empty).
        public func argumentsObject() throws(TranslationError) -> OrderedJSON {
            let trimmed = arguments.trimmingWhitespace
            if trimmed.isEmpty { return .object([]) }
            guard let value = try? OrderedJSONParser.parse(Array(trimmed.utf8)), case .object = value else {
                throw TranslationError("the arguments of tool call \(id) (\(name)) are not a JSON object")
            }
            return value
        }
    }

    /// One message of the conversation.
    public struct Message: Sendable {
        public var role: Role
        public var parts: [Part]
        public var toolCalls: [ToolCall]
        /// The call a tool message answers.
        public var toolCallId: String?
        public var name: String?
        /// An assistant turn's `reasoning_content`, as meterr's answers carry it (Cohere's tool plan goes back).
        public var reasoning: String?

        /// The text parts joined.
        public var text: String { parts.compactMap(\.text).joined() }
    }

    /// A function the model may call.
    public struct Tool: Sendable {
        public var name: String
        public var description: String?
        /// The JSON Schema of its arguments.
        public var parameters: OrderedJSON?
        public var strict: Bool?
        public var cacheControl: OrderedJSON?
    }

    /// Whether and which tool the model must call.
    public enum ToolChoice: Sendable, Equatable {
        case auto, none, required
        case function(String)
    }

    /// The answer's format.
    public enum ResponseFormat: Sendable {
        case text
        case jsonObject
        case jsonSchema(name: String, schema: OrderedJSON?, strict: Bool?)
    }

    public var model: String
    public var messages: [Message]
    public var stream: Bool
    /// Whether a stream asked for its usage chunk (`stream_options.include_usage`).
    public var includeUsage: Bool
    /// `max_completion_tokens`, else `max_tokens`.
    public var maxTokens: Int?
    /// Numbers as written (`0.7`).
    public var temperature: OrderedJSON?
    public var topP: OrderedJSON?
    public var stop: [String]
    public var n: Int
    public var tools: [Tool]
    public var toolChoice: ToolChoice?
    public var parallelToolCalls: Bool?
    public var responseFormat: ResponseFormat?
    public var user: String?
    /// `reasoning_effort`: `minimal`, `low`, `medium`, `high`.
    public var reasoningEffort: String?
    /// Provider-only members, from `"meterr": {"anthropic": {…}, "gemini": {…}, "cohere": {…}}`, added to
    /// the provider's request as they are.
    public var extensions: [String: [(key: String, value: OrderedJSON)]]
    /// Members set (not `null`) that this type does not model: `seed`, `logprobs`, … by name.
    public var other: [(key: String, value: OrderedJSON)]

    /// The members this type reads; anything else lands in `other`.
    static let modelled: Set<String> = [
        "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens", "temperature",
        "top_p", "stop", "n", "tools", "tool_choice", "parallel_tool_calls", "response_format", "user",
        "reasoning_effort", "meterr",
    ]

    /// Reads a request body.
    /// - Parameter model: the model as the provider names it (the `/v1` model without its `provider/` prefix).
    public init(body: [UInt8], model: String) throws(TranslationError) {
        guard let parsed = try? OrderedJSONParser.parse(body), case .object(let members) = parsed else {
            throw TranslationError("the request body is not a JSON object")
        }
        self.model = model
        messages = []
        stream = false
        includeUsage = false
        stop = []
        n = 1
        tools = []
        extensions = [:]
        other = []
        var rawMessages: OrderedJSON?
        for (key, value) in members where value != .null {
            switch key {
            case "messages": rawMessages = value
            case "stream": stream = value == .bool(true)
            case "stream_options": includeUsage = value["include_usage"] == .bool(true)
            case "max_completion_tokens": maxTokens = try Self.count(value, key)
            case "max_tokens":
                let given = try Self.count(value, key)
                if maxTokens == nil { maxTokens = given }
            case "temperature": temperature = try Self.number(value, key)
            case "top_p": topP = try Self.number(value, key)
            case "stop":
                switch value {
                case .string(let text): stop = [text]
                case .array(let items):
                    stop = try items.map { item throws(TranslationError) in try Self.string(item, key) }
                default: throw TranslationError("\"stop\" must be a string or an array of strings")
                }
            case "n": n = try Self.count(value, key)
            case "tools": tools = try Self.tools(value)
            case "tool_choice": toolChoice = try Self.toolChoice(value)
            case "parallel_tool_calls":
                guard case .bool(let flag) = value else {
                    throw TranslationError("\"parallel_tool_calls\" must be a boolean")
                }
                parallelToolCalls = flag
            case "response_format": responseFormat = try Self.responseFormat(value)
            case "user": user = try Self.string(value, key)
            case "reasoning_effort": reasoningEffort = try Self.string(value, key)
            case "meterr":
                guard case .object(let providers) = value else {
                    throw TranslationError(
                        "\"meterr\" must be an object of provider options, e.g. {\"anthropic\": {…}}")
                }
                for (provider, options) in providers {
                    guard case .object(let fields) = options else {
                        throw TranslationError("\"meterr.\(provider)\" must be an object")
                    }
                    extensions[provider] = fields
                }
            case "functions", "function_call":
                throw TranslationError("\"\(key)\" is OpenAI's deprecated form: send \"tools\" and \"tool_choice\"")
            default:
                if !Self.modelled.contains(key) { other.append((key, value)) }
            }
        }
        guard case .array(let list)? = rawMessages, !list.isEmpty else {
            throw TranslationError("\"messages\" must be a non-empty array")
        }
        messages = try list.enumerated().map { (index, item) throws(TranslationError) in
            try Self.message(item, index: index)
        }
    }

    /// The names of `other`'s members, and of modelled members a translator could not honour.
    public var otherNames: [String] { other.map(\.key) }

    /// A member of `other`, if set.
    public func otherValue(_ key: String) -> OrderedJSON? { other.first { $0.key == key }?.value }

    // MARK: Reading

    private static func message(_ value: OrderedJSON, index: Int) throws(TranslationError) -> Message {
        let at = "messages[\(index)]"
        guard case .object = value else { throw TranslationError("\(at) is not an object") }
        guard let roleName = value["role"]?.stringValue else { throw TranslationError("\(at) has no \"role\"") }
        guard let role = Role(rawValue: roleName) else {
            throw TranslationError("\(at) has role \"\(roleName)\": use system, developer, user, assistant or tool")
        }
        var message = Message(
            role: role, parts: try parts(value["content"], at: at), toolCalls: [], toolCallId: nil,
            name: value["name"]?.stringValue, reasoning: value["reasoning_content"]?.stringValue)
        if role == .tool {
            guard let id = value["tool_call_id"]?.stringValue, !id.isEmpty else {
                throw TranslationError("\(at) is a tool result without \"tool_call_id\"")
            }
            message.toolCallId = id
        }
        if role == .assistant, case .array(let calls)? = value["tool_calls"] {
            message.toolCalls = try calls.enumerated().map { (offset, call) throws(TranslationError) in
                guard let id = call["id"]?.stringValue, let function = call["function"],
                    let name = function["name"]?.stringValue
                else { throw TranslationError("\(at).tool_calls[\(offset)] needs an id and a function name") }
                let arguments: String
                switch function["arguments"] {
                case .string(let text)?: arguments = text
                case nil, .null?: arguments = ""
                case let other?: arguments = String(decoding: other.compactBytes, as: UTF8.self)
                }
                return ToolCall(id: id, name: name, arguments: arguments)
            }
        }
        return message
    }

    private static func parts(_ content: OrderedJSON?, at: String) throws(TranslationError) -> [Part] {
        switch content {
        case nil, .null?: return []
        case .string(let text)?: return [.text(text, cacheControl: nil)]
        case .array(let items)?:
            return try items.enumerated().map { (offset, item) throws(TranslationError) in
                let type = item["type"]?.stringValue ?? ""
                let cache = item["cache_control"]
                switch type {
                case "text":
                    guard let text = item["text"]?.stringValue else {
                        throw TranslationError("\(at).content[\(offset)] is a text part without \"text\"")
                    }
                    return .text(text, cacheControl: cache)
                case "image_url":
                    guard let url = item["image_url"]?["url"]?.stringValue ?? item["image_url"]?.stringValue else {
                        throw TranslationError("\(at).content[\(offset)] is an image part without \"image_url.url\"")
                    }
                    return .image(url: url, cacheControl: cache)
                default:
                    throw TranslationError(
                        "\(at).content[\(offset)] is a \"\(type)\" part, which meterr does not translate: send "
                            + "text and image_url parts, or call the provider's own API")
                }
            }
        default: throw TranslationError("\(at).content must be a string or an array of parts")
        }
    }

    private static func tools(_ value: OrderedJSON) throws(TranslationError) -> [Tool] {
        guard case .array(let items) = value else { throw TranslationError("\"tools\" must be an array") }
        return try items.enumerated().map { (offset, item) throws(TranslationError) in
            guard item["type"]?.stringValue ?? "function" == "function", let function = item["function"],
                let name = function["name"]?.stringValue
            else {
                throw TranslationError("tools[\(offset)] must be {\"type\": \"function\", \"function\": {\"name\": …}}")
            }
            var strict: Bool?
            if case .bool(let flag)? = function["strict"] { strict = flag }
            return Tool(
                name: name, description: function["description"]?.stringValue,
                parameters: function["parameters"].flatMap { $0 == .null ? nil : $0 }, strict: strict,
                cacheControl: item["cache_control"])
        }
    }

    private static func toolChoice(_ value: OrderedJSON) throws(TranslationError) -> ToolChoice {
        switch value {
        case .string("auto"): return .auto
        case .string("none"): return .none
        case .string("required"): return .required
        default:
            guard let name = value["function"]?["name"]?.stringValue else {
                throw TranslationError(
                    "\"tool_choice\" must be auto, none, required or {\"type\": \"function\", \"function\": {\"name\": …}}"
                )
            }
            return .function(name)
        }
    }

    private static func responseFormat(_ value: OrderedJSON) throws(TranslationError) -> ResponseFormat {
        switch value["type"]?.stringValue {
        case "text": return .text
        case "json_object": return .jsonObject
        case "json_schema":
            let spec = value["json_schema"]
            var strict: Bool?
            if case .bool(let flag)? = spec?["strict"] { strict = flag }
            return .jsonSchema(
                name: spec?["name"]?.stringValue ?? "response", schema: spec?["schema"], strict: strict)
        default: throw TranslationError("\"response_format.type\" must be text, json_object or json_schema")
        }
    }

    private static func count(_ value: OrderedJSON, _ key: String) throws(TranslationError) -> Int {
        guard case .number(let text) = value, let count = Int(text), count >= 0 else {
            throw TranslationError("\"\(key)\" must be a whole number")
        }
        return count
    }

    private static func number(_ value: OrderedJSON, _ key: String) throws(TranslationError) -> OrderedJSON {
        guard case .number = value else { throw TranslationError("\"\(key)\" must be a number") }
        return value
    }

    private static func string(_ value: OrderedJSON, _ key: String) throws(TranslationError) -> String {
        guard case .string(let text) = value else { throw TranslationError("\"\(key)\" must be a string") }
        return text
    }
}

/// A request meterr cannot translate, with what to change; answered `400` in OpenAI's error shape.
public struct TranslationError: Error, Sendable, Equatable {
    public var message: String

    public init(_ message: String) { self.message = message }
}

extension String {
    var trimmingWhitespace: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return self[start...end]
    }
}
