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

/// A calendar period: day, week (from Monday) or month, in a time zone.
public enum BudgetPeriod: String, Sendable, Hashable, CaseIterable {
    case day, week, month

    /// The period holding `time` in `zone`: its start and the next period's start.
    public func bounds(of time: Timestamp, in zone: TimeZone) -> (start: Timestamp, end: Timestamp) {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = zone
        let date = Date(timeIntervalSince1970: Double(time.milliseconds) / 1000)
        let component: Calendar.Component = self == .day ? .day : self == .week ? .weekOfYear : .month
        let interval = calendar.dateInterval(of: component, for: date)!
        return (
            Timestamp(milliseconds: Int64((interval.start.timeIntervalSince1970 * 1000).rounded())),
            Timestamp(milliseconds: Int64((interval.end.timeIntervalSince1970 * 1000).rounded()))
        )
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

    /// Creates a budget.
    public init(
        id: String, orgId: String, name: String, scope: BudgetScope, period: BudgetPeriod, timeZone: String,
        limit: Money, hard: Bool, thresholds: [Int], createdAt: Timestamp
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
    }

    /// The budget's zone (UTC if the name is unknown).
    public var zone: TimeZone { TimeZone(identifier: timeZone) ?? TimeZone(identifier: "UTC")! }
}

/// Budgets and the spend they are measured against.
public protocol BudgetStore: Sendable {
    func createBudget(_ budget: Budget, actor: String) async throws -> Budget
    func budgets(org: String) async throws -> [Budget]
    func allBudgets() async throws -> [Budget]
    func deleteBudget(org: String, id: String, actor: String) async throws -> Bool
    /// The priced spend in `[from, to)` of the calls a scope covers.
    func spend(org: String, scope: BudgetScope, from: Timestamp, to: Timestamp) async throws -> Money
}
