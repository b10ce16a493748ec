import Hummingbird
import MeterrCore
import MeterrProviders
import MeterrRouter

/// `/api/routes` (the virtual models), `/api/routes/health` (each deployment's breaker) and
/// `/api/route/explain` (the decision a call would get, without making it).
struct RouterRoutes: Sendable {
    let gateway: Gateway
    let maxBodyBytes: Int

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.get("routes", use: routes)
        group.get("routes/health", use: health)
        group.post("route/explain", use: explain)
    }

    @Sendable func routes(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.read)
        let table = gateway.router.table
        let routes = table.models.keys.sorted().map { name in
            let model = table.models[name]!
            return VirtualModelInfo(
                name: name, policy: model.policy.rawValue,
                deployments: model.deployments.map {
                    DeploymentInfo(
                        id: $0.id, provider: $0.provider.rawValue, model: $0.model, weight: $0.weight,
                        priority: $0.priority, region: $0.region)
                })
        }
        let tiers = table.auto.map { auto in
            ["simple": auto.simple, "medium": auto.medium, "complex": auto.complex, "reasoning": auto.reasoning]
        }
        return try jsonResponse(RouteList(routes: routes, autoTiers: tiers))
    }

    @Sendable func health(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.read)
        let deployments = gateway.router.health(now: gateway.clock.now()).map {
            DeploymentHealthInfo(
                id: $0.id, state: $0.state.rawValue, openUntil: $0.openUntil,
                consecutiveFailures: $0.consecutiveFailures, lastFailure: $0.lastFailure,
                lastFailureAt: $0.lastFailureAt, calls: $0.calls, failures: $0.failures, inFlight: $0.inFlight,
                ttftMs: $0.timeToFirstTokenMs, lacks: $0.lacks)
        }
        return try jsonResponse(RouteHealth(deployments: deployments))
    }

    /// The body is the Chat Completions call to explain, naming a virtual model.
    @Sendable func explain(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.read)
        let body = Array(try await collectBody(request, limit: maxBodyBytes).readableBytesView)
        guard let model = RequestFacts(body: body).model else {
            throw MeterrError.invalid("model", "name the virtual model to explain (fast, meterr/auto, …)")
        }
        guard gateway.router.table.routeName(model) != nil else {
            let names = gateway.router.table.models.keys.sorted().joined(separator: ", ")
            throw MeterrError.invalid(
                "model", "\(model) is not a virtual model" + (names.isEmpty ? " (none is configured)" : " (\(names))"))
        }
        let chat: ChatRequest
        do {
            chat = try ChatRequest(body: body, model: model)
        } catch {
            throw MeterrError.invalid("body", error.message)
        }
        let needs = gateway.needs(chat, body: body)
        let now = gateway.clock.now()
        guard let decision = gateway.decide(model: model, needs: needs, org: context.principal.orgId, at: now) else {
            throw MeterrError.invalid("model", "\(model) is not a virtual model")
        }
        let candidates = decision.candidates.map {
            RouteCandidateInfo(
                deployment: $0.deployment.id, eligible: $0.eligible, excluded: $0.excluded,
                expectedCostUSD: $0.expectedCost, expectedOutputTokens: $0.expectedOutputTokens,
                ttftMs: $0.timeToFirstTokenMs, inFlight: $0.inFlight)
        }
        return try jsonResponse(
            RouteExplanation(
                requested: model, route: decision.route, policy: decision.policy.rawValue,
                tier: decision.complexity?.tier.rawValue, complexityScore: decision.complexity?.score,
                signals: decision.complexity?.signals ?? [], inputTokens: needs.inputTokens, candidates: candidates,
                chosen: decision.order.first?.id))
    }
}
