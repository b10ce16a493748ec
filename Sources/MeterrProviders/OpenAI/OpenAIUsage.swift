import MeterrCore

/// OpenAI-shaped usage: Chat Completions, legacy Completions, Responses and Embeddings on OpenAI,
/// Azure OpenAI and Mistral (which sends the Chat Completions shape without the details).
enum OpenAIUsage {
    /// `CompletionUsage`: cached tokens are part of `prompt_tokens`, reasoning part of `completion_tokens`.
    static func chat(_ usage: JSONValue) -> Usage {
        Usage(
            inputTokens: usage["prompt_tokens"]?.int ?? 0,
            cacheReadTokens: usage[path: "prompt_tokens_details", "cached_tokens"]?.int ?? 0,
            outputTokens: usage["completion_tokens"]?.int ?? 0,
            reasoningTokens: usage[path: "completion_tokens_details", "reasoning_tokens"]?.int ?? 0)
    }

    /// `ResponseUsage` of the Responses API.
    static func responses(_ usage: JSONValue) -> Usage {
        Usage(
            inputTokens: usage["input_tokens"]?.int ?? 0,
            cacheReadTokens: usage[path: "input_tokens_details", "cached_tokens"]?.int ?? 0,
            outputTokens: usage["output_tokens"]?.int ?? 0,
            reasoningTokens: usage[path: "output_tokens_details", "reasoning_tokens"]?.int ?? 0)
    }

    /// The members a response's usage is read from; the rest (choices, embeddings) is skipped unbuilt.
    static let responseMembers: Set<String> = ["id", "model", "usage", "error"]

    static func read(endpoint: ProviderEndpoint, body: [UInt8]) -> UsageReading {
        guard let root = JSONMemberScanner.topLevel(keys: responseMembers, in: body) else { return UsageReading() }
        var reading = UsageReading(responseId: root["id"]?.string, finished: true)
        reading.noteModel(root["model"])
        if let usage = root["usage"], !usage.isNull {
            reading.usage = endpoint == .responses ? responses(usage) : chat(usage)
        }
        if let error = root["error"], !error.isNull { reading.error = error["message"]?.string ?? "error" }
        return reading
    }
}

/// Chat Completions and legacy Completions streams: usage arrives on one chunk (`usage != null`,
/// not "empty choices": Azure's first chunk has empty choices too), then `data: [DONE]`.
struct OpenAIChatTap: StreamUsageTap {
    var reading = UsageReading()

    mutating func consume(_ event: StreamEvent) {
        if event.isDone {
            reading.finished = true
            return
        }
        guard let chunk = JSONValue(parsing: event.data) else { return }
        reading.noteModel(chunk["model"])
        if reading.responseId == nil, let id = chunk["id"]?.string, !id.isEmpty { reading.responseId = id }
        if let usage = chunk["usage"], !usage.isNull { reading.usage = OpenAIUsage.chat(usage) }
        if let error = chunk["error"], !error.isNull { reading.error = error["message"]?.string ?? "error" }
        for choice in chunk["choices"]?.array ?? [] {
            reading.appendText(choice[path: "delta", "content"]?.string ?? choice["text"]?.string)
            if let finish = choice["finish_reason"]?.string, !finish.isEmpty, chunk["usage"] != nil,
                chunk["usage"]?.isNull == false
            {
                // Mistral sends usage on the chunk with finish_reason and no [DONE] may follow on some paths.
                reading.finished = true
            }
        }
    }
}

/// Responses API streams: usage only in the terminal `response.completed` / `response.incomplete` /
/// `response.failed` event; no `[DONE]` (accepted when a compatible server sends it).
struct OpenAIResponsesTap: StreamUsageTap {
    var reading = UsageReading()

    mutating func consume(_ event: StreamEvent) {
        if event.isDone {
            reading.finished = true
            return
        }
        guard let payload = JSONValue(parsing: event.data) else { return }
        let type = payload["type"]?.string ?? event.name ?? ""
        switch type {
        case "response.output_text.delta":
            reading.appendText(payload["delta"]?.string)
        case "response.created", "response.in_progress", "response.completed", "response.incomplete",
            "response.failed", "response.done":
            let response = payload["response"] ?? .null
            reading.noteModel(response["model"])
            if reading.responseId == nil { reading.responseId = response["id"]?.string }
            if let usage = response["usage"], !usage.isNull { reading.usage = OpenAIUsage.responses(usage) }
            if type == "response.failed" {
                reading.error = response[path: "error", "message"]?.string ?? "response failed"
            }
            if type != "response.created" && type != "response.in_progress" { reading.finished = true }
        case "error":
            reading.error = payload[path: "error", "message"]?.string ?? payload["message"]?.string ?? "error"
        default:
            break
        }
    }
}
