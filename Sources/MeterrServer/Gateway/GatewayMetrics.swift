import MeterrCore
import Synchronization

/// Counters of the gateway's calls, by provider and outcome.
final class GatewayMetrics: Sendable {
    struct Key: Hashable {
        var provider: Provider
        var status: Int
        var source: UsageSource?
    }

    private let calls = Mutex([Key: Int]())
    private let latencies = Mutex([Provider: LatencyPair]())

    func record(provider: Provider, status: Int, source: UsageSource?) {
        calls.withLock { $0[Key(provider: provider, status: status, source: source), default: 0] += 1 }
    }

    /// One answered call's times, in microseconds: meterr's own and the provider's.
    func observe(provider: Provider, meterr: Int64, upstream: Int64) {
        latencies.withLock { latencies in
            latencies[provider, default: LatencyPair()].meterr.observe(meterr)
            latencies[provider, default: LatencyPair()].upstream.observe(upstream)
        }
    }

    var snapshot: [Key: Int] { calls.withLock { $0 } }

    var latencySnapshot: [Provider: LatencyPair] {
        latencies.withLock { $0 }
    }
}

/// meterr's own time and the provider's, for one provider's calls.
struct LatencyPair: Sendable {
    var meterr = LatencyHistogram(bounds: LatencyHistogram.meterrBounds)
    var upstream = LatencyHistogram(bounds: LatencyHistogram.upstreamBounds)
}

/// A Prometheus histogram of durations kept in microseconds.
struct LatencyHistogram: Sendable {
    /// meterr's own time per call: tens of microseconds to milliseconds.
    static let meterrBounds: [Int64] = [10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 100_000]
    /// The provider's time: milliseconds to minutes.
    static let upstreamBounds: [Int64] = [
        1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000,
        10_000_000,
        30_000_000, 60_000_000, 120_000_000,
    ]

    let bounds: [Int64]
    /// Observations per bucket (not cumulative); the last one is above every bound.
    private(set) var counts: [Int]
    private(set) var sum: Int64 = 0
    private(set) var count = 0

    init(bounds: [Int64]) {
        self.bounds = bounds
        counts = Array(repeating: 0, count: bounds.count + 1)
    }

    mutating func observe(_ microseconds: Int64) {
        counts[bounds.firstIndex { microseconds <= $0 } ?? bounds.count] += 1
        sum += microseconds
        count += 1
    }

    /// The exposition lines of this histogram under `name` with `labels` (`provider="openai"`).
    func lines(_ name: String, labels: String) -> String {
        var text = ""
        var cumulative = 0
        for (index, bound) in bounds.enumerated() {
            cumulative += counts[index]
            text += "\(name)_bucket{\(labels),le=\"\(Self.seconds(bound))\"} \(cumulative)\n"
        }
        text += "\(name)_bucket{\(labels),le=\"+Inf\"} \(count)\n"
        text += "\(name)_sum{\(labels)} \(Self.seconds(sum))\n"
        text += "\(name)_count{\(labels)} \(count)\n"
        return text
    }

    /// Microseconds as seconds in plain decimal (`0.00025`, `1`, `12.5`).
    static func seconds(_ microseconds: Int64) -> String {
        let fraction = String(microseconds % 1_000_000)
        var digits = String(repeating: "0", count: 6 - fraction.count) + fraction
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(microseconds / 1_000_000)" + (digits.isEmpty ? "" : "." + digits)
    }
}
