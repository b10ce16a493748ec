import MeterrCore

/// The dimensions the rollups keep totals for, each at hour and day grain.
enum RollupDimension: Int, CaseIterable, Sendable {
    case all = 0, provider, model, team, user, project, key
    /// A team's users, `team␟user` (the team drill-down).
    case teamUser

    /// The separator of combined values (U+001F, never in a name meterr accepts from a header).
    static let separator = "\u{1F}"

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

    /// The value an event has in this dimension, in its parts (joined only once per row, not per
    /// event); `""` when it is unattributed. Models are kept as `provider/model`, since two
    /// providers can serve models of the same name.
    func parts(of event: UsageEvent) -> RollupValue {
        switch self {
        case .all: RollupValue(first: "")
        case .provider: RollupValue(first: event.provider.rawValue)
        case .model: RollupValue(first: event.provider.rawValue, second: event.model)
        case .team: RollupValue(first: event.team ?? "")
        case .user: RollupValue(first: event.user ?? "")
        case .project: RollupValue(first: event.project ?? "")
        case .key: RollupValue(first: event.keyId ?? "")
        case .teamUser: RollupValue(first: event.team ?? "", second: event.user ?? "")
        }
    }

    /// A value's parts joined as the rollups store them: `provider/model`, `team␟user`.
    func value(_ parts: RollupValue) -> String {
        guard let second = parts.second else { return parts.first }
        return parts.first + (self == .model ? "/" : Self.separator) + second
    }
}

/// A rollup value before its parts are joined.
struct RollupValue: Hashable, Sendable {
    var first: String
    var second: String?
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
///
/// Events of a batch nearly always share their organisation and hour, so the deltas are kept per
/// (organisation, hour) and, inside, per dimension by value: one short string hash per dimension
/// and event.
struct RollupDeltas: Sendable {
    struct Slot: Hashable, Sendable {
        var org: String
        var hour: Int64
    }

    private var slots: [Slot: [[RollupValue: UsageTotals]]] = [:]
    private var lastSlot: Slot?

    mutating func add(_ event: UsageEvent) {
        let slot = Slot(org: event.org, hour: RollupGrain.hour.bucket(event.ts))
        if slot != lastSlot, slots[slot] == nil {
            slots[slot] = Array(repeating: [:], count: RollupDimension.allCases.count)
        }
        lastSlot = slot
        slots[slot]!.withUnsafeMutableBufferPointer { dimensions in
            for dimension in RollupDimension.allCases {
                dimensions[dimension.rawValue][dimension.parts(of: event), default: UsageTotals()].add(event)
            }
        }
    }

    /// Calls `body` with each row's delta: every hour's, then every day's (the hours of a batch that
    /// share a day summed into one), in key order, so each row is written once per batch and writers
    /// always touch rows in the same order.
    func forEachRow(_ body: (RollupKey, UsageTotals) throws -> Void) rethrows {
        var days: [RollupKey: UsageTotals] = [:]
        for (slot, dimensions) in slots.sorted(by: { ($0.key.org, $0.key.hour) < ($1.key.org, $1.key.hour) }) {
            let day = Timestamp(milliseconds: slot.hour).dayStart.milliseconds
            for dimension in RollupDimension.allCases {
                let rows = dimensions[dimension.rawValue].map { (dimension.value($0.key), $0.value) }
                for (value, totals) in rows.sorted(by: { $0.0 < $1.0 }) {
                    try body(
                        RollupKey(org: slot.org, grain: .hour, dimension: dimension, bucket: slot.hour, value: value),
                        totals)
                    days[
                        RollupKey(org: slot.org, grain: .day, dimension: dimension, bucket: day, value: value),
                        default: UsageTotals()] += totals
                }
            }
        }
        for (key, totals) in days.sorted(by: { $0.key < $1.key }) { try body(key, totals) }
    }
}

extension RollupKey: Comparable {
    /// The table's key order: organisation, grain, dimension, bucket, value.
    static func < (lhs: RollupKey, rhs: RollupKey) -> Bool {
        (lhs.org, lhs.grain.rawValue, lhs.dimension.rawValue, lhs.bucket, lhs.value)
            < (rhs.org, rhs.grain.rawValue, rhs.dimension.rawValue, rhs.bucket, rhs.value)
    }
}
