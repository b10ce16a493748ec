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

    /// A whole response's usage, read as the bytes are walked: only `id`, `model`, `usage` and `error`
    /// are built (and of `usage`, only its counts); the rest (choices, embeddings) is skipped unbuilt.
    /// It reads what `chat`/`responses` read from the parsed body, a repeated member's last value
    /// included; a body that is not one JSON object has no reading.
    static func read(endpoint: ProviderEndpoint, body: [UInt8]) -> UsageReading {
        let names = endpoint == .responses ? UsageNames.responses : UsageNames.chat
        return body.withUnsafeBufferPointer { bytes in
            var parser = JSONParser(bytes)
            var (id, model, error): (JSONValue?, JSONValue?, JSONValue?)
            var usage: Usage?
            do {
                try parser.forEachMemberKey("body") { (parser, key) throws(MeterrError) in
                    if key.matches("usage") {
                        usage = try readUsage(&parser, names)
                    } else if key.matches("id") {
                        id = try parser.readValue(depth: 1)
                    } else if key.matches("model") {
                        model = try parser.readValue(depth: 1)
                    } else if key.matches("error") {
                        error = try parser.readValue(depth: 1)
                    } else {
                        try parser.skipValue()
                    }
                }
            } catch {
                return UsageReading()
            }
            var reading = UsageReading(responseId: id?.string, finished: true)
            reading.noteModel(model)
            reading.usage = usage
            if let error, !error.isNull { reading.error = error["message"]?.string ?? "error" }
            return reading
        }
    }

    /// The member names of a usage object: Chat Completions' or the Responses API's.
    struct UsageNames {
        var input, cached, inputDetails, output, reasoning, outputDetails: String

        static let chat = UsageNames(
            input: "prompt_tokens", cached: "cached_tokens", inputDetails: "prompt_tokens_details",
            output: "completion_tokens", reasoning: "reasoning_tokens", outputDetails: "completion_tokens_details")
        static let responses = UsageNames(
            input: "input_tokens", cached: "cached_tokens", inputDetails: "input_tokens_details",
            output: "output_tokens", reasoning: "reasoning_tokens", outputDetails: "output_tokens_details")
    }

    /// The counts of a `usage` member (`nil` for `null`), as `chat`/`responses` read them.
    private static func readUsage(_ parser: inout JSONParser, _ names: UsageNames) throws(MeterrError) -> Usage? {
        parser.skipWhitespace()
        guard parser.peek() == UInt8(ascii: "{") else {
            // Not an object: no counts (zero), or none at all for null.
            return try parser.readValue(depth: 1).isNull ? nil : Usage()
        }
        var usage = Usage()
        try parser.forEachMemberKey("usage") { (parser, key) throws(MeterrError) in
            if key.matches(names.input) {
                usage.inputTokens = try parser.readValue(depth: 2).int ?? 0
            } else if key.matches(names.output) {
                usage.outputTokens = try parser.readValue(depth: 2).int ?? 0
            } else if key.matches(names.inputDetails) {
                usage.cacheReadTokens = try count(names.cached, in: &parser)
            } else if key.matches(names.outputDetails) {
                usage.reasoningTokens = try count(names.reasoning, in: &parser)
            } else {
                try parser.skipValue()
            }
        }
        return usage
    }

    /// The count `name` of a details object (zero when absent, or when the value is no object).
    private static func count(_ name: String, in parser: inout JSONParser) throws(MeterrError) -> Int {
        parser.skipWhitespace()
        guard parser.peek() == UInt8(ascii: "{") else {
            try parser.skipValue()
            return 0
        }
        var count = 0
        try parser.forEachMemberKey("usage") { (parser, key) throws(MeterrError) in
            if key.matches(name) {
                count = try parser.readValue(depth: 3).int ?? 0
            } else {
                try parser.skipValue()
            }
        }
        return count
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
