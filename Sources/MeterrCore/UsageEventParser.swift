/// Reads usage events from JSON bytes, fast and strictly, naming the field at fault in every error.
///
/// The ingest path parses tens of thousands of events a second; a general decoder spends most of
/// that time on its own machinery, this one reads the bytes once. Unknown keys are skipped, so newer
/// clients can send fields this version does not know.
public enum UsageEventParser {
    /// The shape a batch arrived in, which decides how fields are named in errors.
    public enum Shape: Sendable {
        /// One event object: fields are named plainly (`input_tokens`).
        case single
        /// A JSON array: `[3].input_tokens`.
        case array
        /// `{"events": [...]}`: `events[3].input_tokens`.
        case wrapped

        /// The path prefix of event `index`'s fields.
        public func prefix(_ index: Int) -> String {
            switch self {
            case .single: ""
            case .array: "[\(index)]."
            case .wrapped: "events[\(index)]."
            }
        }
    }

    /// Parses one event, an array of events, or `{"events": [...]}`; an event without `ts` happened at `receivedAt`.
    public static func parseBatch(_ bytes: [UInt8], receivedAt: Timestamp) throws(MeterrError) -> (
        events: [UsageEvent], shape: Shape
    ) {
        var result: (events: [UsageEvent], shape: Shape) = ([], .single)
        try bytes.withUnsafeBufferPointer { (buffer) throws(MeterrError) in
            var parser = JSONParser(buffer, strictUTF8: true)
            parser.skipWhitespace()
            switch parser.peek() {
            case UInt8(ascii: "["):
                result = (try parser.parseEventArray(prefix: "", receivedAt: receivedAt), .array)
            case UInt8(ascii: "{"):
                // Either an event or a wrapper: look for an "events" key at the top level.
                let start = parser.index
                if let events = try parser.parseWrapper(receivedAt: receivedAt) {
                    result = (events, .wrapped)
                } else {
                    parser.index = start
                    result = ([try parser.parseEvent(prefix: "", receivedAt: receivedAt)], .single)
                }
            default:
                throw MeterrError.invalid("body", "expected a usage event, an array of events or {\"events\": [...]}")
            }
            parser.skipWhitespace()
            guard parser.atEnd else { throw MeterrError.invalid("body", "is not valid JSON (text after the end)") }
        }
        return result
    }

    /// Parses exactly one event object (one JSONL line); without `ts` it happened at `receivedAt`.
    public static func parseEvent(_ bytes: some Collection<UInt8>, receivedAt: Timestamp) throws(MeterrError)
        -> UsageEvent
    {
        let array = Array(bytes)
        var event: UsageEvent?
        try array.withUnsafeBufferPointer { (buffer) throws(MeterrError) in
            var parser = JSONParser(buffer, strictUTF8: true)
            parser.skipWhitespace()
            event = try parser.parseEvent(prefix: "", receivedAt: receivedAt)
            parser.skipWhitespace()
            guard parser.atEnd else { throw MeterrError.invalid("body", "is not valid JSON (text after the end)") }
        }
        return event!
    }
}

/// A strict JSON reader over bytes, with the typed reads usage events need.
package struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    package var index = 0
    /// Strings must be valid UTF-8 (usage events: what is stored is what was sent); otherwise invalid
    /// sequences read as U+FFFD, so a provider's odd byte never costs a call its usage.
    let strictUTF8: Bool

    package init(_ bytes: UnsafeBufferPointer<UInt8>, strictUTF8: Bool = false) {
        self.bytes = bytes
        self.strictUTF8 = strictUTF8
    }

    package var atEnd: Bool { index >= bytes.count }

    package func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    package mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    package func malformed(_ what: String = "is not valid JSON") -> MeterrError {
        MeterrError.invalid("body", "\(what) (at byte \(index))")
    }

    mutating func expect(_ byte: UInt8) throws(MeterrError) {
        skipWhitespace()
        guard peek() == byte else { throw malformed() }
        index += 1
    }

    /// Consumes `literal` if it comes next.
    mutating func consume(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let start = literal.utf8Start
        for offset in 0..<count where bytes[index + offset] != start[offset] { return false }
        index += count
        return true
    }

    /// Whether a `null` comes next (and consumes it).
    package mutating func consumeNull() -> Bool {
        skipWhitespace()
        return consume("null")
    }

    /// Walks the members of an object, calling `body` with each key; `body` must read the value.
    package mutating func forEachMember(_ field: String, _ body: (inout JSONParser, String) throws(MeterrError) -> Void)
        throws(MeterrError)
    {
        try forEachMemberKey(field) { (parser, key) throws(MeterrError) in
            try body(&parser, try parser.text(of: key, field))
        }
    }

    /// A member's key as read: its bytes between the quotes when it has no escape (no `String` is
    /// built for a key that is only compared or skipped), else its decoded text.
    package enum Key {
        case raw(UnsafeBufferPointer<UInt8>)
        case decoded(String)

        /// Whether the key is `name`.
        package func matches(_ name: String) -> Bool {
            switch self {
            case .raw(let bytes): bytes.count == name.utf8.count && bytes.elementsEqual(name.utf8)
            case .decoded(let text): text == name
            }
        }
    }

    /// Walks the members of an object like `forEachMember`, with each key as read (`Key`).
    package mutating func forEachMemberKey(_ field: String, _ body: (inout JSONParser, Key) throws(MeterrError) -> Void)
        throws(MeterrError)
    {
        skipWhitespace()
        guard peek() == UInt8(ascii: "{") else {
            throw MeterrError.invalid(field, consumeNull() ? "must be an object, not null" : "must be an object")
        }
        index += 1
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else { throw malformed() }
            let key = try readKey(field)
            try expect(UInt8(ascii: ":"))
            try body(&self, key)
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"):
                index += 1
                return
            default: throw malformed()
            }
        }
    }

    /// Walks the members of an object like `forEachMemberKey`, handing `body` the place in `names` of
    /// each member named there (`body` must read its value); the others are skipped unbuilt.
    package mutating func forEachMember(
        named names: [String], _ field: String, _ body: (inout JSONParser, Int) throws(MeterrError) -> Void
    ) throws(MeterrError) {
        try forEachMemberKey(field) { (parser, key) throws(MeterrError) in
            if let place = names.firstIndex(where: key.matches) {
                try body(&parser, place)
            } else {
                try parser.skipValue()
            }
        }
    }

    /// Reads a member's key at the current position (an opening quote).
    private mutating func readKey(_ field: String) throws(MeterrError) -> Key {
        let quote = index
        index = bytes.endOfPlainJSONText(from: index + 1)
        if index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""):
                index += 1
                return .raw(UnsafeBufferPointer(rebasing: bytes[(quote + 1)..<(index - 1)]))
            case UInt8(ascii: "\\"): break
            default: throw malformed("has a control character inside a string")
            }
        }
        index = quote
        return .decoded(try readString(field))
    }

    /// A key's text, checked as UTF-8 when the parser is strict.
    package func text(of key: Key, _ field: String) throws(MeterrError) -> String {
        switch key {
        case .raw(let bytes): try string(bytes, field)
        case .decoded(let text): text
        }
    }

    /// Walks the elements of an array.
    package mutating func forEachElement(_ field: String, _ body: (inout JSONParser, Int) throws(MeterrError) -> Void)
        throws(MeterrError)
    {
        skipWhitespace()
        guard peek() == UInt8(ascii: "[") else { throw MeterrError.invalid(field, "must be an array") }
        index += 1
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            index += 1
            return
        }
        var position = 0
        while true {
            try body(&self, position)
            position += 1
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"):
                index += 1
                return
            default: throw malformed()
            }
        }
    }

    /// The text of a string's bytes, checked as UTF-8 when the parser is strict.
    private func string(_ bytes: UnsafeBufferPointer<UInt8>, _ field: String) throws(MeterrError) -> String {
        guard strictUTF8 else { return String(decoding: bytes, as: UTF8.self) }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw MeterrError.invalid(field, "is not valid UTF-8")
        }
        return text
    }

    /// Reads a string value at the current position.
    package mutating func readString(_ field: String) throws(MeterrError) -> String {
        skipWhitespace()
        guard peek() == UInt8(ascii: "\"") else {
            throw MeterrError.invalid(field, consumeNull() ? "must be a string, not null" : "must be a string")
        }
        index += 1
        let start = index
        // Fast path: no escapes.
        index = bytes.endOfPlainJSONText(from: index)
        if index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""):
                let text = try string(UnsafeBufferPointer(rebasing: bytes[start..<index]), field)
                index += 1
                return text
            case UInt8(ascii: "\\"): break
            default: throw malformed("has a control character inside a string")
            }
        }
        var scalars = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return try scalars.withUnsafeBufferPointer { (buffer) throws(MeterrError) in try string(buffer, field) }
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { throw malformed() }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(escape)
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0C)
                case UInt8(ascii: "n"): scalars.append(0x0A)
                case UInt8(ascii: "r"): scalars.append(0x0D)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"):
                    var value = try readHex4()
                    if (0xD800..<0xDC00).contains(value), consume("\\u") {
                        let low = try readHex4()
                        if (0xDC00..<0xE000).contains(low) {
                            value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
                        }
                    }
                    let scalar = Unicode.Scalar(value) ?? "\u{FFFD}"
                    scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: throw malformed("has an invalid escape")
                }
            case 0..<0x20:
                throw malformed("has a control character inside a string")
            default:
                scalars.append(byte)
            }
        }
        throw malformed("has an unterminated string")
    }

    mutating func readHex4() throws(MeterrError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw malformed() }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw malformed("has an invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    /// The text of a JSON number at the current position, checked for JSON's number grammar.
    package mutating func readNumberText() -> Substring? {
        skipWhitespace()
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        let digitsStart = index
        while let byte = peek(), byte >= 48, byte <= 57 { index += 1 }
        guard index > digitsStart else {
            index = start
            return nil
        }
        if peek() == UInt8(ascii: ".") {
            index += 1
            let fractionStart = index
            while let byte = peek(), byte >= 48, byte <= 57 { index += 1 }
            guard index > fractionStart else { return nil }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            let exponentStart = index
            while let byte = peek(), byte >= 48, byte <= 57 { index += 1 }
            guard index > exponentStart else { return nil }
        }
        return Substring(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
    }

    /// Reads a whole number that fits an `Int`.
    mutating func readInteger(_ field: String) throws(MeterrError) -> Int {
        skipWhitespace()
        if consumeNull() { throw MeterrError.invalid(field, "must be an integer, not null") }
        if peek() == UInt8(ascii: "\"") { throw MeterrError.invalid(field, "must be an integer, not a string") }
        guard let text = readNumberText() else { throw MeterrError.invalid(field, "must be an integer") }
        guard let value = Int(text) else {
            throw MeterrError.invalid(field, "must be a whole number in range (got \(text))")
        }
        return value
    }

    mutating func readOptionalInteger(_ field: String) throws(MeterrError) -> Int? {
        if consumeNull() { return nil }
        return try readInteger(field)
    }

    mutating func readOptionalString(_ field: String) throws(MeterrError) -> String? {
        if consumeNull() { return nil }
        return try readString(field)
    }

    package mutating func readBool(_ field: String) throws(MeterrError) -> Bool {
        skipWhitespace()
        if consume("true") { return true }
        if consume("false") { return false }
        throw MeterrError.invalid(field, "must be true or false")
    }

    /// Skips any JSON value, checking its grammar.
    package mutating func skipValue(depth: Int = 0) throws(MeterrError) {
        guard depth < 64 else { throw malformed("is nested too deeply") }
        skipWhitespace()
        switch peek() {
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "{"):
            try forEachMemberKey("body") { (parser, _) throws(MeterrError) in try parser.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["):
            try forEachElement("body") { (parser, _) throws(MeterrError) in try parser.skipValue(depth: depth + 1) }
        case UInt8(ascii: "t"), UInt8(ascii: "f"): _ = try readBool("body")
        case UInt8(ascii: "n"):
            guard consumeNull() else { throw malformed() }
        default:
            guard readNumberText() != nil else { throw malformed() }
        }
    }

    /// Skips a string without building it.
    mutating func skipString() throws(MeterrError) {
        index += 1
        while true {
            index = bytes.endOfPlainJSONText(from: index)
            guard index < bytes.count else { throw malformed("has an unterminated string") }
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\"") { return }
            if byte == UInt8(ascii: "\\") {
                index += 1
            } else {
                throw malformed("has a control character inside a string")
            }
        }
    }

    /// `{"events": [...]}` → the events; `nil` (position unspecified) if the object has no `events` key.
    mutating func parseWrapper(receivedAt: Timestamp) throws(MeterrError) -> [UsageEvent]? {
        var events: [UsageEvent]?
        var reachedEvents = false
        do {
            try forEachMember("body") { (parser, key) throws(MeterrError) in
                if key == "events" {
                    reachedEvents = true
                    events = try parser.parseEventArray(prefix: "events", receivedAt: receivedAt)
                } else {
                    try parser.skipValue()
                }
            }
        } catch {
            // A malformed object without an events key is read again as an event, for a precise error.
            if !reachedEvents { return nil }
            throw error
        }
        return events
    }

    mutating func parseEventArray(prefix: String, receivedAt: Timestamp) throws(MeterrError) -> [UsageEvent] {
        var events: [UsageEvent] = []
        try forEachElement(prefix.isEmpty ? "body" : prefix) { (parser, position) throws(MeterrError) in
            events.append(try parser.parseEvent(prefix: "\(prefix)[\(position)].", receivedAt: receivedAt))
        }
        return events
    }

    /// Reads one usage event object; errors name fields as `prefix + key`.
    mutating func parseEvent(prefix: String, receivedAt: Timestamp) throws(MeterrError) -> UsageEvent {
        var id: String?
        var ts: Timestamp?
        var org = ""
        var team: String?
        var user: String?
        var project: String?
        var keyId: String?
        var tags: [String: String] = [:]
        var provider: Provider?
        var model: String?
        var modelRequested: String?
        var endpoint: String?
        var input: Int?
        var output: Int?
        var usage = Usage()
        var cost: Money?
        var priceId: String?
        var source = UsageSource.reported
        var stream = false
        var status: Int?
        var latency: Int?
        var ttft: Int?
        var requestId: String?
        var upstreamRequestId: String?
        var route: String?
        var cacheHit = false
        var saved: Money?
        let objectField = prefix.isEmpty ? "body" : String(prefix.dropLast())
        try forEachMember(objectField) { (parser, key) throws(MeterrError) in
            let field = prefix + key
            switch key {
            case "id": id = try parser.readOptionalString(field)
            case "ts":
                if parser.consumeNull() { break }
                let text = try parser.readString(field)
                guard let value = Timestamp(rfc3339: text) else {
                    throw MeterrError.invalid(field, "must be an RFC 3339 time such as 2026-11-29T10:45:58.123Z")
                }
                ts = value
            case "org": org = try parser.readOptionalString(field) ?? ""
            case "team": team = try parser.readOptionalString(field)
            case "user": user = try parser.readOptionalString(field)
            case "project": project = try parser.readOptionalString(field)
            case "key_id": keyId = try parser.readOptionalString(field)
            case "tags":
                if parser.consumeNull() { break }
                try parser.forEachMember(field) { (parser, name) throws(MeterrError) in
                    tags[name] = try parser.readString(field + "." + name)
                }
            case "provider":
                let name = try parser.readString(field)
                guard let value = Provider(rawValue: name) else {
                    let known = Provider.allCases.map(\.rawValue).joined(separator: ", ")
                    throw MeterrError.invalid(field, "unknown provider \"\(name)\" (expected one of \(known))")
                }
                provider = value
            case "model": model = try parser.readString(field)
            case "model_requested": modelRequested = try parser.readOptionalString(field)
            case "endpoint": endpoint = try parser.readOptionalString(field)
            case "input_tokens": input = try parser.readInteger(field)
            case "output_tokens": output = try parser.readInteger(field)
            case "cache_read_tokens": usage.cacheReadTokens = try parser.readOptionalInteger(field) ?? 0
            case "cache_write_tokens": usage.cacheWriteTokens = try parser.readOptionalInteger(field) ?? 0
            case "cache_write_1h_tokens": usage.cacheWrite1hTokens = try parser.readOptionalInteger(field) ?? 0
            case "reasoning_tokens": usage.reasoningTokens = try parser.readOptionalInteger(field) ?? 0
            case "cost_usd": cost = try Self.readMoney(&parser, field)
            case "saved_usd": saved = try Self.readMoney(&parser, field)
            case "cache_hit": cacheHit = parser.consumeNull() ? false : try parser.readBool(field)
            case "price_id": priceId = try parser.readOptionalString(field)
            case "usage_source":
                if parser.consumeNull() { break }
                let name = try parser.readString(field)
                guard let value = UsageSource(rawValue: name) else {
                    throw MeterrError.invalid(field, "must be reported or estimated")
                }
                source = value
            case "stream": stream = parser.consumeNull() ? false : try parser.readBool(field)
            case "status": status = try parser.readOptionalInteger(field)
            case "latency_ms": latency = try parser.readOptionalInteger(field)
            case "ttft_ms": ttft = try parser.readOptionalInteger(field)
            case "request_id": requestId = try parser.readOptionalString(field)
            case "upstream_request_id": upstreamRequestId = try parser.readOptionalString(field)
            case "route": route = try parser.readOptionalString(field)
            default: try parser.skipValue()
            }
        }
        guard let provider else { throw MeterrError.invalid(prefix + "provider", "is required") }
        guard let model else { throw MeterrError.invalid(prefix + "model", "is required") }
        guard let input else { throw MeterrError.invalid(prefix + "input_tokens", "is required") }
        guard let output else { throw MeterrError.invalid(prefix + "output_tokens", "is required") }
        usage.inputTokens = input
        usage.outputTokens = output
        return UsageEvent(
            id: id ?? Identifier.ordered("evt", length: 22, now: receivedAt), ts: ts ?? receivedAt, org: org,
            team: team,
            user: user,
            project: project, keyId: keyId, tags: tags, provider: provider, model: model,
            modelRequested: modelRequested, endpoint: endpoint, usage: usage, cost: cost, priceId: priceId,
            usageSource: source, stream: stream, status: status, latencyMs: latency, ttftMs: ttft,
            requestId: requestId, upstreamRequestId: upstreamRequestId, route: route, cacheHit: cacheHit, saved: saved)
    }

    /// A decimal string (or number) of US dollars, or `null`.
    private static func readMoney(_ parser: inout Self, _ field: String) throws(MeterrError) -> Money? {
        if parser.consumeNull() { return nil }
        let text: Substring
        if parser.peek() == UInt8(ascii: "\"") {
            text = Substring(try parser.readString(field))
        } else if let number = parser.readNumberText() {
            text = number
        } else {
            throw MeterrError.invalid(field, "must be a decimal string such as \"0.000125\"")
        }
        guard let value = Money(decimalString: text) else {
            throw MeterrError.invalid(field, "must be a decimal string such as \"0.000125\"")
        }
        return value
    }
}
