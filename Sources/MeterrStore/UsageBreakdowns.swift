import MeterrCore

/// A column of the raw events that a breakdown can group by.
public enum BreakdownColumn: String, Sendable, CaseIterable {
    case team, user, project
    case key = "key_id"
    case provider, model
}

/// One group of a breakdown: its values, in the order of the columns asked for, and its totals.
public struct BreakdownRow: Sendable, Hashable {
    /// The group's value per column; `nil` for unattributed calls.
    public var values: [String?]
    /// The totals of the group.
    public var totals: UsageTotals

    /// Creates a row.
    public init(values: [String?], totals: UsageTotals) {
        self.values = values
        self.totals = totals
    }
}

/// Totals across two attributes at once (a team's users and keys), which the one-dimensional
/// rollups do not keep: read from the raw events of a filtered range, for drill-downs, not for
/// the overview.
public protocol UsageBreakdowns: Sendable {
    /// The totals of the organisation's events that `filter` selects, grouped by `columns`, by
    /// cost, largest first; at most `limit` groups.
    func breakdown(org: String, filter: EventFilter, by columns: [BreakdownColumn], limit: Int) async throws
        -> [BreakdownRow]

    /// The priced cost per day of `calendar` and value of a dimension (`team` or `model`, models as
    /// `provider/model`; `""` for calls without a team) over the days from `from` to `to`, from the
    /// rollups.
    func dailyCost(
        org: String, by grouping: SummaryGrouping, from: Timestamp, to: Timestamp, calendar: LocalCalendar
    ) async throws -> [(day: Timestamp, value: String, cost: Money)]

    /// One team's totals over `[from, to)` by user (values `[user]`), from the rollups (hour
    /// resolution), largest cost first.
    func teamUsers(org: String, team: String, from: Timestamp, to: Timestamp) async throws -> [BreakdownRow]
}
