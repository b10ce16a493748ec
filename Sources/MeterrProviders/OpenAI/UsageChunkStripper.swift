import MeterrCore

/// Drops the usage chunk meterr asked for on the caller's behalf, so the caller sees the stream it
/// asked for; every other byte passes as it came, event by event.
public struct UsageChunkStripper: Sendable {
    /// A stripper with nothing held.
    public init() {}

    private var pending: [UInt8] = []

    /// The bytes of `chunk` that may reach the caller (whole events only; the rest is held).
    public mutating func pass(_ chunk: some Sequence<UInt8>) -> [UInt8] {
        pending.append(contentsOf: chunk)
        var out: [UInt8] = []
        var start = 0
        var index = 0
        while index + 1 < pending.count {
            let end: Int?
            if pending[index] == 0x0A && pending[index + 1] == 0x0A {
                end = index + 2
            } else if index + 3 < pending.count && pending[index] == 0x0D && pending[index + 1] == 0x0A
                && pending[index + 2] == 0x0D && pending[index + 3] == 0x0A
            {
                end = index + 4
            } else {
                end = nil
            }
            if let end {
                let event = pending[start..<end]
                if !Self.isUsageOnlyChunk(event) { out.append(contentsOf: event) }
                start = end
                index = end
            } else {
                index += 1
            }
        }
        pending.removeFirst(start)
        return out
    }

    /// What is held, at the end of the stream.
    public mutating func flush() -> [UInt8] {
        defer { pending.removeAll() }
        return pending
    }

    /// `data: {… "choices": [], "usage": {…}}`: the extra chunk `include_usage` adds.
    static let dataField = Array("data:".utf8)

    /// Whether an event is that chunk: its data one JSON object whose `choices` is an empty array and
    /// whose `usage` is not `null` (a repeated member's last value counts, as in a parsed object). Read
    /// by walking the bytes, nothing built.
    static func isUsageOnlyChunk(_ event: ArraySlice<UInt8>) -> Bool {
        guard let dataStart = event.range(ofBytes: Self.dataField) else { return false }
        let payload = Array(event[dataStart.upperBound...].drop { $0 == 0x20 }.prefix { $0 != 0x0A && $0 != 0x0D })
        return payload.withUnsafeBufferPointer { bytes in
            var parser = JSONParser(bytes)
            var (noChoices, usage) = (false, false)
            do {
                parser.skipWhitespace()
                guard parser.peek() == UInt8(ascii: "{") else { return false }
                try parser.forEachMember(named: chunkMembers, "chunk") { (parser, place) throws(MeterrError) in
                    parser.skipWhitespace()
                    if place == 1 {
                        usage = !parser.consumeNull()
                        if usage { try parser.skipValue(depth: 1) }
                    } else if parser.peek() == UInt8(ascii: "[") {
                        var count = 0
                        try parser.forEachElement("choices") { (parser, _) throws(MeterrError) in
                            count += 1
                            try parser.skipValue(depth: 2)
                        }
                        noChoices = count == 0
                    } else {
                        noChoices = false
                        try parser.skipValue(depth: 1)
                    }
                }
                parser.skipWhitespace()
                return parser.atEnd && noChoices && usage
            } catch {
                return false
            }
        }
    }

    static let chunkMembers = ["choices", "usage"]
}
