import Foundation
import Hummingbird
import MeterrCore
import MeterrStore

/// `/api/budgets`: spending limits per organisation, team, user, project, key or tag, per calendar
/// period; hard ones refuse calls that would cross them.
struct BudgetRoutes: Sendable {
    let store: any BudgetStore
    let guardian: BudgetGuard
    let maxBodyBytes: Int

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.get("budgets", use: list)
        group.post("budgets", use: create)
        group.delete("budgets/:id", use: remove)
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.read)
        let now = Timestamp.now()
        var json = JSONWriter()
        json.beginObject()
        json.beginArray("budgets")
        for budget in try await store.budgets(org: context.principal.orgId) {
            let state = try await guardian.status(budget, now: now)
            write(budget, state: state, to: &json)
        }
        json.endArray()
        json.endObject()
        return jsonResponse(bytes: json.bytes)
    }

    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let members = try await collectJSONObject(request, limit: maxBodyBytes)
        guard let name = members["name"]?.string else { throw MeterrError.invalid("name", "is required") }
        guard let scope = BudgetScope(kind: members["scope"]?.string ?? "org", value: members["value"]?.string) else {
            throw MeterrError.invalid(
                "scope", "must be org, or team, user, project, key (with value) or tag (with value key=value)")
        }
        guard let period = BudgetPeriod(rawValue: members["period"]?.string ?? "month") else {
            throw MeterrError.invalid("period", "must be day, week or month")
        }
        let zone = members["time_zone"]?.string ?? "UTC"
        guard TimeZone(identifier: zone) != nil else {
            throw MeterrError.invalid("time_zone", "is not a known time zone")
        }
        let limitText: String? =
            switch members["limit_usd"] {
            case .string(let text): text
            case .number(let text): text
            default: nil
            }
        guard let limitText, let limit = Money(decimalString: limitText), limit.nanos > 0 else {
            throw MeterrError.invalid("limit_usd", "must be a positive amount such as \"250.00\"")
        }
        var thresholds = [50, 80, 100]
        if let list = members["thresholds"], !list.isNull {
            guard let values = list.array?.compactMap(\.int), values.count == list.array?.count,
                values.allSatisfy({ (1...1000).contains($0) })
            else { throw MeterrError.invalid("thresholds", "must be percentages such as [50, 80, 100]") }
            thresholds = values.sorted()
        }
        let budget = try await store.createBudget(
            Budget(
                id: Identifier.make("bud", length: 16), orgId: context.principal.orgId, name: name, scope: scope,
                period: period, timeZone: zone, limit: limit, hard: members["hard"] == .bool(true),
                thresholds: thresholds, createdAt: .now()),
            actor: context.principal.keyId)
        try await guardian.reload()
        var out = JSONWriter()
        write(budget, state: try await guardian.status(budget, now: .now()), to: &out)
        return jsonResponse(bytes: out.bytes, status: .created)
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

    func write(_ budget: Budget, state: BudgetGuard.PeriodState, to json: inout JSONWriter) {
        json.beginObject()
        json.string("id", budget.id)
        json.string("name", budget.name)
        json.string("scope", budget.scope.kind)
        json.string("value", budget.scope.value.isEmpty ? nil : budget.scope.value)
        json.string("period", budget.period.rawValue)
        json.string("time_zone", budget.timeZone)
        json.string("limit_usd", budget.limit.decimalString)
        json.bool("hard", budget.hard)
        json.beginArray("thresholds")
        for threshold in budget.thresholds { json.int(nil, threshold) }
        json.endArray()
        json.string("spent_usd", Money(nanos: state.spent).decimalString)
        json.string("reserved_usd", Money(nanos: state.reserved).decimalString)
        json.int("percent_used", budget.limit.nanos > 0 ? Int(state.spent * 100 / budget.limit.nanos) : 0)
        let forecast = BudgetGuard.forecast(
            spent: state.spent, limit: budget.limit.nanos, periodStart: state.periodStart, periodEnd: state.periodEnd,
            now: .now())
        json.string("projected_usd", forecast?.projected.decimalString)
        json.string("projected_to_exceed_at", forecast?.exceedsAt?.rfc3339)
        json.string("period_start", state.periodStart.rfc3339)
        json.string("resets_at", state.periodEnd.rfc3339)
        json.endObject()
    }
}
