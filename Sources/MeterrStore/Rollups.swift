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
        case .teamUser: (event.team ?? "") + Self.separator + (event.user ?? "")
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
///
/// Events of a batch nearly always share their organisation and hour, so the deltas are kept per
/// (organisation, hour) and, inside, per dimension by value: one short string hash per dimension
/// and event.
struct RollupDeltas: Sendable {
    struct Slot: Hashable, Sendable {
        var org: String
        var hour: Int64
    }

    private var slots: [Slot: [[String: UsageTotals]]] = [:]
    private var lastSlot: Slot?

    mutating func add(_ event: UsageEvent) {
        let slot = Slot(org: event.org, hour: RollupGrain.hour.bucket(event.ts))
        if slot != lastSlot, slots[slot] == nil {
            slots[slot] = Array(repeating: [:], count: RollupDimension.allCases.count)
        }
        lastSlot = slot
        slots[slot]!.withUnsafeMutableBufferPointer { dimensions in
            for dimension in RollupDimension.allCases {
                dimensions[dimension.rawValue][dimension.value(of: event), default: UsageTotals()].add(event)
            }
        }
    }

    /// Calls `body` with each hourly row's delta and the same delta for its daily row; the
    /// upsert adds deltas up, so a day that several hours of the batch share is summed in SQL.
    func forEachRow(_ body: (RollupKey, UsageTotals) throws -> Void) rethrows {
        for (slot, dimensions) in slots {
            let day = Timestamp(milliseconds: slot.hour).dayStart.milliseconds
            for dimension in RollupDimension.allCases {
                for (value, totals) in dimensions[dimension.rawValue] {
                    try body(
                        RollupKey(org: slot.org, grain: .hour, dimension: dimension, bucket: slot.hour, value: value),
                        totals)
                    try body(
                        RollupKey(org: slot.org, grain: .day, dimension: dimension, bucket: day, value: value), totals)
                }
            }
        }
    }
}
