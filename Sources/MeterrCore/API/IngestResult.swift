/// meterr's answer to a batch of events (`POST /api/usage/events`): how many it got and how many were new.
public struct IngestResult: Sendable, Hashable, Codable {
    /// Events in the request.
    public var received: Int
    /// Events stored now.
    public var inserted: Int
    /// Events whose id was already stored (a retried batch).
    public var duplicates: Int

    /// Creates a result.
    public init(received: Int, inserted: Int, duplicates: Int) {
        self.received = received
        self.inserted = inserted
        self.duplicates = duplicates
    }
}
