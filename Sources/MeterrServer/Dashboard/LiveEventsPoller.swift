import Logging
import MeterrCore
import MeterrPostgres
import ServiceLifecycle

/// With several nodes, live dashboards show every node's calls: while a dashboard listens, this
/// node reads the events stored since its last look (every node's, its own included) twice a second
/// and publishes them, off the request path.
///
/// Events are numbered when inserted but become visible when their transaction commits, so a lower
/// number can appear after a higher one: numbers seen in the last ten seconds are remembered, and
/// each look starts from the highest number seen ten seconds ago.
struct LiveEventsPoller: Service, CustomStringConvertible {
    var description: String { "LiveEventsPoller" }

    let store: PostgresStore
    let broadcaster: UsageBroadcaster
    let logger: Logger
    var tick: Duration = .milliseconds(500)
    /// How long a transaction may take to commit and still have its events published.
    var settle: Duration = .seconds(10)

    func run() async throws {
        var window = NumberWindow()
        var listening = false
        while !Task.isCancelledOrShuttingDown {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: tick) }
            do {
                guard broadcaster.count > 0 else {
                    listening = false
                    continue
                }
                if !listening {
                    // A dashboard starts listening: from now on, not the history.
                    window = NumberWindow(start: try await store.newestEventNumber())
                    listening = true
                }
                let now = ContinuousClock.now
                var fresh: [UsageEvent] = []
                while true {
                    let page = try await store.events(after: window.next, limit: 5_000)
                    fresh += page.filter { window.note($0.number, at: now) }.map(\.event)
                    guard page.count == 5_000, let last = page.last else { break }
                    window.skipTo(last.number)
                }
                window.forget(before: now - settle)
                if !fresh.isEmpty { broadcaster.publish(fresh) }
            } catch {
                logger.warning("live events could not be read: \(String(reflecting: error))")
            }
        }
    }
}

/// The event numbers a poller has published recently, and where its next look starts.
struct NumberWindow {
    /// Looks start after this number: the highest seen before the settling time.
    private(set) var low: Int64
    private var seen: [Int64: ContinuousClock.Instant] = [:]
    /// A page cursor within one look (pages past `low` when a look returns a full page).
    private var cursor: Int64?

    init(start: Int64 = 0) { self.low = start }

    /// Where the next page starts.
    var next: Int64 { cursor ?? low }

    /// Notes a number; `false` when it was published already.
    mutating func note(_ number: Int64, at now: ContinuousClock.Instant) -> Bool {
        guard number > low, seen[number] == nil else { return false }
        seen[number] = now
        return true
    }

    mutating func skipTo(_ number: Int64) { cursor = number }

    /// Moves `low` up to the highest number seen before `cutoff`, forgetting those at or below it.
    mutating func forget(before cutoff: ContinuousClock.Instant) {
        cursor = nil
        let settled = seen.filter { $0.value < cutoff }.keys
        guard let highest = settled.max() else { return }
        low = max(low, highest)
        seen = seen.filter { $0.key > low }
    }
}
