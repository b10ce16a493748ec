import MeterrCore
import Synchronization

/// A wall clock the test sets: budgets, alerts and anomaly detection read it instead of the time.
final class ManualClock: Sendable {
    private let time: Mutex<Timestamp>

    init(_ text: String) { time = Mutex(Timestamp(rfc3339: text)!) }

    var clock: WallClock { WallClock { self.now } }

    var now: Timestamp { time.withLock { $0 } }

    func set(_ text: String) { time.withLock { $0 = Timestamp(rfc3339: text)! } }

    func set(_ timestamp: Timestamp) { time.withLock { $0 = timestamp } }

    func advance(minutes: Int64) { time.withLock { $0 = $0.adding(milliseconds: minutes * 60_000) } }
}
