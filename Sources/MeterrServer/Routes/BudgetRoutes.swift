import Foundation
import Hummingbird
import MeterrCore
import MeterrStore

/// `/api/budgets`: spending limits per organisation, team, user, project, key or tag, per calendar
/// period or rolling window; hard ones refuse calls that would cross them.
struct BudgetRoutes: Sendable {
    let store: any BudgetStore
    let guardian: BudgetGuard
    let clock: WallClock
    let maxBodyBytes: Int

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.get("budgets", use: list)
        group.post("budgets", use: create)
        group.patch("budgets/:id", use: update)
        group.delete("budgets/:id", use: remove)
        group.get("budgets/:id/history", use: history)
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.read)
        let org = context.principal.orgId
        // A short read: off the event loop when the page is long.
        return try await offTheLoop(if: guardian.budgetCount(org: org) > ShortReads.maxRows) {
            let budgets = try await statuses(try await store.budgets(org: org), now: clock.now())
            return try jsonResponse(BudgetList(budgets: budgets))
        }
    }

    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let members = try await collectJSONObject(request, limit: maxBodyBytes)
        guard members["name"]?.string != nil else { throw MeterrError.invalid("name", "is required") }
        guard members["limit_usd"] != nil else {
            throw MeterrError.invalid("limit_usd", "must be a positive amount such as \"250.00\"")
        }
        let now = clock.now()
        let blank = Budget(
            id: Identifier.make("bud", length: 16), orgId: context.principal.orgId, name: "", scope: .organisation,
            period: .month, timeZone: "UTC", limit: .zero, hard: false, thresholds: [50, 80, 100], createdAt: now)
        let budget = try await store.createBudget(try Self.apply(members, to: blank), actor: context.principal.keyId)
        try await guardian.reload()
        return try jsonResponse(try await status(budget, now: now), status: .created)
    }

    /// Changes a budget; a new period or time zone re-baselines it (the spend so far goes into history).
    @Sendable func update(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let id = try context.parameters.require("id")
        let members = try await collectJSONObject(request, limit: maxBodyBytes)
        guard let old = try await store.budgets(org: context.principal.orgId).first(where: { $0.id == id }) else {
            throw MeterrError(.notFound, "no such budget")
        }
        let now = clock.now()
        let budget = try await Self.change(
            old, members: members, store: store, guardian: guardian, now: now, actor: context.principal.keyId)
        return try jsonResponse(try await status(budget, now: now))
    }

    /// Changes a budget (the API and the dashboard alike); a new period or time zone re-baselines it.
    static func change(
        _ old: Budget, members: [String: JSONValue], store: any BudgetStore, guardian: BudgetGuard, now: Timestamp,
        actor: String
    ) async throws -> Budget {
        var budget = try apply(members, to: old)
        if budget.period != old.period || budget.timeZone != old.timeZone {
            try await guardian.rebaseline(old, now: now)
            budget.baselineAt = now
        }
        guard try await store.updateBudget(budget, actor: actor) else { throw MeterrError(.notFound, "no such budget") }
        try await guardian.reload()
        guardian.forget(old.id)
        return budget
    }

    @Sendable func remove(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let id = try context.parameters.require("id")
        guard try await store.deleteBudget(org: context.principal.orgId, id: id, actor: context.principal.keyId) else {
            throw MeterrError(.notFound, "no such budget")
        }
        try await guardian.reload()
        return Response(status: .noContent)
    }

    /// The closed periods of a budget, newest first (finished periods are filed as they are asked for).
    @Sendable func history(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.read)
        let id = try context.parameters.require("id")
        guard let budget = try await store.budgets(org: context.principal.orgId).first(where: { $0.id == id }) else {
            throw MeterrError(.notFound, "no such budget")
        }
        try await guardian.closeFinishedPeriods(of: budget, now: clock.now())
        let periods = try await store.closedPeriods(budgetId: budget.id, limit: 400).map { period in
            let kept = BudgetPeriod(storageName: period.period)
            return BudgetHistory.Period(
                period: kept?.name ?? period.period, windowHours: kept?.windowHours, start: period.start,
                end: period.end, limit: period.limit, spent: period.spent,
                percentUsed: period.limit.nanos > 0 ? Int(period.spent.nanos * 100 / period.limit.nanos) : 0,
                exceeded: period.spent > period.limit, reason: period.reason)
        }
        return try jsonResponse(BudgetHistory(budgetId: budget.id, periods: periods))
    }

    /// Lays the request's fields over a budget (all of them for a new one, some for a change).
    static func apply(_ members: [String: JSONValue], to base: Budget) throws -> Budget {
        var budget = base
        if let name = members["name"] {
            guard let text = name.string else { throw MeterrError.invalid("name", "must be a string") }
            budget.name = text
        }
        if members["scope"] != nil || members["value"] != nil {
            guard
                let scope = BudgetScope(
                    kind: members["scope"]?.string ?? base.scope.kind,
                    value: members["value"]?.string ?? (members["scope"] == nil ? base.scope.value : nil))
            else {
                throw MeterrError.invalid(
                    "scope", "must be org, or team, user, project, key (with value) or tag (with value key=value)")
            }
            budget.scope = scope
        }
        if members["period"] != nil || members["window_hours"] != nil {
            let name = members["period"]?.string ?? base.period.name
            let hours = members["window_hours"]?.int ?? (members["period"] == nil ? base.period.windowHours : nil)
            guard let period = BudgetPeriod(name: name, windowHours: hours) else {
                throw MeterrError.invalid(
                    "period",
                    "must be day, week, month, or rolling with window_hours from 1 to \(BudgetPeriod.maxRollingHours)")
            }
            budget.period = period
        }
        if let zone = members["time_zone"] {
            guard let name = zone.string, TimeZone(identifier: name) != nil else {
                throw MeterrError.invalid("time_zone", "is not a known time zone")
            }
            budget.timeZone = name
        }
        if let limit = members["limit_usd"] {
            let text: String? =
                switch limit {
                case .string(let text), .number(let text): text
                default: nil
                }
            guard let text, let money = Money(decimalString: text), money.nanos > 0 else {
                throw MeterrError.invalid("limit_usd", "must be a positive amount such as \"250.00\"")
            }
            budget.limit = money
        }
        if let hard = members["hard"] {
            guard case .bool(let flag) = hard else { throw MeterrError.invalid("hard", "must be true or false") }
            budget.hard = flag
        }
        if let list = members["thresholds"], !list.isNull {
            guard let values = list.array?.compactMap(\.int), values.count == list.array?.count,
                values.allSatisfy({ (1...1000).contains($0) })
            else { throw MeterrError.invalid("thresholds", "must be percentages such as [50, 80, 100]") }
            budget.thresholds = values.sorted()
        }
        return budget
    }

    /// A budget with its current period: spend, holds, forecast, and the unpriced calls it cannot count.
    func status(_ budget: Budget, now: Timestamp) async throws -> BudgetStatus {
        try await statuses([budget], now: now)[0]
    }

    /// Budgets of one organisation as they stand, their calls without a price counted in one read.
    func statuses(_ budgets: [Budget], now: Timestamp) async throws -> [BudgetStatus] {
        let statuses = try await guardian.statuses(budgets, unpricedFrom: store, now: now)
        return zip(budgets, statuses).map { budget, status in
            Self.status(of: budget, state: status.state, unpriced: status.unpriced, now: now)
        }
    }

    private static func status(
        of budget: Budget, state: BudgetGuard.PeriodState, unpriced: (requests: Int, tokens: Int), now: Timestamp
    ) -> BudgetStatus {
        let forecast =
            budget.period.isRolling
            ? nil
            : BudgetGuard.forecast(
                spent: state.spent, limit: budget.limit.nanos, periodStart: state.periodStart,
                periodEnd: state.periodEnd, now: now)
        return BudgetStatus(
            id: budget.id, name: budget.name, scope: budget.scope.kind,
            value: budget.scope.value.isEmpty ? nil : budget.scope.value, period: budget.period.name,
            windowHours: budget.period.windowHours, timeZone: budget.timeZone, limit: budget.limit,
            hard: budget.hard, thresholds: budget.thresholds, spent: Money(nanos: state.spent),
            reserved: Money(nanos: state.reserved),
            percentUsed: budget.limit.nanos > 0 ? Int(state.spent * 100 / budget.limit.nanos) : 0,
            projected: forecast?.projected, projectedToExceedAt: forecast?.exceedsAt,
            periodStart: state.periodStart, resetsAt: BudgetGuard.resetsAt(budget, state),
            unpricedRequests: unpriced.requests, unpricedTokens: unpriced.tokens)
    }
}
