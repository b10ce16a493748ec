import Foundation
import MeterrCore
import MeterrStore
import ServiceLifecycle
import Synchronization

/// What one ledger commit added to an organisation's usage of this month (and of today, both in its
/// time zone): what the dashboard's live stream sends. Late reports of earlier months are only counted in `earlier`.
struct UsageDelta: Sendable, Hashable {
    var requests = 0
    var cost = Money.zero
    var unpriced = 0
    var inputTokens = 0
    var outputTokens = 0
    var cacheReadTokens = 0
    var todayRequests = 0
    var todayCost = Money.zero
    var earlier = 0
    /// Cost by provider and by `provider/model`, so open tables can update their rows.
    var costByProvider: [String: Money] = [:]
    var costByModel: [String: Money] = [:]

    mutating func add(_ event: UsageEvent, now: Timestamp, calendar: LocalCalendar = .utc) {
        guard event.ts >= calendar.monthStart(now), event.ts <= now.adding(milliseconds: 3_600_000) else {
            earlier += 1
            return
        }
        requests += 1
        let today = event.ts >= calendar.dayStart(now)
        if today { todayRequests += 1 }
        if let cost = event.cost {
            self.cost += cost
            if today { todayCost += cost }
            costByProvider[event.provider.rawValue, default: .zero] += cost
            costByModel[event.provider.rawValue + "/" + event.model, default: .zero] += cost
        } else {
            unpriced += 1
        }
        inputTokens += event.usage.inputTokens
        outputTokens += event.usage.outputTokens
        cacheReadTokens += event.usage.cacheReadTokens
    }

    /// The event's JSON: money as exact decimal strings.
    var json: [UInt8] {
        var json = JSONWriter(capacity: 256)
        json.beginObject()
        json.int("requests", requests)
        json.string("cost_usd", cost.decimalString)
        json.int("unpriced_requests", unpriced)
        json.int("input_tokens", inputTokens)
        json.int("output_tokens", outputTokens)
        json.int("cache_read_tokens", cacheReadTokens)
        json.int("today_requests", todayRequests)
        json.string("today_cost_usd", todayCost.decimalString)
        json.int("earlier_requests", earlier)
        for (name, values) in [("by_provider", costByProvider), ("by_model", costByModel)] {
            json.beginObject(name)
            for (key, cost) in values.sorted(by: { $0.key < $1.key }) { json.string(key, cost.decimalString) }
            json.endObject()
        }
        json.endObject()
        return json.bytes
    }
}

/// Hands every committed batch of usage to the dashboards that watch its organisation.
///
/// Subscribers get a bounded stream (the newest deltas win if a browser reads slowly) and a
/// heartbeat every `heartbeat`, so a closed connection is noticed; as a `Service` it ends every
/// stream when the application stops.
final class UsageBroadcaster: Service, Sendable {
    enum Message: Sendable {
        case usage(UsageDelta)
        case heartbeat
    }

    struct Subscriber {
        var org: String
        /// The organisation's calendar: what counts as today and this month.
        var calendar: LocalCalendar
        var continuation: AsyncStream<Message>.Continuation
    }

    /// Subscribers that see the same numbers: one organisation, one calendar.
    struct Audience: Hashable {
        var org: String
        var calendar: LocalCalendar
    }

    struct State {
        var subscribers: [UUID: Subscriber] = [:]
        var closed = false
    }

    let state = Mutex(State())
    let heartbeat: Duration
    let clock: WallClock

    init(heartbeat: Duration = .seconds(15), clock: WallClock) {
        self.heartbeat = heartbeat
        self.clock = clock
    }

    /// A stream of what is committed for `org` from now on, today and this month in `calendar`.
    func subscribe(org: String, calendar: LocalCalendar = .utc) -> AsyncStream<Message> {
        let (stream, continuation) = AsyncStream.makeStream(of: Message.self, bufferingPolicy: .bufferingNewest(64))
        let id = UUID()
        let open = state.withLock { state in
            if !state.closed {
                state.subscribers[id] = Subscriber(org: org, calendar: calendar, continuation: continuation)
            }
            return !state.closed
        }
        guard open else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// How many dashboards listen now.
    var count: Int { state.withLock { $0.subscribers.count } }

    /// Publishes the new events of a commit, each to its own organisation's subscribers only.
    func publish(_ events: some Sequence<UsageEvent>) {
        let listening = state.withLock { $0.subscribers.values.map { ($0.org, $0.calendar, $0.continuation) } }
        if listening.isEmpty { return }
        let audiences = Set(listening.map { Audience(org: $0.0, calendar: $0.1) })
        var deltas: [Audience: UsageDelta] = [:]
        let now = clock.now()
        for event in events {
            for audience in audiences where audience.org == event.org {
                deltas[audience, default: UsageDelta()].add(event, now: now, calendar: audience.calendar)
            }
        }
        for (org, calendar, continuation) in listening {
            if let delta = deltas[Audience(org: org, calendar: calendar)] { continuation.yield(.usage(delta)) }
        }
    }

    func run() async throws {
        while !Task.isCancelledOrShuttingDown {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.heartbeat) }
            let listening = state.withLock { $0.subscribers.values.map(\.continuation) }
            for continuation in listening { continuation.yield(.heartbeat) }
        }
        closeAll()
    }

    /// Ends every stream and refuses new ones.
    func closeAll() {
        let all = state.withLock { state in
            state.closed = true
            defer { state.subscribers.removeAll() }
            return state.subscribers.values.map(\.continuation)
        }
        for continuation in all { continuation.finish() }
    }
}

extension Task where Success == Never, Failure == Never {
    /// Whether the current task was cancelled or its service is shutting down.
    static var isCancelledOrShuttingDown: Bool { Task.isCancelled || Task.isShuttingDownGracefully }
}

/// The ledger the writer commits to, publishing each committed event to the live dashboards.
///
/// `append` returns once the transaction is durable, so a dashboard never shows a call the
/// ledger could still lose.
struct PublishingLedger: UsageLedger {
    let ledger: any UsageLedger
    let broadcaster: UsageBroadcaster

    func append(_ events: [UsageEvent]) async throws -> [Bool] {
        try await append(events, shapes: [])
    }

    func append(_ events: [UsageEvent], shapes: [CallShape]) async throws -> [Bool] {
        let inserted = try await ledger.append(events, shapes: shapes)
        broadcaster.publish(zip(events, inserted).lazy.filter(\.1).map(\.0))
        return inserted
    }

    func events(org: String, filter: EventFilter, limit: Int, cursor: EventCursor?) async throws -> EventPage {
        try await ledger.events(org: org, filter: filter, limit: limit, cursor: cursor)
    }

    func summary(
        org: String, groupBy: SummaryGrouping, from: Timestamp, to: Timestamp, calendar: LocalCalendar
    ) async throws -> UsageSummary {
        try await ledger.summary(org: org, groupBy: groupBy, from: from, to: to, calendar: calendar)
    }

    func forEachEvent(
        org: String?, from: Timestamp?, to: Timestamp?, _ body: (UsageEvent) throws -> Void
    ) async throws {
        try await ledger.forEachEvent(org: org, from: from, to: to, body)
    }
}
