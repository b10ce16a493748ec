import MeterrCore
import Synchronization
import Testing

/// A wall clock the test sets: everything meterr dates (events, budgets, alerts, keys, webhook
/// retries) reads it instead of the time of day.
///
/// A stopped clock moves only when the test moves it; a ticking one also moves with real time from
/// the moment it is pinned, for code that waits (a retry due in 300 ms).
public final class ManualClock: Sendable {
    private struct State {
        var pinned: Timestamp
        var since: ContinuousClock.Instant
    }

    private let state: Mutex<State>
    private let ticking: Bool

    /// A clock pinned at an RFC 3339 time.
    public init(_ text: String, ticking: Bool = false) {
        state = Mutex(State(pinned: Timestamp(rfc3339: text)!, since: .now))
        self.ticking = ticking
    }

    /// The clock meterr reads.
    public var clock: WallClock { WallClock { self.now } }

    /// The time it shows.
    public var now: Timestamp {
        state.withLock { state in
            guard ticking else { return state.pinned }
            let elapsed = ContinuousClock.now - state.since
            let milliseconds =
                elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
            return state.pinned.adding(milliseconds: milliseconds)
        }
    }

    /// Moves the clock to a time (and ticks on from there).
    public func set(_ text: String) { set(Timestamp(rfc3339: text)!) }

    /// Moves the clock to a time (and ticks on from there).
    public func set(_ timestamp: Timestamp) { state.withLock { $0 = State(pinned: timestamp, since: .now) } }

    /// Moves the clock on.
    public func advance(minutes: Int64) { advance(milliseconds: minutes * 60_000) }

    /// Moves the clock on.
    public func advance(milliseconds: Int64) { set(now.adding(milliseconds: milliseconds)) }
}

/// A moment at which calendar code tends to break, with the time zone it bites in.
public struct HostileMoment: Sendable, CustomTestStringConvertible {
    /// What is hostile about it.
    public var name: String
    /// The moment, RFC 3339 UTC.
    public var time: String
    /// The IANA zone whose calendar the moment is hostile in (a budget's `time_zone`).
    public var zone: String

    public var testDescription: String { name }

    /// The first minutes of a month and a year, the last minutes of a month, the night of a DST change
    /// in Europe and in the US, the end of a leap day; and an ordinary hour early in a month.
    public static let all: [HostileMoment] = [
        HostileMoment(name: "three hours into a month", time: "2026-12-04T03:00:00Z", zone: "UTC"),
        HostileMoment(name: "first minutes of a month", time: "2026-12-01T00:03:00Z", zone: "UTC"),
        HostileMoment(name: "first minutes of a year", time: "2027-01-01T00:02:00Z", zone: "UTC"),
        HostileMoment(name: "last minutes of a month", time: "2026-11-30T23:57:00Z", zone: "UTC"),
        // Clocks go forward in Berlin at 01:00 UTC on 28 March 2027 (02:00 local becomes 03:00).
        HostileMoment(name: "DST change in Europe", time: "2027-03-28T00:58:00Z", zone: "Europe/Berlin"),
        // Clocks go forward in New York at 07:00 UTC on 14 March 2027 (02:00 local becomes 03:00).
        HostileMoment(name: "DST change in the US", time: "2027-03-14T06:58:00Z", zone: "America/New_York"),
        HostileMoment(name: "end of a leap day", time: "2028-02-29T23:58:00Z", zone: "UTC"),
    ]
}
