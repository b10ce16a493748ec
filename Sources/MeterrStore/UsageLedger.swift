import MeterrCore

/// Where usage events are stored: append-only, idempotent by event id, with rollups kept in step.
///
/// No storage library's types cross this protocol, so the SQLite and PostgreSQL implementations are
/// interchangeable.
public protocol UsageLedger: Sendable {
    /// Stores events in one transaction; events whose id is already stored are skipped.
    /// - Returns: how many events were new.
    func append(_ events: [UsageEvent]) async throws(MeterrError) -> Int
}
