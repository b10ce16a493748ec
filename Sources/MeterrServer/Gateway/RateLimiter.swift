import MeterrCore
import MeterrStore
import Synchronization

/// Per-key rate limits of the gateway: the tier's requests per hour and the optional requests and
/// tokens per minute, as token buckets; a key that keeps hitting its limit is blocked for a cool-down.
///
/// Limits hold per node (the embedded database serves one node).
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
    private let states = Mutex([String: State]())

    init(violationsToBlock: Int = 20, violationWindow: Double = 600, coolDown: Double = 300, clock: WallClock = .system)
    {
        self.clock = clock
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
                    hour: limits.tier.requestsPerHour.map {
                        Bucket(level: Double($0), capacity: Double($0), perSecond: Double($0) / 3600)
                    },
                    minute: limits.requestsPerMinute.map {
                        Bucket(level: Double($0), capacity: Double($0), perSecond: Double($0) / 60)
                    },
                    tokens: limits.tokensPerMinute.map {
                        Bucket(level: Double($0), capacity: Double($0), perSecond: Double($0) / 60)
                    },
                    updated: now)
            defer { states[principal.keyId] = state }
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
        states.withLock { states in states[keyId]?.tokens?.level -= Double(tokens) }
    }
}

extension WallClock {
    /// Seconds since the Unix epoch, for the limiters' buckets.
    var seconds: Double { Double(now().milliseconds) / 1000 }
}
