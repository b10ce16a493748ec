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

    static func isUsageOnlyChunk(_ event: ArraySlice<UInt8>) -> Bool {
        guard let dataStart = event.range(ofBytes: Self.dataField) else { return false }
        let payload = event[dataStart.upperBound...]
        guard let json = JSONValue(parsing: payload.drop { $0 == 0x20 }.prefix { $0 != 0x0A && $0 != 0x0D }) else {
            return false
        }
        return json["choices"]?.array?.isEmpty == true && json["usage"].map { !$0.isNull } == true
    }
}
