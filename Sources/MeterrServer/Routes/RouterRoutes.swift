import Foundation
import Hummingbird
import MeterrCore
import MeterrProviders
import MeterrRouter
import MeterrStore

/// `/api/routes` (the virtual models: the configuration's and the organisation's own, which admins
/// define and remove), `/api/routes/health` (each deployment's breaker) and `/api/route/explain` (the
/// decision a call would get, without making it).
struct RouterRoutes: Sendable {
    let gateway: Gateway
    let store: any RouteStore
    let maxBodyBytes: Int

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.get("routes", use: routes)
        group.put("routes/:name", use: put)
        group.delete("routes/:name", use: delete)
        group.get("routes/health", use: health)
        group.post("route/explain", use: explain)
    }

    /// Loads every organisation's stored routes into the router (at start).
    static func load(from store: any RouteStore, into router: ModelRouter) async throws {
        var stored: [String: Set<String>] = [:]
        for route in try await store.allRoutes() {
            let spec = try JSONSerialization.jsonObject(with: Data(route.definition.utf8))
            let model = try RouteTable.virtualModel(route.name, spec, source: "route \(route.name) of \(route.orgId)")
            router.setModel(model, named: route.name, org: route.orgId)
            stored[route.orgId, default: []].insert(route.name)
        }
        // Read again while serving (several nodes): routes another node deleted go here too.
        for org in router.organisationsWithModels {
            for name in router.models(org: org).keys where stored[org]?.contains(name) != true {
                router.setModel(nil, named: name, org: org)
            }
        }
    }

    @Sendable func routes(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.read)
        let router = gateway.router
        let own = router.models(org: context.principal.orgId)
        let configured = router.table.models.filter { own[$0.key] == nil }
        let routes =
            configured.keys.sorted().map { Self.info(configured[$0]!, source: "config") }
            + own.keys.sorted().map { Self.info(own[$0]!, source: "api") }
        let tiers = router.table.auto.map { auto in
            ["simple": auto.simple, "medium": auto.medium, "complex": auto.complex, "reasoning": auto.reasoning]
        }
        return try jsonResponse(RouteList(routes: routes, autoTiers: tiers))
    }

    static func info(_ model: VirtualModel, source: String) -> VirtualModelInfo {
        VirtualModelInfo(
            name: model.name, policy: model.policy.rawValue,
            deployments: model.deployments.map {
                DeploymentInfo(
                    id: $0.id, provider: $0.provider.rawValue, model: $0.model, weight: $0.weight,
                    priority: $0.priority, region: $0.region, surface: $0.compatibleSurface ? "compatible" : "native")
            }, source: source)
    }

    /// Defines (or replaces) one of the organisation's virtual models: `{"policy": …, "deployments": […]}`.
    /// Every deployment's model must be in the price catalog (else it could never be chosen).
    @Sendable func put(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let name = try context.parameters.require("name")
        guard !name.isEmpty, name.count <= 64, name != RouteTable.autoName,
            name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) })
        else {
            throw MeterrError.invalid(
                "name", "a route name is 1-64 letters, digits, -, _ or . and not \(RouteTable.autoName)")
        }
        let body = try await collectBody(request, limit: maxBodyBytes)
        guard let spec = try? JSONSerialization.jsonObject(with: Data(buffer: body)), spec is [String: Any] else {
            throw MeterrError.invalid("body", "send {\"policy\": …, \"deployments\": [\"provider/model\", …]}")
        }
        let model: VirtualModel
        do {
            model = try RouteTable.virtualModel(name, spec, source: "route \(name)")
        } catch {
            throw MeterrError(.invalidRequest, error.message)
        }
        // The server's environment and its egress are the operator's: an organisation's route names
        // neither (its deployments use the organisation's stored credentials and upstreams).
        if model.deployments.contains(where: { $0.keyVariable != nil || $0.baseURL != nil }) {
            throw MeterrError.invalid(
                "deployments",
                "base_url and key_env belong in the configuration file; store credentials with /api/credentials")
        }
        for deployment in model.deployments
        where gateway.engine.resolve(model: deployment.model, provider: deployment.provider) == nil {
            throw MeterrError.invalid(
                "deployments", "the price catalog has no \(deployment.id): it could never be chosen (price it first)")
        }
        let org = context.principal.orgId
        let definition = String(
            decoding: try JSONSerialization.data(withJSONObject: spec, options: [.sortedKeys]), as: UTF8.self)
        try await store.putRoute(
            StoredRoute(orgId: org, name: name, definition: definition, updatedAt: gateway.clock.now()),
            actor: context.principal.keyId)
        gateway.router.setModel(model, named: name, org: org)
        return try jsonResponse(Self.info(model, source: "api"))
    }

    @Sendable func delete(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let name = try context.parameters.require("name")
        let org = context.principal.orgId
        guard try await store.deleteRoute(org: org, name: name, actor: context.principal.keyId) else {
            throw MeterrError(.notFound, "the organisation has no route \(name) (configured routes change in the file)")
        }
        gateway.router.setModel(nil, named: name, org: org)
        return Response(status: .noContent)
    }

    @Sendable func health(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.read)
        let deployments = gateway.router.health(now: gateway.clock.now(), org: context.principal.orgId).map {
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
        let org = context.principal.orgId
        guard let model = RequestFacts(body: body).model else {
            throw MeterrError.invalid("model", "name the virtual model to explain (fast, meterr/auto, …)")
        }
        guard gateway.router.routeName(model, org: org) != nil else {
            let names = (Array(gateway.router.table.models.keys) + Array(gateway.router.models(org: org).keys))
            let known = Set(names).sorted().joined(separator: ", ")
            throw MeterrError.invalid(
                "model", "\(model) is not a virtual model" + (known.isEmpty ? " (none is configured)" : " (\(known))"))
        }
        let chat: ChatRequest
        do {
            chat = try ChatRequest(body: body, model: model)
        } catch {
            throw MeterrError.invalid("body", error.message)
        }
        let needs = gateway.needs(chat, body: body)
        guard let decision = gateway.decide(model: model, needs: needs, org: org, at: gateway.clock.now()) else {
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
