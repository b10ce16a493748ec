/// One page of usage events (`GET /api/usage/events`).
public struct EventPage: Sendable, Hashable, Codable {
    /// The events, newest first.
    public var events: [UsageEvent]
    /// Where the next page starts; `nil` on the last.
    public var nextCursor: EventCursor?

    /// Creates a page.
    public init(events: [UsageEvent], nextCursor: EventCursor?) {
        self.events = events
        self.nextCursor = nextCursor
    }

    enum CodingKeys: String, CodingKey {
        case events
        case nextCursor = "next_cursor"
    }

    /// Encodes both keys (`next_cursor` is `null` on the last page).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(events, forKey: .events)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}
