import MeterrCore

/// The dimensions the rollups keep totals for, each at hour and day grain.
enum RollupDimension: Int, CaseIterable, Sendable {
    case all = 0, provider, model, team, user, project, key

    init(_ grouping: SummaryGrouping) {
        switch grouping {
        case .none, .day, .hour: self = .all
        case .provider: self = .provider
        case .model: self = .model
        case .team: self = .team
        case .user: self = .user
        case .project: self = .project
        case .key: self = .key
        }
    }

    /// The value an event has in this dimension; `""` when it is unattributed.
    /// Models are kept as `provider/model`, since two providers can serve models of the same name.
    func value(of event: UsageEvent) -> String {
        switch self {
        case .all: ""
        case .provider: event.provider.rawValue
        case .model: event.provider.rawValue + "/" + event.model
        case .team: event.team ?? ""
        case .user: event.user ?? ""
        case .project: event.project ?? ""
        case .key: event.keyId ?? ""
        }
    }
}

/// Rollup grains: the bucket widths.
enum RollupGrain: Int, Sendable {
    case hour = 0, day = 1

    var milliseconds: Int64 { self == .hour ? 3_600_000 : 86_400_000 }

    func bucket(_ ts: Timestamp) -> Int64 { self == .hour ? ts.hourStart.milliseconds : ts.dayStart.milliseconds }
}

/// The key of one rollup row.
struct RollupKey: Hashable, Sendable {
    var org: String
    var grain: RollupGrain
    var dimension: RollupDimension
    var bucket: Int64
    var value: String
}

/// Rollup deltas of a batch of new events, summed in memory so each row is written once per batch.
struct RollupDeltas: Sendable {
    private(set) var rows: [RollupKey: UsageTotals] = [:]

    mutating func add(_ event: UsageEvent) {
        for grain in [RollupGrain.hour, .day] {
            let bucket = grain.bucket(event.ts)
            for dimension in RollupDimension.allCases {
                let key = RollupKey(
                    org: event.org, grain: grain, dimension: dimension, bucket: bucket,
                    value: dimension.value(of: event))
                rows[key, default: UsageTotals()].add(event)
            }
        }
    }
}
