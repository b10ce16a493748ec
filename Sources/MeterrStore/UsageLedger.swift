import MeterrCore

/// Where usage events are stored: append-only, idempotent by event id within an organisation, with
/// hourly and daily rollups updated in the same transaction as the events they count.
///
/// No storage library's types cross this protocol, so the SQLite and PostgreSQL implementations are
/// interchangeable. Every read takes the organisation it acts for.
public protocol UsageLedger: Sendable {
    /// Stores events in one transaction, all or nothing; an event whose `(org, id)` is already
    /// stored is skipped.
    /// - Returns: for each event, whether it was new.
    func append(_ events: [UsageEvent]) async throws -> [Bool]

    /// Stores events and the shapes of their calls in one transaction.
    func append(_ events: [UsageEvent], shapes: [CallShape]) async throws -> [Bool]

    /// One page of an organisation's events, newest first.
    func events(org: String, filter: EventFilter, limit: Int, cursor: EventCursor?) async throws -> EventPage

    /// Totals of cost and every token kind over `[from, to)`, read from the rollups.
    ///
    /// The rollups have one-hour resolution: `from` is floored and `to` is ceiled to the hour, and
    /// the summary reports the range it covers. Groups by `.day` are the days of `calendar`.
    func summary(
        org: String, groupBy: SummaryGrouping, from: Timestamp, to: Timestamp, calendar: LocalCalendar
    ) async throws -> UsageSummary

    /// Calls `body` with every event in `[from, to)` in time order, without holding them all in memory.
    /// - Parameter org: one organisation, or `nil` for all (operator export).
    func forEachEvent(
        org: String?, from: Timestamp?, to: Timestamp?, _ body: (UsageEvent) throws -> Void
    ) async throws
}

extension UsageLedger {
    /// Totals over `[from, to)`, days grouped by UTC day.
    public func summary(org: String, groupBy: SummaryGrouping, from: Timestamp, to: Timestamp) async throws
        -> UsageSummary
    {
        try await summary(org: org, groupBy: groupBy, from: from, to: to, calendar: .utc)
    }

    /// A ledger that keeps no call shapes stores the events alone.
    public func append(_ events: [UsageEvent], shapes: [CallShape]) async throws -> [Bool] {
        try await append(events)
    }
}
