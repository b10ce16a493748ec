import MeterrCore

/// Gemini `usageMetadata`: cached tokens are inside `promptTokenCount`; thinking tokens are NOT
/// inside `candidatesTokenCount` but billed as output; tool-use prompt tokens count as input.
enum GeminiUsage {
    static func usage(_ metadata: JSONValue) -> Usage {
        let thoughts = metadata["thoughtsTokenCount"]?.int ?? 0
        return Usage(
            inputTokens: (metadata["promptTokenCount"]?.int ?? 0) + (metadata["toolUsePromptTokenCount"]?.int ?? 0),
            cacheReadTokens: metadata["cachedContentTokenCount"]?.int ?? 0,
            outputTokens: (metadata["candidatesTokenCount"]?.int ?? 0) + thoughts, reasoningTokens: thoughts)
    }

    /// Whether a metadata object carries counts (Vertex sends some with only `trafficType`).
    static func hasCounts(_ metadata: JSONValue) -> Bool {
        metadata["promptTokenCount"] != nil || metadata["candidatesTokenCount"] != nil
            || metadata["totalTokenCount"] != nil
    }

    /// The members a response's usage is read from; the candidates are skipped unbuilt.
    static let responseMembers: Set<String> = ["responseId", "modelVersion", "usageMetadata", "error"]

    static func read(body: [UInt8]) -> UsageReading {
        // A JSON array is a stream's responses (read whole); an object is read for its usage only.
        let array = body.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 } == UInt8(ascii: "[")
        guard
            let root = array
                ? JSONValue(parsing: body) : JSONMemberScanner.topLevel(keys: responseMembers, in: body)
        else { return UsageReading() }
        // Without alt=sse a stream's body is one JSON array of responses: read it as a stream.
        if case .array(let chunks) = root {
            var tap = GeminiTap()
            for chunk in chunks { tap.consume(chunk) }
            var reading = tap.reading
            reading.finished = true
            return reading
        }
        var reading = UsageReading(responseId: root["responseId"]?.string, finished: true)
        reading.noteModel(root["modelVersion"])
        if let metadata = root["usageMetadata"], hasCounts(metadata) { reading.usage = usage(metadata) }
        if let error = root["error"], !error.isNull { reading.error = error["message"]?.string ?? "error" }
        return reading
    }
}

/// Gemini streams: every chunk may repeat `usageMetadata` with RUNNING totals: the last one wins,
/// and a chunk without counts changes nothing. The stream simply ends (no end marker).
struct GeminiTap: StreamUsageTap {
    var reading = UsageReading()
    /// The latest value of each usage field: Google's JSON leaves unset fields out, so a chunk that omits
    /// one (cached or thought tokens) keeps its earlier running total instead of zeroing it.
    private var metadata: [String: JSONValue] = [:]

    mutating func consume(_ event: StreamEvent) {
        guard let chunk = JSONValue(parsing: event.data) else { return }
        consume(chunk)
    }

    mutating func consume(_ chunk: JSONValue) {
        reading.noteModel(chunk["modelVersion"])
        if reading.responseId == nil { reading.responseId = chunk["responseId"]?.string }
        if case .object(let fields)? = chunk["usageMetadata"] {
            metadata.merge(fields.filter { !$0.value.isNull }) { _, latest in latest }
            let merged = JSONValue.object(metadata)
            if GeminiUsage.hasCounts(merged) { reading.usage = GeminiUsage.usage(merged) }
        }
        for candidate in chunk["candidates"]?.array ?? [] {
            for part in candidate[path: "content", "parts"]?.array ?? [] where part["thought"] != .bool(true) {
                reading.appendText(part["text"]?.string)
            }
            if candidate["finishReason"]?.string != nil { reading.finished = true }
        }
        if let error = chunk["error"], !error.isNull { reading.error = error["message"]?.string ?? "error" }
    }
}
