import MeterrCore

/// Reads the body of `POST /api/usage/events`: one event, an array of events, or `{"events": [...]}`.
///
/// Every failure is a `MeterrError` naming the field at fault (`[3].input_tokens`).
enum EventBatchDecoder {
    static let maxEvents = 1000

    /// The events, and the shape they came in (which names their fields in later errors).
    static func decode(_ body: [UInt8], receivedAt: Timestamp) throws -> (
        events: [UsageEvent], shape: UsageEventParser.Shape
    ) {
        let (events, shape) = try UsageEventParser.parseBatch(body, receivedAt: receivedAt)
        if events.isEmpty { throw MeterrError.invalid("events", "must hold at least one event") }
        if events.count > maxEvents {
            throw MeterrError.invalid("events", "at most \(maxEvents) events per request (got \(events.count))")
        }
        return (events, shape)
    }
}
