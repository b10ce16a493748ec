import MeterrCore
import Synchronization

/// Backs off an address that keeps presenting bad keys: past `failures` in a minute, it is refused
/// for `coolDown` seconds, valid key or not. With several nodes, each counts its share of
/// `failures` (`NodeCount`), so an address spreading its attempts over every node is held to the
/// same number.
final class AuthenticationThrottle: Sendable {
    let failures: Int
    let coolDown: Double
    let clock: WallClock
    /// The nodes sharing the limit: each blocks an address after its share of the failures.
    let nodes: NodeCount
    private let states = Mutex([String: (attempts: [Double], blockedUntil: Double)]())

    init(failures: Int = 20, coolDown: Double = 60, clock: WallClock = .system, nodes: NodeCount = NodeCount()) {
        self.clock = clock
        self.nodes = nodes
        self.failures = failures
        self.coolDown = coolDown
    }

    /// Seconds the address must still wait, or `nil`. The address is formatted only when some
    /// address has failed.
    func blocked(_ address: @autoclosure () -> String?, now: Double? = nil) -> Int? {
        let blockedUntil = states.withLock { states -> Double? in
            guard !states.isEmpty, let address = address() else { return nil }
            return states[address]?.blockedUntil
        }
        let now = now ?? clock.seconds
        guard let blockedUntil, blockedUntil > now else { return nil }
        return Int((blockedUntil - now).rounded(.up))
    }

    /// Notes a failed authentication from an address.
    func failed(_ address: String?, now: Double? = nil) {
        guard let address, failures > 0 else { return }
        let now = now ?? clock.seconds
        states.withLock { states in
            if states.count > 100_000 { states.removeAll() }
            var state = states[address] ?? ([], 0)
            state.attempts = state.attempts.filter { now - $0 < 60 } + [now]
            if Double(state.attempts.count) >= nodes.share(of: Double(failures)) {
                state.blockedUntil = now + coolDown
                state.attempts = []
            }
            states[address] = state
        }
    }
}
