/// Writes JSON with keys in the order they are given: the stable, readable form of meterr's output
/// (exports, API responses), and much faster than a general encoder.
public struct JSONWriter: Sendable {
    /// The JSON text written so far.
    public private(set) var bytes: [UInt8] = []
    private var needsComma = false

    /// Creates an empty writer.
    public init(capacity: Int = 512) { bytes.reserveCapacity(capacity) }

    /// Starts an object (as a value, or under `key` inside an object).
    public mutating func beginObject(_ key: String? = nil) {
        prefix(key)
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    /// Ends the current object.
    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    /// Starts an array (as a value, or under `key` inside an object).
    public mutating func beginArray(_ key: String? = nil) {
        prefix(key)
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    /// Ends the current array.
    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// A string, or `null`.
    public mutating func string(_ key: String?, _ value: String?) {
        prefix(key)
        if let value { Self.appendQuoted(value, to: &bytes) } else { appendNull() }
        needsComma = true
    }

    /// An integer, or `null`.
    public mutating func int(_ key: String?, _ value: (some BinaryInteger)?) {
        prefix(key)
        if let value { bytes.append(contentsOf: String(value).utf8) } else { appendNull() }
        needsComma = true
    }

    /// A time as its RFC 3339 string, or `null`.
    public mutating func time(_ key: String?, _ value: Timestamp?) {
        quoted(key, value) { $0.appendRFC3339(to: &$1) }
    }

    /// An amount as its decimal string, or `null`.
    public mutating func money(_ key: String?, _ value: Money?) {
        quoted(key, value) { $0.appendDecimal(to: &$1) }
    }

    /// A value written as a string by `write` (which needs no escaping), or `null`.
    private mutating func quoted<Value>(_ key: String?, _ value: Value?, _ write: (Value, inout [UInt8]) -> Void) {
        prefix(key)
        if let value {
            bytes.append(UInt8(ascii: "\""))
            write(value, &bytes)
            bytes.append(UInt8(ascii: "\""))
        } else {
            appendNull()
        }
        needsComma = true
    }

    /// `true` or `false`.
    public mutating func bool(_ key: String?, _ value: Bool) {
        prefix(key)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
        needsComma = true
    }

    /// A JSON value written elsewhere, inserted as it is.
    public mutating func raw(_ key: String?, _ json: some Sequence<UInt8>) {
        prefix(key)
        bytes.append(contentsOf: json)
        needsComma = true
    }

    /// An object of strings with keys in sorted order.
    public mutating func stringMap(_ key: String?, _ map: [String: String]) {
        beginObject(key)
        for name in map.keys.sorted() { string(name, map[name]) }
        endObject()
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private mutating func appendNull() { bytes.append(contentsOf: "null".utf8) }

    private mutating func prefix(_ key: String?) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        if let key {
            Self.appendQuoted(key, to: &bytes)
            bytes.append(UInt8(ascii: ":"))
        }
    }

    /// Appends a JSON string literal: quotes, backslashes and control characters escaped. The runs
    /// between them (all of a prompt, nearly) are copied whole.
    public static func appendQuoted(_ text: String, to bytes: inout [UInt8]) {
        var text = text
        text.withUTF8 { utf8 in
            bytes.append(UInt8(ascii: "\""))
            var start = 0
            while start < utf8.count {
                let end = utf8.endOfPlainJSONText(from: start)
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<end]))
                guard end < utf8.count else { break }
                appendEscaped(utf8[end], to: &bytes)
                start = end + 1
            }
            bytes.append(UInt8(ascii: "\""))
        }
    }

    /// A quote, a backslash or a control character, escaped.
    private static func appendEscaped(_ byte: UInt8, to bytes: inout [UInt8]) {
        let escaped: UInt8
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): escaped = byte
        case 0x0A: escaped = UInt8(ascii: "n")
        case 0x0D: escaped = UInt8(ascii: "r")
        case 0x09: escaped = UInt8(ascii: "t")
        default:
            bytes.append(contentsOf: "\\u00".utf8)
            bytes.append(hexDigits[Int(byte >> 4)])
            bytes.append(hexDigits[Int(byte & 15)])
            return
        }
        bytes.append(UInt8(ascii: "\\"))
        bytes.append(escaped)
    }
}

extension UsageEvent {
    /// Writes the event as one JSON object with the contract's keys in the contract's order.
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.string("id", id)
        json.time("ts", ts)
        json.string("org", org)
        json.string("team", team)
        json.string("user", user)
        json.string("project", project)
        json.string("key_id", keyId)
        json.stringMap("tags", tags)
        json.string("provider", provider.rawValue)
        json.string("model", model)
        json.string("model_requested", modelRequested)
        json.string("endpoint", endpoint)
        json.int("input_tokens", usage.inputTokens)
        json.int("cache_read_tokens", usage.cacheReadTokens)
        json.int("cache_write_tokens", usage.cacheWriteTokens)
        json.int("cache_write_1h_tokens", usage.cacheWrite1hTokens)
        json.int("output_tokens", usage.outputTokens)
        json.int("reasoning_tokens", usage.reasoningTokens)
        json.money("cost_usd", cost)
        json.string("price_id", priceId)
        json.string("usage_source", usageSource.rawValue)
        json.bool("stream", stream)
        json.int("status", status)
        json.int("latency_ms", latencyMs)
        json.int("ttft_ms", ttftMs)
        json.string("request_id", requestId)
        json.string("upstream_request_id", upstreamRequestId)
        json.string("route", route)
        json.bool("cache_hit", cacheHit)
        json.money("saved_usd", saved)
        json.endObject()
    }

    /// The event as one line of JSON (without the newline).
    public var jsonLine: [UInt8] {
        var json = JSONWriter()
        write(to: &json)
        return json.bytes
    }
}
