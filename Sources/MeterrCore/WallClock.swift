/// Where meterr reads the time of day: the system clock when serving, a clock a test sets.
///
/// Budget periods, alert cool-downs and anomaly baselines all follow it, so a test can cross a month
/// end or a week of hours without waiting.
public struct WallClock: Sendable {
    private let read: @Sendable () -> Timestamp

    /// A clock that reads `read`.
    public init(_ read: @escaping @Sendable () -> Timestamp) { self.read = read }

    /// The system clock.
    public static let system = WallClock { .now() }

    /// The current time.
    public func now() -> Timestamp { read() }
}
