import MeterrCore

/// OpenAI Chat Completions ⇄ Gemini `generateContent` / `streamGenerateContent` (server-sent events).
///
/// `assistant` is `model`; tool results are `functionResponse` parts named after the call they answer
/// (Gemini pairs by name); schemas are cut to the OpenAPI subset Gemini takes; a function call's
/// `thoughtSignature` travels inside its tool-call id, so the next turn can send it back.
public struct GeminiTranslator: ChatTranslator {
    /// `reasoning_effort` as a thinking budget.
    static let thinkingBudgets = ["minimal": 0, "low": 1024, "medium": 8192, "high": 24576]
    /// What separates a synthesised call id from the thought signature it carries.
    static let signatureMark = "~ts~"

    public init() {}

    public func request(_ chat: ChatRequest, options: TranslationOptions) throws(TranslationError) -> NativeRequest {
        var dropped = DroppedParameters(options, provider: .gemini)
        var system: [OrderedJSON] = []
        var contents: [(role: String, parts: [OrderedJSON])] = []
        var callNames: [String: String] = [:]
        for message in chat.messages {
            if message.role.instructs {
                for part in message.parts {
                    guard let text = part.text else {
                        throw TranslationError("gemini takes only text in system messages")
                    }
                    system.append(.object([("text", .string(text))]))
                }
                continue
            }
            var parts: [OrderedJSON] = []
            let role: String
            switch message.role {
            case .assistant:
                role = "model"
                for part in message.parts where part.text?.isEmpty != true { parts.append(try Self.part(part)) }
                for call in message.toolCalls {
                    callNames[call.id] = call.name
                    var fields: [(key: String, value: OrderedJSON)] = [
                        ("functionCall", .object([("name", .string(call.name)), ("args", try call.argumentsObject())]))
                    ]
                    if let range = call.id.range(of: Self.signatureMark) {
                        fields.append(("thoughtSignature", .string(String(call.id[range.upperBound...]))))
                    }
                    parts.append(.object(fields))
                }
            case .tool:
                role = "user"
                let id = message.toolCallId ?? ""
                guard let name = callNames[id] ?? message.name else {
                    throw TranslationError(
                        "tool result \(id) answers no earlier tool call: gemini pairs results with calls by name")
                }
                let text = message.text
                var response: OrderedJSON = .object([("result", .string(text))])
                if case .object? = TranslationSupport.parsedJSON(text) {
                    response = TranslationSupport.parsedJSON(text)!
                }
                parts.append(
                    .object([("functionResponse", .object([("name", .string(name)), ("response", response)]))]))
            default:
                role = "user"
                for part in message.parts where part.text?.isEmpty != true { parts.append(try Self.part(part)) }
            }
            if parts.isEmpty { continue }
            if let last = contents.last, last.role == role {
                contents[contents.count - 1].parts += parts
            } else {
                contents.append((role, parts))
            }
        }
        guard !contents.isEmpty else { throw TranslationError("the request has no user or assistant message") }
        var body: [(key: String, value: OrderedJSON)] = [
            ("contents", .array(contents.map { .object([("role", .string($0.role)), ("parts", .array($0.parts))]) }))
        ]
        if !system.isEmpty { body.append(("systemInstruction", .object([("parts", .array(system))]))) }
        if !chat.tools.isEmpty {
            let declarations = chat.tools.map { tool -> OrderedJSON in
                var fields: [(key: String, value: OrderedJSON)] = [("name", .string(tool.name))]
                if let description = tool.description { fields.append(("description", .string(description))) }
                if let parameters = tool.parameters, parameters["properties"].map({ $0 != .object([]) }) ?? false {
                    fields.append(("parameters", GeminiSchema.subset(parameters)))
                }
                return .object(fields)
            }
            body.append(("tools", .array([.object([("functionDeclarations", .array(declarations))])])))
        }
        if let choice = chat.toolChoice {
            var config: [(key: String, value: OrderedJSON)]
            switch choice {
            case .auto: config = [("mode", .string("AUTO"))]
            case .none: config = [("mode", .string("NONE"))]
            case .required: config = [("mode", .string("ANY"))]
            case .function(let name):
                config = [("mode", .string("ANY")), ("allowedFunctionNames", .array([.string(name)]))]
            }
            body.append(("toolConfig", .object([("functionCallingConfig", .object(config))])))
        }
        var generation: [(key: String, value: OrderedJSON)] = []
        if let maxTokens = chat.maxTokens { generation.append(("maxOutputTokens", .number(String(maxTokens)))) }
        if let temperature = chat.temperature { generation.append(("temperature", temperature)) }
        if let topP = chat.topP { generation.append(("topP", topP)) }
        if !chat.stop.isEmpty { generation.append(("stopSequences", .array(chat.stop.map(OrderedJSON.string)))) }
        if chat.n != 1 { generation.append(("candidateCount", .number(String(chat.n)))) }
        for (openAI, gemini) in [
            ("seed", "seed"), ("presence_penalty", "presencePenalty"), ("frequency_penalty", "frequencyPenalty"),
        ] {
            if let value = chat.otherValue(openAI) { generation.append((gemini, value)) }
        }
        switch chat.responseFormat {
        case .jsonObject?: generation.append(("responseMimeType", .string("application/json")))
        case .jsonSchema(_, let schema, _)?:
            generation.append(("responseMimeType", .string("application/json")))
            if let schema { generation.append(("responseSchema", GeminiSchema.subset(schema))) }
        default: break
        }
        if let effort = chat.reasoningEffort {
            guard let budget = Self.thinkingBudgets[effort] else {
                throw TranslationError("\"reasoning_effort\" must be minimal, low, medium or high")
            }
            generation.append(
                (
                    "thinkingConfig",
                    .object([("thinkingBudget", .number(String(budget))), ("includeThoughts", .bool(budget > 0))])
                ))
        }
        if !generation.isEmpty { body.append(("generationConfig", .object(generation))) }
        if chat.parallelToolCalls != nil { try dropped.drop("parallel_tool_calls") }
        for name in chat.otherNames where !["seed", "presence_penalty", "frequency_penalty"].contains(name) {
            try dropped.drop(name)
        }
        TranslationSupport.merge(&body, chat.extensions["gemini"])
        let model = Self.pathSafe(chat.model)
        let path =
            chat.stream
            ? "/v1beta/models/\(model):streamGenerateContent?alt=sse" : "/v1beta/models/\(model):generateContent"
        return NativeRequest(path: path, body: OrderedJSON.object(body).compactBytes, dropped: dropped.names)
    }

    /// A model name fit for the path (`models/` prefixes removed; nothing that would leave the segment).
    static func pathSafe(_ model: String) -> String {
        let bare = model.hasPrefix("models/") ? String(model.dropFirst(7)) : model
        return String(bare.filter { $0.isLetter || $0.isNumber || "-._".contains($0) })
    }

    static func part(_ part: ChatRequest.Part) throws(TranslationError) -> OrderedJSON {
        switch part {
        case .text(let text, _): return .object([("text", .string(text))])
        case .image(let url, _):
            if let (type, data) = TranslationSupport.dataURL(url) {
                return .object([("inlineData", .object([("mimeType", .string(type)), ("data", .string(data))]))])
            }
            guard url.hasPrefix("https://") || url.hasPrefix("http://") || url.hasPrefix("gs://") else {
                throw TranslationError("an image_url must be an http(s) or gs:// URL or a base64 data: URL")
            }
            return .object([
                (
                    "fileData",
                    .object([("mimeType", .string(TranslationSupport.imageType(url))), ("fileUri", .string(url))])
                )
            ])
        }
    }

    // MARK: Answers

    /// `finishReason` in OpenAI's terms (the provider's own is kept beside it).
    static func finishReason(_ reason: String?, calledTools: Bool) -> String {
        switch reason {
        case "MAX_TOKENS": "length"
        case "SAFETY", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "RECITATION": "content_filter"
        default: calledTools ? "tool_calls" : "stop"
        }
    }

    /// A stable id for a call Gemini gave none, carrying its thought signature when it has one.
    static func callId(_ part: OrderedJSON?, call: OrderedJSON?, response: String?, choice: Int, index: Int) -> String {
        var id = call?["id"]?.stringValue ?? "call_\(response ?? "gemini")_\(choice)_\(index)"
        if let signature = part?["thoughtSignature"]?.stringValue { id += signatureMark + signature }
        return id
    }

    public func answer(_ body: [UInt8], chat: ChatRequest) -> ChatAnswer? {
        guard let value = try? OrderedJSONParser.parse(body), case .object = value else { return nil }
        let responseId = value["responseId"]?.stringValue
        var choices: [ChatAnswer.Choice] = []
        for (offset, candidate) in (value["candidates"]?.array ?? []).enumerated() {
            var text: String?
            var reasoning: String?
            var calls: [ChatRequest.ToolCall] = []
            for part in candidate[path: "content", "parts"]?.array ?? [] {
                if let call = part["functionCall"] {
                    calls.append(
                        .init(
                            id: Self.callId(part, call: call, response: responseId, choice: offset, index: calls.count),
                            name: call["name"]?.stringValue ?? "", arguments: Self.arguments(call["args"])))
                } else if let piece = part["text"]?.stringValue {
                    if part["thought"] == .bool(true) {
                        reasoning = (reasoning ?? "") + piece
                    } else {
                        text = (text ?? "") + piece
                    }
                }
            }
            let native = candidate["finishReason"]?.stringValue
            choices.append(
                .init(
                    text: text, reasoning: reasoning, toolCalls: calls,
                    finishReason: Self.finishReason(native, calledTools: !calls.isEmpty), nativeFinishReason: native))
        }
        if choices.isEmpty {
            // A prompt the provider blocked: no candidates, a reason in promptFeedback.
            let blocked = value[path: "promptFeedback", "blockReason"]?.stringValue
            choices.append(
                .init(finishReason: blocked.map { _ in "content_filter" } ?? "stop", nativeFinishReason: blocked))
        }
        return ChatAnswer(id: responseId, model: value["modelVersion"]?.stringValue, choices: choices)
    }

    /// Function-call arguments as OpenAI's JSON text.
    static func arguments(_ args: OrderedJSON?) -> String {
        guard let args else { return "{}" }
        return String(decoding: args.compactBytes, as: UTF8.self)
    }

    public func stream(_ chat: ChatRequest) -> any ChatStreamReader { GeminiStreamReader() }
}

/// Gemini's stream: every event is a whole `GenerateContentResponse` holding the new text; function
/// calls arrive whole, so each becomes one delta with all its arguments.
struct GeminiStreamReader: ChatStreamReader {
    private var started = false
    private var toolCounts: [Int: Int] = [:]

    mutating func read(_ event: StreamEvent, into deltas: inout [ChatDelta]) {
        guard let value = try? OrderedJSONParser.parse(event.data) else { return }
        if let error = value["error"] {
            deltas.append(
                .error(
                    type: error["status"]?.stringValue ?? "api_error",
                    message: error["message"]?.stringValue ?? "the provider reported an error"))
            return
        }
        let responseId = value["responseId"]?.stringValue
        if !started {
            started = true
            deltas.append(.start(id: responseId, model: value["modelVersion"]?.stringValue))
        }
        let candidates = value["candidates"]?.array ?? []
        if candidates.isEmpty, let blocked = value[path: "promptFeedback", "blockReason"]?.stringValue {
            deltas.append(.finish(choice: 0, reason: "content_filter", native: blocked))
            return
        }
        for (offset, candidate) in candidates.enumerated() {
            let choice = candidate["index"]?.int ?? offset
            for part in candidate[path: "content", "parts"]?.array ?? [] {
                if let call = part["functionCall"] {
                    let index = toolCounts[choice, default: 0]
                    toolCounts[choice] = index + 1
                    deltas.append(
                        .toolCall(
                            choice: choice, index: index,
                            id: GeminiTranslator.callId(
                                part, call: call, response: responseId, choice: choice, index: index),
                            name: call["name"]?.stringValue ?? "", arguments: GeminiTranslator.arguments(call["args"])))
                } else if let text = part["text"]?.stringValue {
                    deltas.append(
                        part["thought"] == .bool(true) ? .reasoning(choice: choice, text) : .text(choice: choice, text))
                }
            }
            if let native = candidate["finishReason"]?.stringValue {
                deltas.append(
                    .finish(
                        choice: choice,
                        reason: GeminiTranslator.finishReason(native, calledTools: toolCounts[choice, default: 0] > 0),
                        native: native))
            }
        }
    }
}

/// JSON Schemas cut to the OpenAPI 3.0 subset Gemini's `parameters` and `responseSchema` take:
/// `$ref`s inlined from `$defs`, `["string", "null"]` as `nullable`, `const` as a one-value `enum`,
/// and members Gemini rejects (`additionalProperties`, `$schema`, `strict`, `examples`, …) left out.
enum GeminiSchema {
    static let kept: Set<String> = [
        "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties",
        "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "anyOf",
        "propertyOrdering", "items", "minimum", "maximum",
    ]

    static func subset(_ schema: OrderedJSON) -> OrderedJSON {
        var definitions: [String: OrderedJSON] = [:]
        for key in ["$defs", "definitions"] {
            if case .object(let defs)? = schema[key] { for (name, value) in defs { definitions[name] = value } }
        }
        return clean(schema, definitions: definitions, depth: 0)
    }

    private static func clean(_ schema: OrderedJSON, definitions: [String: OrderedJSON], depth: Int) -> OrderedJSON {
        guard case .object(var members) = schema, depth < 32 else { return schema }
        if let reference = schema["$ref"]?.stringValue, let name = reference.split(separator: "/").last,
            let target = definitions[String(name)]
        {
            return clean(target, definitions: definitions, depth: depth + 1)
        }
        if let constant = schema["const"] { members.append(("enum", .array([constant]))) }
        var out: [(key: String, value: OrderedJSON)] = []
        for (key, value) in members where kept.contains(key) {
            switch key {
            case "type":
                if case .array(let types) = value {
                    let named = types.compactMap(\.stringValue)
                    if let first = named.first(where: { $0 != "null" }) { out.append(("type", .string(first))) }
                    if named.contains("null") { out.append(("nullable", .bool(true))) }
                } else {
                    out.append((key, value))
                }
            case "properties":
                guard case .object(let properties) = value else { continue }
                out.append(
                    (
                        key,
                        .object(
                            properties.map { ($0.key, clean($0.value, definitions: definitions, depth: depth + 1)) })
                    ))
            case "items":
                out.append((key, clean(value, definitions: definitions, depth: depth + 1)))
            case "anyOf":
                guard case .array(let options) = value else { continue }
                out.append((key, .array(options.map { clean($0, definitions: definitions, depth: depth + 1) })))
            default: out.append((key, value))
            }
        }
        if out.isEmpty { out.append(("type", .string("object"))) }
        return .object(out)
    }
}
