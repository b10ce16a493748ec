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
        let now = clock.now()
        var json = JSONWriter()
        json.beginObject()
        json.beginArray("budgets")
        for budget in try await store.budgets(org: context.principal.orgId) {
            try await write(budget, now: now, to: &json)
        }
        json.endArray()
        json.endObject()
        return jsonResponse(bytes: json.bytes)
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
        var out = JSONWriter()
        try await write(budget, now: now, to: &out)
        return jsonResponse(bytes: out.bytes, status: .created)
    }

    /// Changes a budget; a new period or time zone re-baselines it (the spend so far goes into history).
    @Sendable func update(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let id = try context.parameters.require("id")
        let members = try await collectJSONObject(request, limit: maxBodyBytes)
        guard let old = try await store.budgets(org: context.principal.orgId).first(where: { $0.id == id }) else {
            throw MeterrError(.notFound, "no such budget")
        }
        var budget = try Self.apply(members, to: old)
        let now = clock.now()
        let rebaselined = budget.period != old.period || budget.timeZone != old.timeZone
        if rebaselined {
            try await guardian.rebaseline(old, now: now)
            budget.baselineAt = now
        }
        guard try await store.updateBudget(budget, actor: context.principal.keyId) else {
            throw MeterrError(.notFound, "no such budget")
        }
        try await guardian.reload()
        guardian.forget(id)
        var out = JSONWriter()
        try await write(budget, now: now, to: &out)
        return jsonResponse(bytes: out.bytes)
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
        var json = JSONWriter()
        json.beginObject()
        json.string("budget_id", budget.id)
        json.beginArray("periods")
        for period in try await store.closedPeriods(budgetId: budget.id, limit: 400) {
            json.beginObject()
            let kept = BudgetPeriod(storageName: period.period)
            json.string("period", kept?.name ?? period.period)
            json.int("window_hours", kept?.windowHours)
            json.string("start", period.start.rfc3339)
            json.string("end", period.end.rfc3339)
            json.string("limit_usd", period.limit.decimalString)
            json.string("spent_usd", period.spent.decimalString)
            json.int("percent_used", period.limit.nanos > 0 ? Int(period.spent.nanos * 100 / period.limit.nanos) : 0)
            json.bool("exceeded", period.spent > period.limit)
            json.string("reason", period.reason)
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return jsonResponse(bytes: json.bytes)
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
    func write(_ budget: Budget, now: Timestamp, to json: inout JSONWriter) async throws {
        let state = try await guardian.status(budget, now: now)
        let unpriced = try await store.unpricedUsage(
            org: budget.orgId, scope: budget.scope, from: state.periodStart, to: state.periodEnd)
        json.beginObject()
        json.string("id", budget.id)
        json.string("name", budget.name)
        json.string("scope", budget.scope.kind)
        json.string("value", budget.scope.value.isEmpty ? nil : budget.scope.value)
        json.string("period", budget.period.name)
        json.int("window_hours", budget.period.windowHours)
        json.string("time_zone", budget.timeZone)
        json.string("limit_usd", budget.limit.decimalString)
        json.bool("hard", budget.hard)
        json.beginArray("thresholds")
        for threshold in budget.thresholds { json.int(nil, threshold) }
        json.endArray()
        json.string("spent_usd", Money(nanos: state.spent).decimalString)
        json.string("reserved_usd", Money(nanos: state.reserved).decimalString)
        json.int("percent_used", budget.limit.nanos > 0 ? Int(state.spent * 100 / budget.limit.nanos) : 0)
        let forecast =
            budget.period.isRolling
            ? nil
            : BudgetGuard.forecast(
                spent: state.spent, limit: budget.limit.nanos, periodStart: state.periodStart,
                periodEnd: state.periodEnd, now: now)
        json.string("projected_usd", forecast?.projected.decimalString)
        json.string("projected_to_exceed_at", forecast?.exceedsAt?.rfc3339)
        json.string("period_start", state.periodStart.rfc3339)
        json.string("resets_at", BudgetGuard.resetsAt(budget, state).rfc3339)
        json.int("unpriced_requests", unpriced.requests)
        json.int("unpriced_tokens", unpriced.tokens)
        json.endObject()
    }
}
