import Foundation
import MeterrCore

/// What a budget covers.
public enum BudgetScope: Sendable, Hashable {
    case organisation
    case team(String)
    case user(String)
    case project(String)
    case key(String)
    /// Calls carrying this tag with this value.
    case tag(String, String)

    /// The scope's name in the API (`org`, `team`, …).
    public var kind: String {
        switch self {
        case .organisation: "org"
        case .team: "team"
        case .user: "user"
        case .project: "project"
        case .key: "key"
        case .tag: "tag"
        }
    }

    /// The entity within the kind (`search`, `key_…`, `env=prod`); empty for the organisation.
    public var value: String {
        switch self {
        case .organisation: ""
        case .team(let value), .user(let value), .project(let value), .key(let value): value
        case .tag(let key, let value): key + "=" + value
        }
    }

    /// Parses the API's form.
    public init?(kind: String, value: String?) {
        switch kind {
        case "org": self = .organisation
        case "team": guard let value, !value.isEmpty else { return nil }; self = .team(value)
        case "user": guard let value, !value.isEmpty else { return nil }; self = .user(value)
        case "project": guard let value, !value.isEmpty else { return nil }; self = .project(value)
        case "key": guard let value, !value.isEmpty else { return nil }; self = .key(value)
        case "tag":
            guard let value, let separator = value.firstIndex(of: "="), separator != value.startIndex else {
                return nil
            }
            self = .tag(String(value[..<separator]), String(value[value.index(after: separator)...]))
        default: return nil
        }
    }

    /// Whether a call with this attribution counts toward the budget.
    public func covers(team: String?, user: String?, project: String?, keyId: String?, tags: [String: String]) -> Bool {
        switch self {
        case .organisation: true
        case .team(let value): team == value
        case .user(let value): user == value
        case .project(let value): project == value
        case .key(let value): keyId == value
        case .tag(let key, let value): tags[key] == value
        }
    }
}

/// The period a budget's spend is counted over: a calendar day, week (from Monday) or month in a
/// time zone, or a rolling window of whole hours.
public enum BudgetPeriod: Sendable, Hashable {
    case day, week, month
    /// The current hour and the `hours - 1` before it.
    case rolling(hours: Int)

    /// The longest rolling window: a year of hours.
    public static let maxRollingHours = 8_784

    /// The period's name in the API (`day`, `week`, `month`, `rolling`).
    public var name: String {
        switch self {
        case .day: "day"
        case .week: "week"
        case .month: "month"
        case .rolling: "rolling"
        }
    }

    /// A rolling window's length in hours; `nil` for calendar periods.
    public var windowHours: Int? {
        if case .rolling(let hours) = self { hours } else { nil }
    }

    /// Whether this is a rolling window.
    public var isRolling: Bool { windowHours != nil }

    /// The period for people: `month`, `rolling 24 h`.
    public var label: String { windowHours.map { "rolling \($0) h" } ?? name }

    /// How the period is written in the database: the name, and a window's hours after a colon.
    public var storageName: String { windowHours.map { "rolling:\($0)" } ?? name }

    /// Parses the API's form (`period`, and `window_hours` for `rolling`).
    public init?(name: String, windowHours: Int?) {
        switch name {
        case "day": self = .day
        case "week": self = .week
        case "month": self = .month
        case "rolling":
            guard let windowHours, (1...Self.maxRollingHours).contains(windowHours) else { return nil }
            self = .rolling(hours: windowHours)
        default: return nil
        }
    }

    /// Parses the database's form.
    public init?(storageName: String) {
        if storageName.hasPrefix("rolling:") {
            self.init(name: "rolling", windowHours: Int(storageName.dropFirst("rolling:".count)))
        } else {
            self.init(name: storageName, windowHours: nil)
        }
    }

    /// The period holding `time` in `zone`: its start and the next period's start. A rolling window
    /// ends with the current hour.
    public func bounds(of time: Timestamp, in zone: TimeZone) -> (start: Timestamp, end: Timestamp) {
        if case .rolling(let hours) = self {
            let end = time.hourStart.adding(milliseconds: 3_600_000)
            return (end.adding(milliseconds: -Int64(hours) * 3_600_000), end)
        }
        return LocalCalendar(zone: zone).bounds(
            of: self == .day ? .day : self == .week ? .week : .month, holding: time)
    }
}

/// A spending limit on an organisation or part of it, per calendar period.
public struct Budget: Sendable, Hashable {
    public var id: String
    public var orgId: String
    public var name: String
    public var scope: BudgetScope
    public var period: BudgetPeriod
    /// The time zone the period follows (an IANA name).
    public var timeZone: String
    public var limit: Money
    /// Whether calls are refused at the limit (otherwise it only alerts).
    public var hard: Bool
    /// Percentages that alert (50, 80, 100 by default).
    public var thresholds: [Int]
    public var createdAt: Timestamp
    /// When its period or time zone last changed (its creation if never): history starts here.
    public var baselineAt: Timestamp

    /// Creates a budget.
    public init(
        id: String, orgId: String, name: String, scope: BudgetScope, period: BudgetPeriod, timeZone: String,
        limit: Money, hard: Bool, thresholds: [Int], createdAt: Timestamp, baselineAt: Timestamp? = nil
    ) {
        self.id = id
        self.orgId = orgId
        self.name = name
        self.scope = scope
        self.period = period
        self.timeZone = timeZone
        self.limit = limit
        self.hard = hard
        self.thresholds = thresholds
        self.createdAt = createdAt
        self.baselineAt = baselineAt ?? createdAt
    }

    /// The budget's zone (UTC if the name is unknown).
    public var zone: TimeZone { TimeZone(identifier: timeZone) ?? TimeZone(identifier: "UTC")! }
}

/// One finished period of a budget, kept as history.
public struct ClosedPeriod: Sendable, Hashable {
    public var budgetId: String
    public var start: Timestamp
    /// The period's end; earlier than the calendar's when the budget's period was changed within it.
    public var end: Timestamp
    /// The budget's period then, as the database writes it (`month`, `rolling:24`).
    public var period: String
    public var limit: Money
    public var spent: Money
    /// `ended` (the period ran out) or `changed` (the budget's period or time zone changed).
    public var reason: String

    /// Creates a history entry.
    public init(
        budgetId: String, start: Timestamp, end: Timestamp, period: String, limit: Money, spent: Money, reason: String
    ) {
        self.budgetId = budgetId
        self.start = start
        self.end = end
        self.period = period
        self.limit = limit
        self.spent = spent
        self.reason = reason
    }
}

/// What a budget counts in one of its periods: its scope in `[from, to)`.
public struct BudgetPeriodScope: Sendable, Hashable {
    public var scope: BudgetScope
    public var from: Timestamp
    public var to: Timestamp

    public init(scope: BudgetScope, from: Timestamp, to: Timestamp) {
        self.scope = scope
        self.from = from
        self.to = to
    }
}

/// Budgets and the spend they are measured against.
public protocol BudgetStore: Sendable {
    func createBudget(_ budget: Budget, actor: String) async throws -> Budget
    func budgets(org: String) async throws -> [Budget]
    func allBudgets() async throws -> [Budget]
    /// Replaces a budget of `org` (same id); `false` if it has none with that id.
    func updateBudget(_ budget: Budget, actor: String) async throws -> Bool
    func deleteBudget(org: String, id: String, actor: String) async throws -> Bool
    /// The priced spend in `[from, to)` of the calls a scope covers.
    func spend(org: String, scope: BudgetScope, from: Timestamp, to: Timestamp) async throws -> Money
    /// The calls in `[from, to)` a scope covers whose model had no price, and their input and output
    /// tokens: what no budget can count.
    func unpricedUsage(org: String, scope: BudgetScope, from: Timestamp, to: Timestamp) async throws -> (
        requests: Int, tokens: Int
    )
    /// `unpricedUsage` of several periods at once, in their order: one database read where the store
    /// can (a page of budgets asks for each budget's current period).
    func unpricedUsage(org: String, of periods: [BudgetPeriodScope]) async throws -> [(requests: Int, tokens: Int)]
    /// The same spend per hour (hour start → nano-dollars), for rolling windows.
    func hourlySpend(org: String, scope: BudgetScope, from: Timestamp, to: Timestamp) async throws -> [Int64: Int64]
    /// Keeps closed periods (each budget, start and end once).
    func recordClosedPeriods(_ periods: [ClosedPeriod]) async throws
    /// A budget's closed periods, newest first.
    func closedPeriods(budgetId: String, limit: Int) async throws -> [ClosedPeriod]
}
