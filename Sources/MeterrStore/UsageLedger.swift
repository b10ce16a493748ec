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

    /// One page of an organisation's events, newest first.
    func events(org: String, filter: EventFilter, limit: Int, cursor: EventCursor?) async throws -> EventPage

    /// Totals of cost and every token kind over `[from, to)`, read from the rollups.
    ///
    /// The rollups have one-hour resolution: `from` is floored and `to` is ceiled to the hour, and
    /// the summary reports the range it covers.
    func summary(org: String, groupBy: SummaryGrouping, from: Timestamp, to: Timestamp) async throws -> UsageSummary

    /// Calls `body` with every event in `[from, to)` in time order, without holding them all in memory.
    /// - Parameter org: one organisation, or `nil` for all (operator export).
    func forEachEvent(
        org: String?, from: Timestamp?, to: Timestamp?, _ body: (UsageEvent) throws -> Void
    ) async throws
}

/// Which events a query selects; `nil` fields do not filter.
public struct EventFilter: Sendable, Hashable {
    public var from: Timestamp?
    public var to: Timestamp?
    public var team: String?
    public var user: String?
    public var project: String?
    public var keyId: String?
    public var provider: Provider?
    public var model: String?
    /// Every tag listed must be present with this value.
    public var tags: [String: String]

    /// Creates a filter.
    public init(
        from: Timestamp? = nil, to: Timestamp? = nil, team: String? = nil, user: String? = nil,
        project: String? = nil, keyId: String? = nil, provider: Provider? = nil, model: String? = nil,
        tags: [String: String] = [:]
    ) {
        self.from = from
        self.to = to
        self.team = team
        self.user = user
        self.project = project
        self.keyId = keyId
        self.provider = provider
        self.model = model
        self.tags = tags
    }
}

/// A position in the newest-first order of events: the last event of the previous page.
public struct EventCursor: Sendable, Hashable {
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
}

/// A page of events and where the next one starts.
public struct EventPage: Sendable {
    /// The events, newest first.
    public var events: [UsageEvent]
    /// The cursor for the next page, `nil` on the last one.
    public var nextCursor: EventCursor?

    /// Creates a page.
    public init(events: [UsageEvent], nextCursor: EventCursor?) {
        self.events = events
        self.nextCursor = nextCursor
    }
}

/// How a summary groups its totals.
public enum SummaryGrouping: String, Sendable, CaseIterable {
    case none, model, provider, team, user, key, project, day, hour
}

/// Request count, token counts and cost of a set of events.
public struct UsageTotals: Sendable, Hashable {
    /// How many calls.
    public var requests: Int
    /// Their summed token counts.
    public var usage: Usage
    /// The summed cost of the priced calls.
    public var cost: Money
    /// Calls whose model had no price: their cost is unknown, not zero.
    public var unpricedRequests: Int
    /// The input and output tokens of those calls.
    public var unpricedTokens: Int

    /// Creates totals.
    public init(
        requests: Int = 0, usage: Usage = Usage(), cost: Money = .zero, unpricedRequests: Int = 0,
        unpricedTokens: Int = 0
    ) {
        self.requests = requests
        self.usage = usage
        self.cost = cost
        self.unpricedRequests = unpricedRequests
        self.unpricedTokens = unpricedTokens
    }

    /// Adds one event.
    public mutating func add(_ event: UsageEvent) {
        requests += 1
        usage += event.usage
        if let cost = event.cost {
            self.cost += cost
        } else {
            unpricedRequests += 1
            unpricedTokens += event.usage.inputTokens + event.usage.outputTokens
        }
    }

    /// Adds other totals.
    public static func += (lhs: inout UsageTotals, rhs: UsageTotals) {
        lhs.requests += rhs.requests
        lhs.usage += rhs.usage
        lhs.cost += rhs.cost
        lhs.unpricedRequests += rhs.unpricedRequests
        lhs.unpricedTokens += rhs.unpricedTokens
    }
}

/// One group of a summary: its key and its totals.
public struct SummaryGroup: Sendable, Hashable {
    /// The group's value: a model, team, … name (`nil` for unattributed calls), or the bucket start
    /// for `day` and `hour`.
    public var value: String?
    /// The provider, when grouping by model.
    public var provider: String?
    /// The totals of the group.
    public var totals: UsageTotals

    /// Creates a group.
    public init(value: String?, provider: String? = nil, totals: UsageTotals) {
        self.value = value
        self.provider = provider
        self.totals = totals
    }
}

/// Totals over a time range, grouped.
public struct UsageSummary: Sendable {
    /// The range covered, aligned to the hour.
    public var from: Timestamp
    public var to: Timestamp
    /// The grouping used.
    public var groupBy: SummaryGrouping
    /// The groups: by cost, largest first, or by time for `day` and `hour`.
    public var groups: [SummaryGroup]
    /// The totals of all groups.
    public var totals: UsageTotals

    /// Creates a summary.
    public init(from: Timestamp, to: Timestamp, groupBy: SummaryGrouping, groups: [SummaryGroup], totals: UsageTotals) {
        self.from = from
        self.to = to
        self.groupBy = groupBy
        self.groups = groups
        self.totals = totals
    }
}
