import MeterrCore

/// OpenAI Chat Completions ⇄ Anthropic Messages.
///
/// System and developer messages become `system` blocks; consecutive messages of one role merge (tool
/// results join the user turn that must follow the tool calls); tool-call arguments become `input`
/// objects; `max_tokens` is always sent; `response_format` with a schema is a forced tool named
/// `json_output` whose input is unwrapped into the answer's content.
public struct AnthropicTranslator: ChatTranslator {
    /// The synthetic tool that carries a JSON answer.
    static let jsonTool = "json_output"
    /// `reasoning_effort` as a thinking budget.
    static let thinkingBudgets = ["minimal": 1024, "low": 1024, "medium": 4096, "high": 16384]

    public init() {}

    public func request(_ chat: ChatRequest, options: TranslationOptions) throws(TranslationError) -> NativeRequest {
        var dropped = DroppedParameters(options, provider: .anthropic)
        guard chat.n == 1 else { throw TranslationError("anthropic answers one choice per call: send n = 1") }
        var body: [(key: String, value: OrderedJSON)] = [("model", .string(chat.model))]
        var maxTokens = chat.maxTokens ?? options.defaultMaxTokens
        var system: [OrderedJSON] = []
        var messages: [(role: String, blocks: [OrderedJSON])] = []
        for message in chat.messages {
            if message.role.instructs {
                for part in message.parts {
                    guard case .text(let text, let cache) = part else {
                        throw TranslationError("anthropic takes only text in system messages")
                    }
                    system.append(Self.textBlock(text, cache))
                }
                continue
            }
            let (role, blocks) = try Self.blocks(message)
            if blocks.isEmpty { continue }
            if let last = messages.last, last.role == role {
                messages[messages.count - 1].blocks += blocks
            } else {
                messages.append((role, blocks))
            }
        }
        guard !messages.isEmpty else { throw TranslationError("the request has no user or assistant message") }
        if !system.isEmpty { body.append(("system", .array(system))) }
        body.append(
            (
                "messages",
                .array(messages.map { .object([("role", .string($0.role)), ("content", .array($0.blocks))]) })
            ))
        var tools = chat.tools.map { tool -> OrderedJSON in
            var fields: [(key: String, value: OrderedJSON)] = [("name", .string(tool.name))]
            if let description = tool.description { fields.append(("description", .string(description))) }
            fields.append(
                (
                    "input_schema",
                    tool.parameters ?? .object([("type", .string("object")), ("properties", .object([]))])
                ))
            if let cache = tool.cacheControl { fields.append(("cache_control", cache)) }
            return .object(fields)
        }
        var toolChoice: [(key: String, value: OrderedJSON)]?
        switch chat.toolChoice {
        case nil: break
        case .auto?: toolChoice = [("type", .string("auto"))]
        case .none?: toolChoice = [("type", .string("none"))]
        case .required?: toolChoice = [("type", .string("any"))]
        case .function(let name)?: toolChoice = [("type", .string("tool")), ("name", .string(name))]
        }
        switch chat.responseFormat {
        case nil, .text?: break
        case .jsonObject?, .jsonSchema?:
            guard chat.tools.isEmpty else {
                throw TranslationError(
                    "anthropic cannot take response_format together with tools through /v1: send one of them")
            }
            var schema: OrderedJSON = .object([("type", .string("object"))])
            if case .jsonSchema(_, let given?, _)? = chat.responseFormat { schema = given }
            tools = [
                .object([
                    ("name", .string(Self.jsonTool)), ("description", .string("Answer with this JSON object.")),
                    ("input_schema", schema),
                ])
            ]
            toolChoice = [("type", .string("tool")), ("name", .string(Self.jsonTool))]
        }
        if chat.parallelToolCalls == false, !tools.isEmpty {
            if toolChoice == nil { toolChoice = [("type", .string("auto"))] }
            toolChoice?.append(("disable_parallel_tool_use", .bool(true)))
        }
        if let effort = chat.reasoningEffort {
            guard let budget = Self.thinkingBudgets[effort] else {
                throw TranslationError("\"reasoning_effort\" must be minimal, low, medium or high")
            }
            guard maxTokens > budget else {
                throw TranslationError(
                    "reasoning_effort \(effort) gives anthropic a thinking budget of \(budget) tokens: set "
                        + "max_completion_tokens above it")
            }
            body.append(
                ("thinking", .object([("type", .string("enabled")), ("budget_tokens", .number(String(budget)))])))
        }
        maxTokens = max(maxTokens, 1)
        body.insert(("max_tokens", .number(String(maxTokens))), at: 1)
        if !tools.isEmpty { body.append(("tools", .array(tools))) }
        if let toolChoice { body.append(("tool_choice", .object(toolChoice))) }
        if let temperature = chat.temperature {
            if chat.reasoningEffort != nil {
                try dropped.drop("temperature")
            } else {
                body.append(("temperature", Self.capped(temperature)))
            }
        }
        if let topP = chat.topP { body.append(("top_p", topP)) }
        let stops = chat.stop.filter { !$0.trimmingWhitespace.isEmpty }
        if !stops.isEmpty { body.append(("stop_sequences", .array(stops.map(OrderedJSON.string)))) }
        if let user = chat.user { body.append(("metadata", .object([("user_id", .string(user))]))) }
        if chat.stream { body.append(("stream", .bool(true))) }
        for name in chat.otherNames { try dropped.drop(name) }
        TranslationSupport.merge(&body, chat.extensions["anthropic"])
        return NativeRequest(
            path: "/v1/messages", body: OrderedJSON.object(body).compactBytes,
            headers: [("anthropic-version", "2023-06-01")], dropped: dropped.names)
    }

    /// Anthropic's temperature runs 0–1; OpenAI's 0–2 is capped.
    static func capped(_ temperature: OrderedJSON) -> OrderedJSON {
        guard case .number(let text) = temperature, let value = Double(text), value > 1 else { return temperature }
        return .number("1")
    }

    static func textBlock(_ text: String, _ cache: OrderedJSON?) -> OrderedJSON {
        var fields: [(key: String, value: OrderedJSON)] = [("type", .string("text")), ("text", .string(text))]
        if let cache { fields.append(("cache_control", cache)) }
        return .object(fields)
    }

    /// A message's role and content blocks on Anthropic's side.
    static func blocks(_ message: ChatRequest.Message) throws(TranslationError) -> (String, [OrderedJSON]) {
        switch message.role {
        case .tool:
            var result: [(key: String, value: OrderedJSON)] = [
                ("type", .string("tool_result")), ("tool_use_id", .string(message.toolCallId ?? "")),
            ]
            let content = try message.parts.map { part throws(TranslationError) in try Self.block(part) }
            result.append(("content", .array(content)))
            return ("user", [.object(result)])
        case .assistant:
            var blocks = try contentBlocks(message.parts)
            for call in message.toolCalls {
                blocks.append(
                    .object([
                        ("type", .string("tool_use")), ("id", .string(call.id)), ("name", .string(call.name)),
                        ("input", try call.argumentsObject()),
                    ]))
            }
            return ("assistant", blocks)
        default:
            return ("user", try contentBlocks(message.parts))
        }
    }

    /// Content blocks for parts, empty text left out (Anthropic refuses empty text blocks).
    static func contentBlocks(_ parts: [ChatRequest.Part]) throws(TranslationError) -> [OrderedJSON] {
        var blocks: [OrderedJSON] = []
        for part in parts {
            if case .text(let text, _) = part, text.isEmpty { continue }
            blocks.append(try block(part))
        }
        return blocks
    }

    static func block(_ part: ChatRequest.Part) throws(TranslationError) -> OrderedJSON {
        switch part {
        case .text(let text, let cache): return textBlock(text, cache)
        case .image(let url, let cache):
            let source: OrderedJSON
            if let (type, data) = TranslationSupport.dataURL(url) {
                source = .object([("type", .string("base64")), ("media_type", .string(type)), ("data", .string(data))])
            } else if url.hasPrefix("https://") || url.hasPrefix("http://") {
                source = .object([("type", .string("url")), ("url", .string(url))])
            } else {
                throw TranslationError("an image_url must be an http(s) URL or a base64 data: URL")
            }
            var fields: [(key: String, value: OrderedJSON)] = [("type", .string("image")), ("source", source)]
            if let cache { fields.append(("cache_control", cache)) }
            return .object(fields)
        }
    }

    // MARK: Answers

    /// `stop_reason` in OpenAI's terms.
    static func finishReason(_ reason: String?) -> String {
        switch reason {
        case "max_tokens", "model_context_window_exceeded": "length"
        case "tool_use": "tool_calls"
        case "refusal": "content_filter"
        default: "stop"
        }
    }

    public func answer(_ body: [UInt8], chat: ChatRequest) -> ChatAnswer? {
        guard let value = try? OrderedJSONParser.parse(body), case .array(let content)? = value["content"] else {
            return nil
        }
        let json = Self.wantsJSON(chat)
        var text = ""
        var reasoning: String?
        var calls: [ChatRequest.ToolCall] = []
        for block in content {
            switch block["type"]?.stringValue {
            case "text": text += block["text"]?.stringValue ?? ""
            case "thinking": reasoning = (reasoning ?? "") + (block["thinking"]?.stringValue ?? "")
            case "tool_use":
                let name = block["name"]?.stringValue ?? ""
                let arguments = String(decoding: (block["input"] ?? .object([])).compactBytes, as: UTF8.self)
                if json && name == Self.jsonTool {
                    text += arguments
                } else {
                    calls.append(.init(id: block["id"]?.stringValue ?? "", name: name, arguments: arguments))
                }
            default: break
            }
        }
        let native = value["stop_reason"]?.stringValue
        var reason = Self.finishReason(native)
        if json && reason == "tool_calls" && calls.isEmpty { reason = "stop" }
        return ChatAnswer(
            id: value["id"]?.stringValue, model: value["model"]?.stringValue,
            choices: [
                .init(
                    text: text.isEmpty && !calls.isEmpty ? nil : text, reasoning: reasoning, toolCalls: calls,
                    finishReason: reason, nativeFinishReason: native)
            ])
    }

    static func wantsJSON(_ chat: ChatRequest) -> Bool {
        switch chat.responseFormat {
        case .jsonObject?, .jsonSchema?: true
        default: false
        }
    }

    public func stream(_ chat: ChatRequest) -> any ChatStreamReader {
        AnthropicStreamReader(json: Self.wantsJSON(chat))
    }
}

/// Anthropic's stream events as OpenAI deltas: a tool call's index counts tool calls only (its content
/// block index counts text blocks too); a tool with no argument deltas still gets `{}`.
struct AnthropicStreamReader: ChatStreamReader {
    /// Whether the `json_output` tool's input is the answer's text.
    let json: Bool
    private var blocks: [Int: Block] = [:]
    private var toolCount = 0

    private enum Block {
        case text
        case thinking
        case tool(index: Int, sentArguments: Bool)
        case jsonAnswer
        case other
    }

    init(json: Bool) { self.json = json }

    mutating func read(_ event: StreamEvent, into deltas: inout [ChatDelta]) {
        guard let value = JSONValue(parsing: event.data) else { return }
        switch value["type"]?.string ?? event.name {
        case "message_start":
            deltas.append(
                .start(id: value[path: "message", "id"]?.string, model: value[path: "message", "model"]?.string))
            deltas.append(.text(choice: 0, ""))
        case "content_block_start":
            let index = value["index"]?.int ?? 0
            let block = value["content_block"]
            switch block?["type"]?.string {
            case "text":
                blocks[index] = .text
                if let text = block?["text"]?.string, !text.isEmpty { deltas.append(.text(choice: 0, text)) }
            case "thinking": blocks[index] = .thinking
            case "tool_use":
                let name = block?["name"]?.string ?? ""
                if json && name == AnthropicTranslator.jsonTool {
                    blocks[index] = .jsonAnswer
                } else {
                    blocks[index] = .tool(index: toolCount, sentArguments: false)
                    deltas.append(
                        .toolCall(
                            choice: 0, index: toolCount, id: block?["id"]?.string ?? "", name: name, arguments: ""))
                    toolCount += 1
                }
            default: blocks[index] = .other
            }
        case "content_block_delta":
            let index = value["index"]?.int ?? 0
            let delta = value["delta"]
            switch (blocks[index], delta?["type"]?.string) {
            case (.text?, _): deltas.append(.text(choice: 0, delta?["text"]?.string ?? ""))
            case (.thinking?, "thinking_delta"): deltas.append(.reasoning(choice: 0, delta?["thinking"]?.string ?? ""))
            case (.jsonAnswer?, _): deltas.append(.text(choice: 0, delta?["partial_json"]?.string ?? ""))
            case (.tool(let tool, _)?, _):
                let fragment = delta?["partial_json"]?.string ?? ""
                if !fragment.isEmpty {
                    deltas.append(.toolArguments(choice: 0, index: tool, fragment))
                    blocks[index] = .tool(index: tool, sentArguments: true)
                }
            default: break
            }
        case "content_block_stop":
            if case .tool(let tool, false)? = blocks[value["index"]?.int ?? 0] {
                deltas.append(.toolArguments(choice: 0, index: tool, "{}"))
            }
        case "message_delta":
            if let native = value[path: "delta", "stop_reason"]?.string {
                var reason = AnthropicTranslator.finishReason(native)
                if json && reason == "tool_calls" && toolCount == 0 { reason = "stop" }
                deltas.append(.finish(choice: 0, reason: reason, native: native))
            }
        case "error":
            deltas.append(
                .error(
                    type: value[path: "error", "type"]?.string ?? "api_error",
                    message: value[path: "error", "message"]?.string ?? "the provider reported an error"))
        default: break
        }
    }
}
