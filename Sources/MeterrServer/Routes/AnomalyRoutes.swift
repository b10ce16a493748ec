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
        let entities = detector.activity(org: org).sorted(by: { $0.key < $1.key }).map { entity, activity in
            EntityBaseline(
                entity: entity, hoursObserved: activity.hoursObserved,
                warmedUp: activity.hoursObserved >= settings.warmupHours,
                hour: Timestamp(milliseconds: activity.hour), cost: Money(nanos: activity.costNanos),
                baselineCost: Money(nanos: Int64(activity.costBaseline.mean.rounded())),
                baselineCostDeviation: Money(nanos: Int64(activity.costBaseline.deviation.rounded())),
                tokens: Int64(activity.tokens), baselineTokens: Int64(activity.tokensBaseline.mean.rounded()),
                requests: Int64(activity.requests), baselineRequests: Int64(activity.requestsBaseline.mean.rounded()),
                rateLimited: activity.rateLimited)
        }
        return try jsonResponse(BaselineList(entities: entities))
    }

    /// Blocks (each an investigation): open while in force, then `expired` or `lifted`.
    @Sendable func blocks(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.read)
        let now = clock.now()
        let blocks = try await store.blocks(org: context.principal.orgId, limit: 500)
        return try jsonResponse(AnomalyBlockList(blocks: blocks.map { info($0, now: now) }))
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
        return try jsonResponse(info(block, now: now))
    }

    /// A block as the API shows it, with its status at this moment.
    func info(_ block: AnomalyBlock, now: Timestamp) -> AnomalyBlockInfo {
        AnomalyBlockInfo(
            id: block.id, entity: block.entity, level: block.level, reason: block.reason,
            status: block.liftedAt != nil ? "lifted" : block.isActive(at: now) ? "open" : "expired",
            createdAt: block.createdAt, until: block.until, liftedAt: block.liftedAt, liftedBy: block.liftedBy)
    }
}
