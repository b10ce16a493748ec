import MeterrCore

/// Anthropic Messages usage: `input_tokens` EXCLUDES cache reads and writes, so the normalised
/// input is their sum; cache writes split into 5-minute and 1-hour parts.
enum AnthropicUsage {
    /// Normalises a usage object, starting from `base` for fields it lacks (stream overlays): a field
    /// left out keeps its earlier count, so a later partial update never erases what an earlier one said.
    static func usage(_ usage: JSONValue, over base: Usage? = nil) -> Usage {
        let previous = base.map(Parts.init) ?? Parts()
        let uncached = usage["input_tokens"]?.int ?? previous.uncached
        let cacheRead = usage["cache_read_input_tokens"]?.int ?? previous.cacheRead
        var write5m = previous.write5m
        var write1h = previous.write1h
        if let breakdown = usage["cache_creation"], case .object = breakdown {
            write5m = breakdown["ephemeral_5m_input_tokens"]?.int ?? previous.write5m
            write1h = breakdown["ephemeral_1h_input_tokens"]?.int ?? previous.write1h
        } else if let total = usage["cache_creation_input_tokens"]?.int {
            (write5m, write1h) = split(cacheWrites: total, known: previous)
        }
        let output = usage["output_tokens"]?.int ?? base?.outputTokens ?? 0
        let thinking = usage[path: "output_tokens_details", "thinking_tokens"]?.int ?? base?.reasoningTokens ?? 0
        return Usage(
            inputTokens: uncached + cacheRead + write5m + write1h, cacheReadTokens: cacheRead,
            cacheWriteTokens: write5m, cacheWrite1hTokens: write1h, outputTokens: output,
            reasoningTokens: min(thinking, output))
    }

    /// A cache-write total without a breakdown keeps the known 1h writes where they fit; the rest are 5m.
    static func split(cacheWrites total: Int, known: Parts) -> (write5m: Int, write1h: Int) {
        let write1h = min(known.write1h, total)
        return (total - write1h, write1h)
    }

    /// A normalised usage taken apart again, to overlay a partial update on it.
    struct Parts {
        var uncached = 0
        var cacheRead = 0
        var write5m = 0
        var write1h = 0

        init() {}

        init(_ usage: Usage) {
            uncached = usage.uncachedInputTokens
            cacheRead = usage.cacheReadTokens
            write5m = usage.cacheWriteTokens
            write1h = usage.cacheWrite1hTokens
        }
    }

    /// The members a response's usage is read from; the content is skipped unbuilt.
    static let responseMembers: Set<String> = ["id", "model", "usage", "type", "error"]

    static func read(body: [UInt8]) -> UsageReading {
        guard let root = JSONMemberScanner.topLevel(keys: responseMembers, in: body) else { return UsageReading() }
        var reading = UsageReading(responseId: root["id"]?.string, finished: true)
        reading.noteModel(root["model"])
        if let usage = root["usage"], !usage.isNull { reading.usage = AnthropicUsage.usage(usage) }
        if root["type"]?.string == "error" { reading.error = root[path: "error", "message"]?.string ?? "error" }
        return reading
    }
}

/// Anthropic streams: `message_start` carries the input side; each `message_delta` carries
/// CUMULATIVE counts that replace (never add to) what came before, and keeps what it leaves out.
struct AnthropicTap: StreamUsageTap {
    var reading = UsageReading()

    mutating func consume(_ event: StreamEvent) {
        guard let payload = JSONValue(parsing: event.data) else { return }
        switch payload["type"]?.string ?? event.name ?? "" {
        case "message_start":
            let message = payload["message"] ?? .null
            reading.noteModel(message["model"])
            reading.responseId = message["id"]?.string
            if let usage = message["usage"], !usage.isNull { reading.usage = AnthropicUsage.usage(usage) }
        case "message_delta":
            if let usage = payload["usage"], !usage.isNull {
                reading.usage = AnthropicUsage.usage(usage, over: reading.usage)
            }
        case "content_block_delta":
            let delta = payload["delta"] ?? .null
            reading.appendText(delta["text"]?.string ?? delta["thinking"]?.string ?? delta["partial_json"]?.string)
        case "message_stop":
            reading.finished = true
        case "error":
            reading.error = payload[path: "error", "message"]?.string ?? "error"
        default:
            break
        }
    }
}
