import MeterrCore

/// OpenAI Chat Completions ⇄ Cohere v2 chat.
///
/// Roles and tool calls keep their shape (arguments stay strings); `top_p` is `p`; `tool_choice` has
/// no `auto` (it is left out) and no named tool (the tools are narrowed to that one and the call is
/// `REQUIRED`); the answer's `tool_plan` is its reasoning; usage is the billed units.
public struct CohereTranslator: ChatTranslator {
    public init() {}

    public func request(_ chat: ChatRequest, options: TranslationOptions) throws(TranslationError) -> NativeRequest {
        var dropped = DroppedParameters(options, provider: .cohere)
        guard chat.n == 1 else { throw TranslationError("cohere answers one choice per call: send n = 1") }
        var body: [(key: String, value: OrderedJSON)] = [("model", .string(chat.model))]
        var messages: [OrderedJSON] = []
        for message in chat.messages {
            var fields: [(key: String, value: OrderedJSON)] = [
                ("role", .string(message.role == .developer ? "system" : message.role.rawValue))
            ]
            switch message.role {
            case .system, .developer, .tool:
                fields.append(("content", .string(message.text)))
                if let id = message.toolCallId { fields.append(("tool_call_id", .string(id))) }
            case .user:
                fields.append(("content", try Self.content(message.parts)))
            case .assistant:
                if !message.text.isEmpty { fields.append(("content", .string(message.text))) }
                if !message.toolCalls.isEmpty, let plan = message.reasoning, !plan.isEmpty {
                    // Cohere wants the plan it made back with the tool calls it led to.
                    fields.append(("tool_plan", .string(plan)))
                }
                if !message.toolCalls.isEmpty {
                    fields.append(
                        (
                            "tool_calls",
                            .array(
                                message.toolCalls.map { call in
                                    .object([
                                        ("id", .string(call.id)), ("type", .string("function")),
                                        (
                                            "function",
                                            .object([
                                                ("name", .string(call.name)),
                                                ("arguments", .string(call.arguments.isEmpty ? "{}" : call.arguments)),
                                            ])
                                        ),
                                    ])
                                })
                        ))
                }
            }
            messages.append(.object(fields))
        }
        body.append(("messages", .array(messages)))
        var tools = chat.tools
        switch chat.toolChoice {
        case nil, .auto?: break
        case .none?: body.append(("tool_choice", .string("NONE")))
        case .required?: body.append(("tool_choice", .string("REQUIRED")))
        case .function(let name)?:
            tools = tools.filter { $0.name == name }
            guard !tools.isEmpty else { throw TranslationError("tool_choice names \(name), which is not in tools") }
            body.append(("tool_choice", .string("REQUIRED")))
        }
        if !tools.isEmpty {
            body.append(
                (
                    "tools",
                    .array(
                        tools.map { tool in
                            var function: [(key: String, value: OrderedJSON)] = [("name", .string(tool.name))]
                            if let description = tool.description {
                                function.append(("description", .string(description)))
                            }
                            if let parameters = tool.parameters { function.append(("parameters", parameters)) }
                            return .object([("type", .string("function")), ("function", .object(function))])
                        })
                ))
            if tools.contains(where: { $0.strict == true }) { body.append(("strict_tools", .bool(true))) }
        }
        if let maxTokens = chat.maxTokens { body.append(("max_tokens", .number(String(maxTokens)))) }
        if let temperature = chat.temperature { body.append(("temperature", temperature)) }
        if let topP = chat.topP { body.append(("p", topP)) }
        if !chat.stop.isEmpty { body.append(("stop_sequences", .array(chat.stop.map(OrderedJSON.string)))) }
        for name in ["seed", "frequency_penalty", "presence_penalty"] {
            if let value = chat.otherValue(name) { body.append((name, value)) }
        }
        switch chat.responseFormat {
        case .jsonObject?: body.append(("response_format", .object([("type", .string("json_object"))])))
        case .jsonSchema(_, let schema, _)?:
            var format: [(key: String, value: OrderedJSON)] = [("type", .string("json_object"))]
            if let schema { format.append(("json_schema", schema)) }
            body.append(("response_format", .object(format)))
        default: break
        }
        if chat.stream { body.append(("stream", .bool(true))) }
        if chat.parallelToolCalls != nil { try dropped.drop("parallel_tool_calls") }
        if chat.reasoningEffort != nil { try dropped.drop("reasoning_effort") }
        for name in chat.otherNames where !["seed", "frequency_penalty", "presence_penalty"].contains(name) {
            try dropped.drop(name)
        }
        TranslationSupport.merge(&body, chat.extensions["cohere"])
        return NativeRequest(path: "/v2/chat", body: OrderedJSON.object(body).compactBytes, dropped: dropped.names)
    }

    /// A user message's content: a string, or text and image parts.
    static func content(_ parts: [ChatRequest.Part]) throws(TranslationError) -> OrderedJSON {
        if parts.allSatisfy({ $0.text != nil }) { return .string(parts.compactMap(\.text).joined()) }
        return .array(
            parts.map { part in
                switch part {
                case .text(let text, _): .object([("type", .string("text")), ("text", .string(text))])
                case .image(let url, _):
                    .object([("type", .string("image_url")), ("image_url", .object([("url", .string(url))]))])
                }
            })
    }

    // MARK: Answers

    static func finishReason(_ reason: String?) -> String {
        switch reason {
        case "MAX_TOKENS": "length"
        case "TOOL_CALL": "tool_calls"
        default: "stop"
        }
    }

    public func answer(_ body: [UInt8], chat: ChatRequest) -> ChatAnswer? {
        guard let value = try? OrderedJSONParser.parse(body), let message = value["message"] else { return nil }
        var text: String?
        for part in message["content"]?.array ?? [] where part["type"]?.stringValue == "text" {
            text = (text ?? "") + (part["text"]?.stringValue ?? "")
        }
        let calls = (message["tool_calls"]?.array ?? []).map { call in
            ChatRequest.ToolCall(
                id: call["id"]?.stringValue ?? "", name: call[path: "function", "name"]?.stringValue ?? "",
                arguments: call[path: "function", "arguments"]?.stringValue ?? "{}")
        }
        let native = value["finish_reason"]?.stringValue
        let plan = message["tool_plan"]?.stringValue
        return ChatAnswer(
            id: value["id"]?.stringValue, model: nil,
            choices: [
                .init(
                    text: text, reasoning: plan?.isEmpty == false ? plan : nil, toolCalls: calls,
                    finishReason: Self.finishReason(native), nativeFinishReason: native)
            ])
    }

    public func stream(_ chat: ChatRequest) -> any ChatStreamReader { CohereStreamReader() }
}

/// Cohere v2's typed stream events as OpenAI deltas.
struct CohereStreamReader: ChatStreamReader {
    private var tools: [Int: Int] = [:]

    mutating func read(_ event: StreamEvent, into deltas: inout [ChatDelta]) {
        guard let value = try? OrderedJSONParser.parse(event.data) else { return }
        let message = value[path: "delta", "message"]
        switch value["type"]?.stringValue ?? event.name {
        case "message-start":
            deltas.append(.start(id: value["id"]?.stringValue, model: nil))
            deltas.append(.text(choice: 0, ""))
        case "content-delta":
            if let text = message?[path: "content", "text"]?.stringValue {
                deltas.append(.text(choice: 0, text))
            } else if let thinking = message?[path: "content", "thinking"]?.stringValue {
                deltas.append(.reasoning(choice: 0, thinking))
            }
        case "tool-plan-delta":
            deltas.append(.reasoning(choice: 0, message?["tool_plan"]?.stringValue ?? ""))
        case "tool-call-start":
            let call = message?["tool_calls"]
            let index = tools.count
            tools[value["index"]?.int ?? index] = index
            deltas.append(
                .toolCall(
                    choice: 0, index: index, id: call?["id"]?.stringValue ?? "",
                    name: call?[path: "function", "name"]?.stringValue ?? "",
                    arguments: call?[path: "function", "arguments"]?.stringValue ?? ""))
        case "tool-call-delta":
            guard let index = tools[value["index"]?.int ?? tools.count - 1],
                let fragment = message?[path: "tool_calls", "function", "arguments"]?.stringValue, !fragment.isEmpty
            else { return }
            deltas.append(.toolArguments(choice: 0, index: index, fragment))
        case "message-end":
            let native = value[path: "delta", "finish_reason"]?.stringValue
            if native == "ERROR" || native == "TIMEOUT" {
                deltas.append(
                    .error(
                        type: "api_error",
                        message: value[path: "delta", "error"]?.stringValue ?? "cohere ended the stream with \(native!)"
                    ))
            } else {
                deltas.append(.finish(choice: 0, reason: CohereTranslator.finishReason(native), native: native))
            }
        default: break
        }
    }
}
