import MeterrCore

/// The dimensions the rollups keep totals for, each at hour and day grain.
package enum RollupDimension: Int, CaseIterable, Sendable {
    case all = 0, provider, model, team, user, project, key
    /// A team's users, `team␟user` (the team drill-down).
    case teamUser

    /// The separator of combined values (U+001F, never in a name meterr accepts from a header).
    package static let separator = "\u{1F}"

    package init(_ grouping: SummaryGrouping) {
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
    package func parts(of event: UsageEvent) -> RollupValue {
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
    package func value(_ parts: RollupValue) -> String {
        guard let second = parts.second else { return parts.first }
        return parts.first + (self == .model ? "/" : Self.separator) + second
    }
}

/// A rollup value before its parts are joined.
package struct RollupValue: Hashable, Sendable {
    package var first: String
    package var second: String?
}

/// Rollup grains: the bucket widths.
package enum RollupGrain: Int, Sendable {
    case hour = 0, day = 1

    package var milliseconds: Int64 { self == .hour ? 3_600_000 : 86_400_000 }

    package func bucket(_ ts: Timestamp) -> Int64 {
        self == .hour ? ts.hourStart.milliseconds : ts.dayStart.milliseconds
    }
}

/// The key of one rollup row.
package struct RollupKey: Hashable, Sendable {
    package var org: String
    package var grain: RollupGrain
    package var dimension: RollupDimension
    package var bucket: Int64
    package var value: String
}

/// Rollup deltas of a batch of new events, summed in memory so each row is written once per batch.
///
/// Events of a batch nearly always share their organisation and hour, so the deltas are kept per
/// (organisation, hour) and, inside, per dimension by value: one short string hash per dimension
/// and event.
package struct RollupDeltas: Sendable {
    struct Slot: Hashable, Sendable {
        var org: String
        var hour: Int64
    }

    private var slots: [Slot: [[RollupValue: UsageTotals]]] = [:]
    private var lastSlot: Slot?

    package init() {}

    package mutating func add(_ event: UsageEvent) {
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
    package func forEachRow(_ body: (RollupKey, UsageTotals) throws -> Void) rethrows {
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
    package static func < (lhs: RollupKey, rhs: RollupKey) -> Bool {
        (lhs.org, lhs.grain.rawValue, lhs.dimension.rawValue, lhs.bucket, lhs.value)
            < (rhs.org, rhs.grain.rawValue, rhs.dimension.rawValue, rhs.bucket, rhs.value)
    }
}

/// How a summary is read from rollup rows, whatever database holds them.
package enum RollupSummary {
    /// The rollup rows that cover `[from, to)` (floored and ceiled to the hour): whole days from the
    /// daily rollups, the hours at either edge from the hourly ones (all hourly when `hourly`).
    package static func ranges(from: Timestamp, to: Timestamp, hourly: Bool) -> [(RollupGrain, Int64, Int64)] {
        let hourFrom = from.hourStart.milliseconds
        let hourTo =
            to.milliseconds == to.hourStart.milliseconds ? to.milliseconds : to.hourStart.milliseconds + 3_600_000
        let dayFrom = Timestamp(milliseconds: hourFrom + 86_400_000 - 1).dayStart.milliseconds
        let dayTo = Timestamp(milliseconds: hourTo).dayStart.milliseconds
        return hourly || dayFrom >= dayTo
            ? [(.hour, hourFrom, hourTo)]
            : [(.hour, hourFrom, dayFrom), (.day, dayFrom, dayTo), (.hour, dayTo, hourTo)]
    }

    /// The ranges a summary grouped by `groupBy` reads: local days are made of hours, UTC days come
    /// whole from the daily rollups.
    package static func ranges(
        from: Timestamp, to: Timestamp, groupBy: SummaryGrouping, calendar: LocalCalendar
    ) -> [(RollupGrain, Int64, Int64)] {
        ranges(from: from, to: to, hourly: groupBy == .hour || (groupBy == .day && !calendar.isUTC))
    }

    /// The group a rollup row counts in: its value, or for `.day` and `.hour` its bucket (days of `calendar`).
    package static func key(value: String, bucket: Int64, groupBy: SummaryGrouping, calendar: LocalCalendar)
        -> String
    {
        switch groupBy {
        case .day: String(calendar.dayStart(Timestamp(milliseconds: bucket)).milliseconds)
        case .hour: String(bucket)
        default: value
        }
    }

    /// Rollup rows `(bucket, value, cost)` of whole UTC days or hours as each day of `calendar` and
    /// value's cost (UTC rows as they are).
    package static func dailyCost(_ rows: [(Int64, String, Int64)], calendar: LocalCalendar)
        -> [(day: Timestamp, value: String, cost: Money)]
    {
        guard !calendar.isUTC else { return rows.map { (Timestamp(milliseconds: $0.0), $0.1, Money(nanos: $0.2)) } }
        var days: [DayValue: Int64] = [:]
        // Each hour's local day is worked out once, not once per row of the hour.
        var dayOfHour: [Int64: Int64] = [:]
        for (bucket, value, cost) in rows {
            if dayOfHour[bucket] == nil {
                dayOfHour[bucket] = calendar.dayStart(Timestamp(milliseconds: bucket)).milliseconds
            }
            days[DayValue(day: dayOfHour[bucket]!, value: value), default: 0] += cost
        }
        return days.map { (Timestamp(milliseconds: $0.key.day), $0.key.value, Money(nanos: $0.value)) }
    }

    private struct DayValue: Hashable {
        var day: Int64
        var value: String
    }

    /// The summary of rows summed by group key (see `key`).
    package static func summary(
        _ groups: [String: UsageTotals], groupBy: SummaryGrouping, ranges: [(RollupGrain, Int64, Int64)]
    ) -> UsageSummary {
        var total = UsageTotals()
        var result: [SummaryGroup] = []
        for (key, totals) in groups {
            total += totals
            switch groupBy {
            case .none:
                break
            case .day, .hour:
                result.append(SummaryGroup(value: Timestamp(milliseconds: Int64(key) ?? 0).rfc3339, totals: totals))
            case .model:
                let parts = key.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
                result.append(
                    SummaryGroup(
                        value: parts.count == 2 ? String(parts[1]) : key, provider: String(parts[0]), totals: totals))
            default:
                result.append(SummaryGroup(value: key.isEmpty ? nil : key, totals: totals))
            }
        }
        if groupBy == .day || groupBy == .hour {
            result.sort { ($0.value ?? "") < ($1.value ?? "") }
        } else {
            result.sort { ($0.totals.pricedCost, $1.value ?? "") > ($1.totals.pricedCost, $0.value ?? "") }
        }
        return UsageSummary(
            from: Timestamp(milliseconds: ranges.first!.1), to: Timestamp(milliseconds: ranges.last!.2),
            groupBy: groupBy, groups: result, totals: total)
    }
}

/// How a budget's spend and its calls without a price in `[from, to)` are read. Counted from the events,
/// that was a scan of the period's events for every budget: its spend when its period first loads (a
/// gateway call waits for it), and its unpriced calls on every read of a budgets page, growing with the
/// ledger. The whole hours inside the period come from the rollups (whole days from the daily ones),
/// which are committed with the events they count; only the part-hours at either edge (a period in a
/// time zone such as India's starts on a half hour) and tag scopes, which have no rollups, read the
/// events.
package struct RollupPlan: Sendable {
    /// The rollups' dimension and value that count the scope's calls; `nil` when the events are read
    /// for the whole range.
    package let rollup: (dimension: RollupDimension, value: String)?
    /// The rollups' ranges to sum: grain, first bucket, end (exclusive).
    package let ranges: [(grain: RollupGrain, from: Int64, to: Int64)]
    /// The ranges read from the events.
    package let edges: [(from: Timestamp, to: Timestamp)]

    package init(scope: BudgetScope, from: Timestamp, to: Timestamp) {
        let hoursFrom = Timestamp(milliseconds: from.hourStart.milliseconds + (from == from.hourStart ? 0 : 3_600_000))
        let hoursTo = to.hourStart
        guard let rollup = Self.rollup(of: scope), hoursFrom < hoursTo else {
            (self.rollup, ranges, edges) = (nil, [], from < to ? [(from, to)] : [])
            return
        }
        self.rollup = rollup
        ranges = RollupSummary.ranges(from: hoursFrom, to: hoursTo, hourly: false).filter { $0.1 < $0.2 }.map {
            (grain: $0.0, from: $0.1, to: $0.2)
        }
        edges = [(from, hoursFrom), (hoursTo, to)].filter { $0.0 < $0.1 }
    }

    /// The rollups' dimension and value that count a scope's calls; none for a tag, or for an empty
    /// value (the rollups' value of calls without one).
    static func rollup(of scope: BudgetScope) -> (dimension: RollupDimension, value: String)? {
        let counted: (dimension: RollupDimension, value: String)? =
            switch scope {
            case .organisation: (.all, "")
            case .team(let value): (.team, value)
            case .user(let value): (.user, value)
            case .project(let value): (.project, value)
            case .key(let value): (.key, value)
            case .tag: nil
            }
        guard let counted, counted.dimension == .all || !counted.value.isEmpty else { return nil }
        return counted
    }
}
