import Foundation
import MeterrCore

/// How one model's calls went over a window: how many, how many failed or were refused, and their
/// latency and time to first token as percentiles (from day rollups of log-spaced buckets).
public struct ModelHealth: Sendable, Hashable, Codable {
    public var provider: Provider
    public var model: String
    public var calls: Int
    /// Calls the provider (or the way to it) failed: status 400 or more, meterr's refusals aside.
    public var errors: Int
    /// Calls meterr refused itself (budgets, rate limits, anomalies, unpriced models).
    public var refusals: Int
    /// Latency of answered calls, and time to first token of streams, in milliseconds (each the upper
    /// bound of its bucket, within 20 %); `nil` without such calls.
    public var latencyP50: Int?
    public var latencyP95: Int?
    public var ttftP50: Int?
    public var ttftP95: Int?

    public init(
        provider: Provider, model: String, calls: Int, errors: Int, refusals: Int, latencyP50: Int?,
        latencyP95: Int?, ttftP50: Int?, ttftP95: Int?
    ) {
        self.provider = provider
        self.model = model
        self.calls = calls
        self.errors = errors
        self.refusals = refusals
        self.latencyP50 = latencyP50
        self.latencyP95 = latencyP95
        self.ttftP50 = ttftP50
        self.ttftP95 = ttftP95
    }

    enum CodingKeys: String, CodingKey {
        case provider, model, calls, errors, refusals
        case latencyP50 = "latency_p50_ms"
        case latencyP95 = "latency_p95_ms"
        case ttftP50 = "ttft_p50_ms"
        case ttftP95 = "ttft_p95_ms"
    }

    /// Errors as a share of calls that went to the provider (refusals left out).
    public var errorRate: Double { calls > refusals ? Double(errors) / Double(calls - refusals) : 0 }
}

/// Where call health is read from.
public protocol CallHealthStore: Sendable {
    /// Each model's call health over `[from, to)`, by whole UTC days, most calls first.
    func modelHealth(org: String, from: Timestamp, to: Timestamp) async throws -> [ModelHealth]
}

/// The latency buckets: bucket `i` holds times up to `upperBound(i)` milliseconds, each bound 1.2 times
/// the one before, from 1 ms to beyond ten minutes.
public enum LatencyBuckets {
    public static let count = 80

    public static func upperBound(_ index: Int) -> Int { Int(bounds[index].rounded(.up)) }

    /// Each bucket's upper bound: 1.2 to the bucket's power.
    static let bounds: [Double] = {
        var bounds: [Double] = []
        var value = 1.0
        for _ in 0..<count {
            bounds.append(value)
            value *= 1.2
        }
        return bounds
    }()

    /// The bucket of a time in milliseconds: the first whose bound it does not exceed.
    public static func index(_ milliseconds: Int) -> Int {
        let value = Double(milliseconds)
        var low = 0
        var high = count - 1
        while low < high {
            let middle = (low + high) / 2
            if value > bounds[middle] { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The bound of the bucket holding the `quantile` (0…1) of `counts`; `nil` when there are none.
    public static func percentile(_ counts: [Int: Int], _ quantile: Double) -> Int? {
        let total = counts.values.reduce(0, +)
        guard total > 0 else { return nil }
        let rank = max(1, Int((quantile * Double(total)).rounded(.up)))
        var seen = 0
        for index in counts.keys.sorted() {
            seen += counts[index]!
            if seen >= rank { return upperBound(index) }
        }
        return nil
    }
}

/// Call health read back from the day rollups, as each database sums them: per `provider/model` the
/// calls, errors and refusals, then the latency buckets of those models.
package struct ModelHealthTally {
    private var models: [String: (calls: Int, errors: Int, refusals: Int, buckets: [[Int: Int]])] = [:]

    package init() {}

    /// A model's summed calls, errors and refusals.
    package mutating func add(model: String, calls: Int, errors: Int, refusals: Int) {
        models[model] = (calls, errors, refusals, [[:], [:]])
    }

    /// A summed latency bucket (kind 0: latency, 1: time to first token) of a model added before.
    package mutating func add(model: String, kind: Int, bucket: Int, count: Int) {
        guard kind >= 0, kind < 2, models[model] != nil else { return }
        models[model]!.buckets[kind][bucket] = count
    }

    /// Each model's health with its percentiles, most calls first.
    package var health: [ModelHealth] {
        models.compactMap { name, value -> ModelHealth? in
            guard let slash = name.firstIndex(of: "/"), let provider = Provider(rawValue: String(name[..<slash]))
            else { return nil }
            return ModelHealth(
                provider: provider, model: String(name[name.index(after: slash)...]), calls: value.calls,
                errors: value.errors, refusals: value.refusals,
                latencyP50: LatencyBuckets.percentile(value.buckets[0], 0.5),
                latencyP95: LatencyBuckets.percentile(value.buckets[0], 0.95),
                ttftP50: LatencyBuckets.percentile(value.buckets[1], 0.5),
                ttftP95: LatencyBuckets.percentile(value.buckets[1], 0.95))
        }.sorted { ($0.calls, $1.model) > ($1.calls, $0.model) }
    }
}

/// The day rollups of call health, summed in memory per batch like the usage rollups.
package struct HealthDeltas: Sendable {
    package struct Key: Hashable, Sendable {
        package var org: String
        package var day: Int64
        package var model: String
    }

    package struct Counts: Sendable {
        package var calls = 0
        package var errors = 0
        package var refusals = 0
        /// Bucket counts, for latency (`0`) and time to first token (`1`).
        package var buckets: [[Int: Int]] = [[:], [:]]
    }

    package private(set) var rows: [Key: Counts] = [:]

    package init() {}

    package mutating func add(_ event: UsageEvent) {
        let key = Key(
            org: event.org, day: event.ts.dayStart.milliseconds, model: event.provider.rawValue + "/" + event.model)
        var counts = rows[key] ?? Counts()
        counts.calls += 1
        let refused = (event.route ?? "").hasPrefix("refused:")
        if refused {
            counts.refusals += 1
        } else if (event.status ?? 200) >= 400 {
            counts.errors += 1
        } else if !event.cacheHit {
            if let latency = event.latencyMs { counts.buckets[0][LatencyBuckets.index(latency), default: 0] += 1 }
            if event.stream, let ttft = event.ttftMs {
                counts.buckets[1][LatencyBuckets.index(ttft), default: 0] += 1
            }
        }
        rows[key] = counts
    }
}
