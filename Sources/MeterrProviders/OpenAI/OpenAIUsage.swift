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
        let counts = endpoint == .responses ? responsesCounts : chatCounts
        return body.withUnsafeBufferPointer { bytes in
            var parser = JSONParser(bytes)
            var (id, model, error): (JSONValue?, JSONValue?, JSONValue?)
            var usage: Usage?
            do {
                try parser.forEachMember(named: answerMembers, "body") {
                    (parser, place) throws(MeterrError) in
                    switch place {
                    case 0: usage = try readUsage(&parser, counts)
                    case 1: id = try parser.readValue(depth: 1)
                    case 2: model = try parser.readValue(depth: 1)
                    default: error = try parser.readValue(depth: 1)
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

    /// The members of an answer read, in the order `read` takes them.
    static let answerMembers = ["usage", "id", "model", "error"]
    /// The members of a usage object read: input and output tokens, then their details (whose
    /// `cached_tokens` and `reasoning_tokens` are read), for Chat Completions and the Responses API.
    static let chatCounts = [
        "prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details",
    ]
    static let responsesCounts = ["input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details"]
    static let cachedTokens = ["cached_tokens"]
    static let reasoningTokens = ["reasoning_tokens"]

    /// The counts of a `usage` member (`nil` for `null`), as `chat`/`responses` read them.
    static func readUsage(_ parser: inout JSONParser, _ counts: [String]) throws(MeterrError) -> Usage? {
        parser.skipWhitespace()
        guard parser.peek() == UInt8(ascii: "{") else {
            // Not an object: no counts (zero), or none at all for null.
            return try parser.readValue(depth: 1).isNull ? nil : Usage()
        }
        var usage = Usage()
        try parser.forEachMember(named: counts, "usage") { (parser, place) throws(MeterrError) in
            switch place {
            case 0: usage.inputTokens = try parser.readValue(depth: 2).int ?? 0
            case 1: usage.outputTokens = try parser.readValue(depth: 2).int ?? 0
            case 2: usage.cacheReadTokens = try count(cachedTokens, in: &parser)
            default: usage.reasoningTokens = try count(reasoningTokens, in: &parser)
            }
        }
        return usage
    }

    /// The count named (`[name]`) in a details object (zero when absent, or when the value is no object).
    private static func count(_ name: [String], in parser: inout JSONParser) throws(MeterrError) -> Int {
        parser.skipWhitespace()
        guard parser.peek() == UInt8(ascii: "{") else {
            try parser.skipValue()
            return 0
        }
        var count = 0
        try parser.forEachMember(named: name, "usage") { (parser, _) throws(MeterrError) in
            count = try parser.readValue(depth: 3).int ?? 0
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
        guard let chunk = Chunk(event.data) else { return }
        reading.noteModel(chunk.model)
        if reading.responseId == nil, let id = chunk.id?.string, !id.isEmpty { reading.responseId = id }
        if let usage = chunk.usage { reading.usage = usage }
        if let error = chunk.error, !error.isNull { reading.error = error["message"]?.string ?? "error" }
        for text in chunk.texts { reading.appendText(text) }
        // Mistral sends usage on the chunk with finish_reason and no [DONE] may follow on some paths.
        if chunk.finishes && chunk.usage != nil { reading.finished = true }
    }

    /// What a chunk says, read as its bytes are walked: the choices' text and finish reasons, `id`,
    /// `model`, `error` and the counts of `usage`; the rest is skipped unbuilt. It reads what the parsed
    /// chunk says (a repeated member's last value included); a chunk that is not JSON says nothing.
    struct Chunk {
        var id: JSONValue?
        var model: JSONValue?
        var error: JSONValue?
        /// `nil` when absent or `null`.
        var usage: Usage?
        /// Each choice's `delta.content`, else its `text`.
        var texts: [String?] = []
        /// Whether a choice has a non-empty `finish_reason`.
        var finishes = false

        static let members = ["choices", "usage", "id", "model", "error"]
        static let choiceMembers = ["delta", "text", "finish_reason"]
        static let deltaMembers = ["content"]

        private init() {}

        init?(_ data: [UInt8]) {
            let read = data.withUnsafeBufferPointer { bytes -> Chunk? in
                var parser = JSONParser(bytes)
                var chunk = Chunk()
                do {
                    parser.skipWhitespace()
                    if parser.peek() == UInt8(ascii: "{") {
                        try parser.forEachMember(named: Self.members, "chunk") { (parser, place) throws(MeterrError) in
                            switch place {
                            case 0: try chunk.readChoices(&parser)
                            case 1: chunk.usage = try OpenAIUsage.readUsage(&parser, OpenAIUsage.chatCounts)
                            case 2: chunk.id = try parser.readValue(depth: 1)
                            case 3: chunk.model = try parser.readValue(depth: 1)
                            default: chunk.error = try parser.readValue(depth: 1)
                            }
                        }
                    } else {
                        try parser.skipValue()
                        chunk = Chunk()
                    }
                    parser.skipWhitespace()
                } catch {
                    return nil
                }
                return parser.atEnd ? chunk : nil
            }
            guard let read else { return nil }
            self = read
        }

        /// `choices`: each element's text and finish reason (none when it is not an array).
        private mutating func readChoices(_ parser: inout JSONParser) throws(MeterrError) {
            texts = []
            finishes = false
            parser.skipWhitespace()
            guard parser.peek() == UInt8(ascii: "[") else { return try parser.skipValue() }
            try parser.forEachElement("choices") { (parser, _) throws(MeterrError) in
                parser.skipWhitespace()
                guard parser.peek() == UInt8(ascii: "{") else { return try parser.skipValue(depth: 2) }
                var (content, text, finish): (String?, String?, String?)
                try parser.forEachMember(named: Self.choiceMembers, "choices") { (parser, place) throws(MeterrError) in
                    switch place {
                    case 0:
                        content = nil
                        parser.skipWhitespace()
                        guard parser.peek() == UInt8(ascii: "{") else { return try parser.skipValue(depth: 3) }
                        try parser.forEachMember(named: Self.deltaMembers, "delta") { (parser, _) throws(MeterrError) in
                            content = try parser.readValue(depth: 4).string
                        }
                    case 1: text = try parser.readValue(depth: 3).string
                    default: finish = try parser.readValue(depth: 3).string
                    }
                }
                texts.append(content ?? text)
                if let finish, !finish.isEmpty { finishes = true }
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
