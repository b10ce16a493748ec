import MeterrCore
import MeterrStore
import Synchronization

/// Per-key rate limits of the gateway: the tier's requests per hour and the optional requests and
/// tokens per minute, as token buckets; a key that keeps hitting its limit is blocked for a cool-down.
///
/// With several nodes on one database, each node's buckets hold its share of every limit
/// (`NodeCount`), so all nodes together admit at most the limit (at least one call per node and
/// window: `max(limit, nodes)`), with no database round trip on the call's path.
final class RateLimiter: Sendable {
    /// What the limiter decided for one call.
    struct Decision: Sendable {
        /// `nil` when the call may go; else why not.
        var refusal: String?
        /// Seconds until a call would be admitted again.
        var retryAfter: Int
        /// `x-ratelimit-*` headers describing the tightest request limit.
        var limit: Int?
        var remaining: Int?
        var resetSeconds: Int?
    }

    struct Bucket {
        var level: Double
        var capacity: Double
        var perSecond: Double

        init(level: Double, capacity: Double, perSecond: Double) {
            self.level = level
            self.capacity = capacity
            self.perSecond = perSecond
        }

        /// A full bucket of this node's share of `limit` per `seconds`.
        init(limit: Int, per seconds: Double, nodes: NodeCount) {
            let share = nodes.share(of: Double(limit))
            self.init(level: share, capacity: share, perSecond: share / seconds)
        }

        /// Takes this node's new share of `limit` per `seconds` (the number of nodes changed).
        mutating func resize(limit: Int, per seconds: Double, nodes: NodeCount) {
            let share = nodes.share(of: Double(limit))
            guard share != capacity else { return }
            capacity = share
            perSecond = share / seconds
            level = min(level, capacity)
        }

        mutating func refill(elapsed: Double) { level = min(capacity, level + elapsed * perSecond) }
        var secondsUntilOne: Double { level >= 1 ? 0 : (1 - level) / perSecond }
    }

    struct State {
        var hour: Bucket?
        var minute: Bucket?
        var tokens: Bucket?
        var updated: Double
        var violations: [Double] = []
        var blockedUntil: Double = 0
    }

    /// Limit hits within `violationWindow` that block the key.
    let violationsToBlock: Int
    let violationWindow: Double
    let coolDown: Double
    let clock: WallClock
    /// The nodes sharing the limits.
    let nodes: NodeCount
    private let states = Mutex([String: State]())

    init(
        violationsToBlock: Int = 20, violationWindow: Double = 600, coolDown: Double = 300, clock: WallClock = .system,
        nodes: NodeCount = NodeCount()
    ) {
        self.clock = clock
        self.nodes = nodes
        self.violationsToBlock = violationsToBlock
        self.violationWindow = violationWindow
        self.coolDown = coolDown
    }

    /// Admits a call (taking one request from each bucket) or says why not.
    func admit(_ principal: Principal, now: Double? = nil) -> Decision {
        let now = now ?? clock.seconds
        let limits = principal.limits
        if limits.tier.requestsPerHour == nil && limits.requestsPerMinute == nil && limits.tokensPerMinute == nil {
            return Decision(refusal: nil, retryAfter: 0)
        }
        return states.withLock { states in
            var state =
                states[principal.keyId]
                ?? State(
                    hour: limits.tier.requestsPerHour.map { Bucket(limit: $0, per: 3600, nodes: nodes) },
                    minute: limits.requestsPerMinute.map { Bucket(limit: $0, per: 60, nodes: nodes) },
                    tokens: limits.tokensPerMinute.map { Bucket(limit: $0, per: 60, nodes: nodes) },
                    updated: now)
            defer { states[principal.keyId] = state }
            if let limit = limits.tier.requestsPerHour { state.hour?.resize(limit: limit, per: 3600, nodes: nodes) }
            if let limit = limits.requestsPerMinute { state.minute?.resize(limit: limit, per: 60, nodes: nodes) }
            if let limit = limits.tokensPerMinute { state.tokens?.resize(limit: limit, per: 60, nodes: nodes) }
            let elapsed = max(0, now - state.updated)
            state.updated = now
            state.hour?.refill(elapsed: elapsed)
            state.minute?.refill(elapsed: elapsed)
            state.tokens?.refill(elapsed: elapsed)
            let tightest = [state.hour, state.minute].compactMap { $0 }.min { $0.level < $1.level }
            func decision(_ refusal: String?, retry: Double) -> Decision {
                Decision(
                    refusal: refusal, retryAfter: Int(retry.rounded(.up)), limit: tightest.map { Int($0.capacity) },
                    remaining: tightest.map { max(0, Int($0.level)) },
                    resetSeconds: tightest.map { Int((($0.capacity - $0.level) / $0.perSecond).rounded(.up)) })
            }
            if state.blockedUntil > now {
                return decision(
                    "this key is blocked after repeated rate-limit violations", retry: state.blockedUntil - now)
            }
            var refusal: String?
            var retry = 0.0
            if let hour = state.hour, hour.level < 1 {
                refusal = "rate limit: \(Int(hour.capacity)) requests per hour (\(limits.tier.rawValue) tier)"
                retry = hour.secondsUntilOne
            } else if let minute = state.minute, minute.level < 1 {
                refusal = "rate limit: \(Int(minute.capacity)) requests per minute"
                retry = minute.secondsUntilOne
            } else if let tokens = state.tokens, tokens.level < 1 {
                refusal = "rate limit: \(Int(tokens.capacity)) tokens per minute"
                retry = tokens.secondsUntilOne
            }
            if let refusal {
                state.violations = state.violations.filter { now - $0 < violationWindow } + [now]
                if state.violations.count >= violationsToBlock {
                    state.blockedUntil = now + coolDown
                    state.violations = []
                    return decision(refusal + "; the key is blocked for \(Int(coolDown)) s", retry: coolDown)
                }
                return decision(refusal, retry: max(1, retry))
            }
            state.hour?.level -= 1
            state.minute?.level -= 1
            return decision(nil, retry: 0)
        }
    }

    /// Takes a finished call's tokens from its key's per-minute token bucket (it may go negative:
    /// the next calls wait until it refills).
    func consume(tokens: Int, keyId: String) {
        states.withLock { states in
            // Looked up first: modifying a key the dictionary lacks prepares room for it, an allocation per call.
            guard states[keyId]?.tokens != nil else { return }
            states[keyId]?.tokens?.level -= Double(tokens)
        }
    }
}

extension WallClock {
    /// Seconds since the Unix epoch, for the limiters' buckets.
    var seconds: Double { Double(now().milliseconds) / 1000 }
}
