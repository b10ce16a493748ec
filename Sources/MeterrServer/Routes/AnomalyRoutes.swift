import Hummingbird
import MeterrCore
import MeterrStore

/// `/api/policy` (cool-downs, re-notification and anomaly thresholds per organisation) and
/// `/api/anomalies` (baselines, blocks, lifting a block).
struct AnomalyRoutes: Sendable {
    let store: any PolicyStore
    let policies: PolicyCache
    let detector: AnomalyDetector
    let unpriced: UnpricedPricing
    let clock: WallClock
    let maxBodyBytes: Int

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.get("policy", use: policy)
        group.put("policy", use: setPolicy)
        group.get("anomalies/baselines", use: baselines)
        group.get("anomalies/blocks", use: blocks)
        group.post("anomalies/blocks/:id/lift", use: lift)
    }

    @Sendable func policy(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.read)
        return try await policyResponse(org: context.principal.orgId)
    }

    /// The policy as in force: an unpriced policy the organisation did not set is the server's.
    func policyResponse(org: String) async throws -> Response {
        var policy = try await policies.policy(org: org)
        policy.unpriced = policy.unpriced ?? unpriced.serverDefault
        var json = JSONWriter()
        policy.write(to: &json)
        return jsonResponse(bytes: json.bytes)
    }

    /// Lays a partial policy over the current one.
    @Sendable func setPolicy(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let members = try await collectJSONObject(request, limit: maxBodyBytes)
        let org = context.principal.orgId
        let policy = try await policies.policy(org: org).merging(.object(members))
        if let model = policy.unpriced?.fallbackModel, unpriced.engine.resolve(model: model, provider: nil) == nil {
            throw MeterrError.invalid("unpriced_fallback_model", "the price catalog has no model \"\(model)\"")
        }
        try await policies.set(org: org, policy, actor: context.principal.keyId)
        return try await policyResponse(org: org)
    }

    /// Each entity's baselines and its current hour.
    @Sendable func baselines(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.read)
        let org = context.principal.orgId
        try await detector.prepare(org: org)
        let settings = try await policies.policy(org: org).anomalies
        var json = JSONWriter()
        json.beginObject()
        json.beginArray("entities")
        for (entity, activity) in detector.activity(org: org).sorted(by: { $0.key < $1.key }) {
            json.beginObject()
            json.string("entity", entity)
            json.int("hours_observed", activity.hoursObserved)
            json.bool("warmed_up", activity.hoursObserved >= settings.warmupHours)
            json.string("hour", Timestamp(milliseconds: activity.hour).rfc3339)
            json.string("cost_usd", Money(nanos: activity.costNanos).decimalString)
            json.string("baseline_cost_usd", Money(nanos: Int64(activity.costBaseline.mean.rounded())).decimalString)
            json.string(
                "baseline_cost_deviation_usd",
                Money(nanos: Int64(activity.costBaseline.deviation.rounded())).decimalString)
            json.int("tokens", activity.tokens)
            json.int("baseline_tokens", Int64(activity.tokensBaseline.mean.rounded()))
            json.int("requests", activity.requests)
            json.int("baseline_requests", Int64(activity.requestsBaseline.mean.rounded()))
            json.bool("rate_limited", activity.rateLimited)
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return jsonResponse(bytes: json.bytes)
    }

    /// Blocks (each an investigation): open while in force, then `expired` or `lifted`.
    @Sendable func blocks(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.read)
        let now = clock.now()
        var json = JSONWriter()
        json.beginObject()
        json.beginArray("blocks")
        for block in try await store.blocks(org: context.principal.orgId, limit: 500) {
            write(block, now: now, to: &json)
        }
        json.endArray()
        json.endObject()
        return jsonResponse(bytes: json.bytes)
    }

    @Sendable func lift(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let id = try context.parameters.require("id")
        let now = clock.now()
        guard
            let block = try await store.liftBlock(
                org: context.principal.orgId, id: id, at: now, actor: context.principal.keyId)
        else { throw MeterrError(.notFound, "no such block") }
        detector.lifted(block)
        var json = JSONWriter()
        write(block, now: now, to: &json)
        return jsonResponse(bytes: json.bytes)
    }

    func write(_ block: AnomalyBlock, now: Timestamp, to json: inout JSONWriter) {
        json.beginObject()
        json.string("id", block.id)
        json.string("entity", block.entity)
        json.string("level", block.level)
        json.string("reason", block.reason)
        json.string("status", block.liftedAt != nil ? "lifted" : block.isActive(at: now) ? "open" : "expired")
        json.string("created_at", block.createdAt.rfc3339)
        json.string("until", block.until?.rfc3339)
        json.string("lifted_at", block.liftedAt?.rfc3339)
        json.string("lifted_by", block.liftedBy)
        json.endObject()
    }
}
