/// A position in the newest-first order of events: the last event of the previous page. On the
/// wire it is an opaque string (`next_cursor`, `cursor`).
public struct EventCursor: Sendable, Hashable, Codable {
    /// The time of the last event returned.
    public var ts: Int64
    /// Its storage sequence number, which breaks ties between events of the same millisecond.
    public var sequence: Int64

    /// Creates a cursor.
    public init(ts: Int64, sequence: Int64) {
        self.ts = ts
        self.sequence = sequence
    }

    /// The opaque text form handed to API callers.
    public var token: String { "\(ts).\(sequence)" }

    /// Parses the text form; `nil` if it is not one.
    public init?(token: String) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let ts = Int64(parts[0]), let sequence = Int64(parts[1]) else { return nil }
        self.init(ts: ts, sequence: sequence)
    }

    /// Decodes the text form.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let cursor = EventCursor(token: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an event cursor")
        }
        self = cursor
    }

    /// Encodes the text form.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(token)
    }
}
