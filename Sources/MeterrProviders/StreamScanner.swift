import MeterrCore

/// One event of a streamed response: an SSE event, an NDJSON line or an element of a streamed JSON array.
public struct StreamEvent: Sendable, Hashable {
    /// The SSE `event:` name, when the stream names its events.
    public var name: String?
    /// The payload (usually one JSON object).
    public var data: [UInt8]

    /// Creates an event.
    public init(name: String? = nil, data: [UInt8]) {
        self.name = name
        self.data = data
    }

    /// Whether the payload is OpenAI's end marker `[DONE]`.
    public var isDone: Bool { data.elementsEqual("[DONE]".utf8) }
}

/// Splits a response body into events as its bytes arrive, in any chunking.
///
/// Server-sent events follow the WHATWG rules: `event:` and `data:` fields (one optional space after
/// the colon, several `data:` lines joined by a newline), comments starting with `:`, and `\n`,
/// `\r\n` or `\r` line ends; an event is dispatched at a blank line. A line that starts with `{` is
/// taken as a whole event, for streams that send bare JSON lines. NDJSON and streamed JSON arrays
/// (Gemini without `alt=sse`) have their own modes.
public struct StreamScanner: Sendable {
    /// How the stream frames its events.
    public enum Framing: Sendable {
        case serverSentEvents
        case jsonLines
        case jsonArray
    }

    /// The framing this scanner reads.
    public let framing: Framing
    private var line: [UInt8] = []
    private var name: String?
    private var data: [UInt8] = []
    private var hasData = false
    private var lastWasCarriageReturn = false
    // JSON-array mode: nesting depth and string state of the element being read.
    private var depth = 0
    private var inString = false
    private var escaped = false
    private var arrayOpened = false
    /// The longest event kept; longer ones are cut (their usage, if any, is then lost, never misread).
    public let maxEventBytes: Int

    /// Creates a scanner for a framing.
    public init(framing: Framing = .serverSentEvents, maxEventBytes: Int = 8 << 20) {
        self.framing = framing
        self.maxEventBytes = maxEventBytes
    }

    /// The framing a response's content type implies.
    public static func framing(forContentType contentType: String?) -> Framing {
        guard let type = contentType else { return .serverSentEvents }
        if type.containsIgnoringASCIICase("event-stream") { return .serverSentEvents }
        if type.containsIgnoringASCIICase("ndjson") || type.containsIgnoringASCIICase("jsonl")
            || type.containsIgnoringASCIICase("stream+json")
        {
            return .jsonLines
        }
        if type.containsIgnoringASCIICase("json") { return .jsonArray }
        return .serverSentEvents
    }

    /// Reads more bytes, calling `emit` for each event they complete.
    public mutating func feed(_ bytes: some Sequence<UInt8>, _ emit: (StreamEvent) -> Void) {
        // Walked as one buffer: a byte at a time through the generic sequence (NIO's `ByteBufferView`,
        // from another module) cost most of a stream's reading.
        if bytes.withContiguousStorageIfAvailable({ feed(buffer: $0, emit) }) == nil {
            Array(bytes).withUnsafeBufferPointer { feed(buffer: $0, emit) }
        }
    }

    private mutating func feed(buffer bytes: UnsafeBufferPointer<UInt8>, _ emit: (StreamEvent) -> Void) {
        if framing == .jsonArray {
            feedArray(bytes, emit)
            return
        }
        for byte in bytes {
            switch byte {
            case 0x0A:
                if lastWasCarriageReturn {
                    lastWasCarriageReturn = false
                    continue
                }
                endLine(emit)
            case 0x0D:
                endLine(emit)
                lastWasCarriageReturn = true
            default:
                lastWasCarriageReturn = false
                if line.count < maxEventBytes { line.append(byte) }
            }
        }
    }

    /// Ends the stream: an event still pending (no blank line after it) is dispatched.
    public mutating func finish(_ emit: (StreamEvent) -> Void) {
        if framing == .jsonArray { return }  // an element cut off by the end is not an event
        if !line.isEmpty { endLine(emit) }
        if hasData { dispatch(emit) }
    }

    private mutating func endLine(_ emit: (StreamEvent) -> Void) {
        defer { line.removeAll(keepingCapacity: true) }
        if framing == .jsonLines {
            if line.contains(where: { $0 != 0x20 && $0 != 0x09 }) { emit(StreamEvent(data: line)) }
            return
        }
        guard let first = line.first else {
            dispatch(emit)
            return
        }
        if first == UInt8(ascii: ":") { return }
        if first == UInt8(ascii: "{") {
            if hasData { dispatch(emit) }
            emit(StreamEvent(name: nil, data: line))
            return
        }
        let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
        let field = line[..<colon]
        var valueStart = colon < line.endIndex ? colon + 1 : colon
        if valueStart < line.endIndex, line[valueStart] == 0x20 { valueStart += 1 }
        let value = line[valueStart...]
        if field.elementsEqual("data".utf8) {
            if hasData { data.append(0x0A) }
            if data.count + value.count <= maxEventBytes { data.append(contentsOf: value) }
            hasData = true
        } else if field.elementsEqual("event".utf8) {
            name = String(decoding: value, as: UTF8.self)
        }
    }

    private mutating func dispatch(_ emit: (StreamEvent) -> Void) {
        if hasData { emit(StreamEvent(name: name, data: data)) }
        name = nil
        data.removeAll(keepingCapacity: true)
        hasData = false
    }

    private mutating func feedArray(_ bytes: UnsafeBufferPointer<UInt8>, _ emit: (StreamEvent) -> Void) {
        for byte in bytes {
            if depth == 0 {
                // Between elements: only the opening of the next object or array matters.
                if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") && arrayOpened {
                    depth = 1
                    data.removeAll(keepingCapacity: true)
                    data.append(byte)
                } else if byte == UInt8(ascii: "[") {
                    arrayOpened = true
                }
                continue
            }
            if data.count < maxEventBytes { data.append(byte) }
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 { emit(StreamEvent(data: data)) }
            default: break
            }
        }
    }
}
