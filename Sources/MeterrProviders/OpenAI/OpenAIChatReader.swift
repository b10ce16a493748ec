import MeterrCore

/// Reads OpenAI's own Chat Completions answers (and those of the formats that copy it: Azure,
/// Mistral's, meterr's `/v1`) into `ChatAnswer` and `ChatDelta`s, so a cached answer can be served
/// whole to a streaming caller and the reverse.
public struct OpenAIChatReader: ChatReader {
    public init() {}

    public func answer(_ body: [UInt8], chat: ChatRequest) -> ChatAnswer? {
        guard let json = try? OrderedJSONParser.parse(body), let choices = json["choices"]?.array else { return nil }
        var read: [ChatAnswer.Choice] = []
        for (position, choice) in choices.enumerated() {
            let index = choice["index"]?.int ?? position
            let message = choice["message"]
            var calls: [ChatRequest.ToolCall] = []
            for call in message?["tool_calls"]?.array ?? [] {
                calls.append(
                    ChatRequest.ToolCall(
                        id: call["id"]?.stringValue ?? "", name: call[path: "function", "name"]?.stringValue ?? "",
                        arguments: call[path: "function", "arguments"]?.stringValue ?? ""))
            }
            let answer = ChatAnswer.Choice(
                text: message?["content"]?.stringValue, reasoning: message?["reasoning_content"]?.stringValue,
                toolCalls: calls, finishReason: choice["finish_reason"]?.stringValue ?? "stop",
                nativeFinishReason: choice["native_finish_reason"]?.stringValue)
            while read.count <= index { read.append(ChatAnswer.Choice(finishReason: "stop")) }
            read[index] = answer
        }
        return ChatAnswer(id: json["id"]?.stringValue, model: json["model"]?.stringValue, choices: read)
    }

    public func stream(_ chat: ChatRequest) -> any ChatStreamReader { OpenAIChunkReader() }
}

/// Reads `chat.completion.chunk` events into deltas.
struct OpenAIChunkReader: ChatStreamReader {
    private var started = false
    /// The tool calls begun, by choice and index.
    private var begun: Set<[Int]> = []

    mutating func read(_ event: StreamEvent, into deltas: inout [ChatDelta]) {
        guard !event.isDone, let json = try? OrderedJSONParser.parse(event.data) else { return }
        if let error = json["error"] {
            deltas.append(
                .error(
                    type: error["type"]?.stringValue ?? "api_error",
                    message: error["message"]?.stringValue ?? "the provider reported an error"))
            return
        }
        if !started {
            started = true
            deltas.append(.start(id: json["id"]?.stringValue, model: json["model"]?.stringValue))
        }
        for choice in json["choices"]?.array ?? [] {
            let index = choice["index"]?.int ?? 0
            let delta = choice["delta"]
            if let text = delta?["content"]?.stringValue { deltas.append(.text(choice: index, text)) }
            if let text = delta?["reasoning_content"]?.stringValue { deltas.append(.reasoning(choice: index, text)) }
            for call in delta?["tool_calls"]?.array ?? [] {
                let position = call["index"]?.int ?? 0
                let arguments = call[path: "function", "arguments"]?.stringValue ?? ""
                if begun.insert([index, position]).inserted {
                    deltas.append(
                        .toolCall(
                            choice: index, index: position, id: call["id"]?.stringValue ?? "",
                            name: call[path: "function", "name"]?.stringValue ?? "", arguments: arguments))
                } else if !arguments.isEmpty {
                    deltas.append(.toolArguments(choice: index, index: position, arguments))
                }
            }
            if let reason = choice["finish_reason"]?.stringValue {
                deltas.append(
                    .finish(choice: index, reason: reason, native: choice["native_finish_reason"]?.stringValue))
            }
        }
    }
}

extension ChatAnswer {
    /// The answer assembled from a whole stream's deltas; `nil` when the stream reported an error or
    /// never finished a choice.
    public init?(deltas: [ChatDelta]) {
        var id: String?
        var model: String?
        var choices: [Choice] = []
        var finished = false
        func choice(_ index: Int) -> Int {
            while choices.count <= index { choices.append(Choice(finishReason: "stop")) }
            return index
        }
        for delta in deltas {
            switch delta {
            case .start(let started, let named):
                id = id ?? started
                model = model ?? named
            case .text(let index, let text):
                let at = choice(index)
                choices[at].text = (choices[at].text ?? "") + text
            case .reasoning(let index, let text):
                let at = choice(index)
                choices[at].reasoning = (choices[at].reasoning ?? "") + text
            case .toolCall(let index, let position, let callId, let name, let arguments):
                let at = choice(index)
                while choices[at].toolCalls.count <= position {
                    choices[at].toolCalls.append(ChatRequest.ToolCall(id: "", name: "", arguments: ""))
                }
                choices[at].toolCalls[position] = ChatRequest.ToolCall(id: callId, name: name, arguments: arguments)
            case .toolArguments(let index, let position, let fragment):
                let at = choice(index)
                guard position < choices[at].toolCalls.count else { return nil }
                choices[at].toolCalls[position].arguments += fragment
            case .finish(let index, let reason, let native):
                let at = choice(index)
                choices[at].finishReason = reason
                choices[at].nativeFinishReason = native
                finished = true
            case .error:
                return nil
            }
        }
        guard finished else { return nil }
        self.init(id: id, model: model, choices: choices)
    }

    /// The answer as OpenAI's `chat.completion.chunk` events: per choice the role, reasoning, content and
    /// tool calls, then the finish reason; the usage chunk when given; `[DONE]`.
    public func streamBody(created: Int64, fallbackId: String, fallbackModel: String, usage: Usage?) -> [UInt8] {
        var writer = ChatChunkWriter(id: id ?? fallbackId, model: model ?? fallbackModel, created: created)
        var out: [UInt8] = []
        for (index, choice) in choices.enumerated() {
            writer.role(choice: index, into: &out)
            if let reasoning = choice.reasoning, !reasoning.isEmpty {
                writer.reasoning(choice: index, reasoning, into: &out)
            }
            if let text = choice.text, !text.isEmpty { writer.content(choice: index, text, into: &out) }
            for (position, call) in choice.toolCalls.enumerated() {
                writer.toolCall(
                    choice: index, index: position, id: call.id, name: call.name, arguments: call.arguments, into: &out)
            }
            writer.finish(choice: index, reason: choice.finishReason, native: choice.nativeFinishReason, into: &out)
        }
        if let usage { writer.usage(usage, into: &out) }
        out.append(contentsOf: "data: [DONE]\n\n".utf8)
        return out
    }
}
