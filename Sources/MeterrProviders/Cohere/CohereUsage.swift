import MeterrCore

/// Cohere bills `billed_units`, not the larger raw `tokens` count (which includes its own preamble);
/// counts may come as floats (`21.0`).
enum CohereUsage {
    static func usage(billedUnits units: JSONValue) -> Usage {
        Usage(inputTokens: units["input_tokens"]?.int ?? 0, outputTokens: units["output_tokens"]?.int ?? 0)
    }

    /// The members a response's usage is read from; texts and embeddings are skipped unbuilt.
    static let responseMembers: Set<String> = ["id", "response_id", "usage", "meta", "message"]

    static func read(endpoint: ProviderEndpoint, body: [UInt8]) -> UsageReading {
        guard let root = JSONMemberScanner.topLevel(keys: responseMembers, in: body) else { return UsageReading() }
        var reading = UsageReading(
            responseId: root["id"]?.string ?? root["response_id"]?.string, finished: true)
        let units = root[path: "usage", "billed_units"] ?? root[path: "meta", "billed_units"]
        if let units, !units.isNull { reading.usage = usage(billedUnits: units) }
        if endpoint != .embed, reading.usage == nil, let message = root["message"]?.string {
            reading.error = message
        }
        return reading
    }
}

/// Cohere v2 chat streams: usage in `message-end` → `delta.usage.billed_units`; text in `content-delta`.
struct CohereV2Tap: StreamUsageTap {
    var reading = UsageReading()

    mutating func consume(_ event: StreamEvent) {
        guard let payload = JSONValue(parsing: event.data) else { return }
        switch payload["type"]?.string ?? event.name ?? "" {
        case "message-start":
            reading.responseId = payload["id"]?.string
        case "content-delta":
            reading.appendText(payload[path: "delta", "message", "content", "text"]?.string)
        case "message-end":
            if let units = payload[path: "delta", "usage", "billed_units"], !units.isNull {
                reading.usage = CohereUsage.usage(billedUnits: units)
            }
            if let error = payload[path: "delta", "error"]?.string, !error.isEmpty { reading.error = error }
            reading.finished = true
        default:
            break
        }
    }
}

/// Cohere v1 chat streams (NDJSON or SSE): usage in `stream-end` → `response.meta.billed_units`.
struct CohereV1Tap: StreamUsageTap {
    var reading = UsageReading()

    mutating func consume(_ event: StreamEvent) {
        guard let payload = JSONValue(parsing: event.data) else { return }
        switch payload["event_type"]?.string ?? event.name ?? "" {
        case "stream-start":
            reading.responseId = payload["generation_id"]?.string
        case "text-generation":
            reading.appendText(payload["text"]?.string)
        case "stream-end":
            if let units = payload[path: "response", "meta", "billed_units"], !units.isNull {
                reading.usage = CohereUsage.usage(billedUnits: units)
            }
            if payload["finish_reason"]?.string == "ERROR" { reading.error = "stream ended with an error" }
            reading.finished = true
        default:
            break
        }
    }
}
