import Foundation

/// The CSV form of usage events: the JSONL keys as columns, tags as a JSON object.
public enum UsageEventCSV {
    /// The columns: the JSONL keys.
    public static let columns = [
        "id", "ts", "org", "team", "user", "project", "key_id", "tags", "provider", "model", "model_requested",
        "endpoint", "input_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens",
        "output_tokens", "reasoning_tokens", "cost_usd", "price_id", "usage_source", "stream", "status",
        "latency_ms", "ttft_ms", "request_id", "upstream_request_id", "route",
        "cache_hit", "saved_usd",
    ]
    /// The header line.
    public static let header = columns.joined(separator: ",")

    /// One event's line.
    public static func row(_ event: UsageEvent) -> String {
        let usage = event.usage
        var tagWriter = JSONWriter(capacity: 64)
        tagWriter.stringMap(nil, event.tags)
        let tags = event.tags.isEmpty ? "" : String(decoding: tagWriter.bytes, as: UTF8.self)
        let fields: [String?] = [
            event.id, event.ts.rfc3339, event.org, event.team, event.user, event.project, event.keyId, tags,
            event.provider.rawValue, event.model, event.modelRequested, event.endpoint, "\(usage.inputTokens)",
            "\(usage.cacheReadTokens)", "\(usage.cacheWriteTokens)", "\(usage.cacheWrite1hTokens)",
            "\(usage.outputTokens)", "\(usage.reasoningTokens)", event.cost?.decimalString, event.priceId,
            event.usageSource.rawValue, event.stream ? "true" : "false", event.status.map { "\($0)" },
            event.latencyMs.map { "\($0)" }, event.ttftMs.map { "\($0)" }, event.requestId, event.upstreamRequestId,
            event.route, event.cacheHit ? "true" : "false", event.saved?.decimalString,
        ]
        return fields.map { quote($0 ?? "") }.joined(separator: ",")
    }

    /// RFC 4180 quoting, and a leading quote mark against spreadsheet formula injection.
    public static func quote(_ field: String) -> String {
        var field = field
        if let first = field.unicodeScalars.first, "=+-@".unicodeScalars.contains(first),
            Int(field) == nil
        {
            field = "'" + field
        }
        if field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return field
    }
}
