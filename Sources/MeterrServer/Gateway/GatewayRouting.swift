import HTTPTypes
import MeterrCore
import MeterrPricing
import MeterrProviders
import MeterrRouter
import NIOCore

/// A call to a virtual model (`fast`, `meterr/auto`), attempt by attempt: the decision, where the next
/// attempt starts in its order, and what happened to the attempts before.
struct RouteAttempts: Sendable {
    let call: AuthenticatedCall
    /// The call as the caller sent it (OpenAI's format).
    let inspected: InspectedCall
    let decision: RouteDecision
    let limitHeaders: HTTPFields
    /// When the call's attempts must be over.
    let deadline: ContinuousClock.Instant
    /// The next deployment to try, in `decision.order`.
    var position = 0
    /// Attempts sent upstream.
    var attempt = 0
    /// The deployment of the attempt in flight.
    var current: Deployment?
    /// The attempts that failed: `openai/gpt-4.1-mini: rate_limited`.
    var failed: [String] = []
    /// Deployments passed over at admission: no key, a budget, a breaker that opened meanwhile.
    var passed: [String] = []
}

/// The next step of a routed call.
enum RouteStep: Sendable {
    case attempt(Gateway.UpstreamPlan)
    /// Nothing more to try: why.
    case exhausted(GatewayRefusal)
}

/// What the event of a routed attempt says in `route`: the virtual model, the deployment, why it was
/// chosen, the attempts before it, and what the dearest candidate would have cost for the same usage.
struct RouteNote: Sendable {
    var route: String
    var deployment: Deployment
    var policy: RoutePolicy
    var tier: Complexity.Tier?
    var attempt: Int
    var failedBefore: [String]
    /// The dearest priced candidate of the decision: the saving is measured against it.
    var baseline: Deployment?

    /// `fast:anthropic/claude-haiku-4-5 policy=cheapest attempt=2 after=openai/gpt-4.1-mini:rate_limited
    /// baseline=openai/gpt-4.1 saved_usd=0.001234`
    func describe(cost: Money?, baselineCost: Money?) -> String {
        var text = "\(route):\(deployment.id) policy=\(policy.rawValue)"
        if let tier { text += " tier=\(tier.rawValue)" }
        text += " attempt=\(attempt)"
        if !failedBefore.isEmpty {
            text += " after=" + failedBefore.map { $0.replacingOccurrences(of: ": ", with: ":") }.joined(separator: ",")
        }
        if let baseline, baseline != deployment {
            text += " baseline=\(baseline.id)"
            if let cost, let baselineCost {
                text += " saved_usd=\(Money(nanos: baselineCost.nanos - cost.nanos).decimalString)"
            }
        }
        return text
    }

    /// The `x-meterr-route` header: `fast; deployment=anthropic/claude-haiku-4-5; attempt=2`.
    var header: String { "\(route); deployment=\(deployment.id); attempt=\(attempt)" }
}

extension Gateway {
    static let routeHeader = HTTPField.Name("x-meterr-route")!

    /// The router's decision for a `/v1` Chat Completions call naming a virtual model, or `nil` for any
    /// other call.
    func decideRoute(_ call: AuthenticatedCall, _ inspected: InspectedCall) throws -> RouteDecision? {
        guard call.inbound.mount.strip.isEmpty, let model = inspected.facts.model else { return nil }
        guard router.routeName(model, org: call.principal.orgId) != nil else {
            // `meterr/` names only virtual models: one that is not is a mistake, not an OpenAI model.
            guard model.hasPrefix("meterr/") else { return nil }
            let names = Set(router.table.models.keys).union(router.models(org: call.principal.orgId).keys).sorted()
            throw GatewayRefusal(
                .invalidRequest,
                "\(model) is not a virtual model"
                    + (names.isEmpty
                        ? ": none is configured" : " (this organisation has \(names.joined(separator: ", ")))"),
                counted: false)
        }
        guard inspected.endpoint == .chatCompletions else {
            throw GatewayRefusal(
                .invalidRequest, "virtual models such as \(model) route Chat Completions calls (/v1/chat/completions)",
                counted: false)
        }
        let chat: ChatRequest
        do {
            chat = try ChatRequest(body: inspected.bytes, model: model)
        } catch {
            throw GatewayRefusal(.invalidRequest, error.message, counted: false)
        }
        return decide(
            model: model, needs: needs(chat, body: inspected.bytes), org: call.principal.orgId, at: call.startedAt)
    }

    /// What a call needs of a deployment: its prompt tokens (counted as OpenAI's tokenizer counts the
    /// messages), its output limit, tools, images, a JSON schema, and its last user message.
    func needs(_ chat: ChatRequest, body: [UInt8]) -> RouteNeeds {
        RouteNeeds(
            inputTokens: estimator.inputTokens(provider: .openai, model: "gpt-4o", requestBody: body),
            maxOutputTokens: chat.maxTokens, tools: !chat.tools.isEmpty,
            vision: chat.messages.contains { $0.parts.contains { if case .image = $0 { true } else { false } } },
            jsonSchema: { if case .jsonSchema? = chat.responseFormat { true } else { false } }(),
            lastUserText: chat.messages.last { $0.role == .user }?.text ?? "")
    }

    /// The router's decision with the catalog's facts and this organisation's prices.
    func decide(model: String, needs: RouteNeeds, org: String?, at time: Timestamp) -> RouteDecision? {
        let engine = self.engine
        return router.decide(
            model: model, org: org, needs: needs,
            facts: { deployment in
                engine.resolve(model: deployment.model, provider: deployment.provider).map(Self.facts)
            },
            price: { deployment, usage in
                (try? engine.cost(
                    model: deployment.model, provider: deployment.provider, usage: usage, at: time, org: org))?
                    .map(\.cost)
            }, now: time, roll: Double.random(in: 0..<1))
    }

    static func facts(_ entry: CatalogEntry) -> DeploymentFacts {
        DeploymentFacts(
            maxInputTokens: entry.maxInputTokens, maxOutputTokens: entry.maxOutputTokens,
            tools: entry.capabilities.tools, vision: entry.capabilities.vision,
            jsonSchema: entry.capabilities.jsonSchema)
    }

    /// The first routed attempt of a call.
    func firstAttempt(
        _ call: AuthenticatedCall, _ inspected: InspectedCall, decision: RouteDecision, limitHeaders: HTTPFields
    ) async -> RouteStep {
        guard !decision.order.isEmpty else {
            return .exhausted(
                Self.noDeployment(
                    decision, reopens: router.earliestReopening(decision.candidates.map(\.deployment)), now: clock.now()
                ))
        }
        let deadline = ContinuousClock.now + router.table.deadline
        return await nextAttempt(
            RouteAttempts(
                call: call, inspected: inspected, decision: decision, limitHeaders: limitHeaders, deadline: deadline))
    }

    /// The next attempt: the next deployment in the decision's order that is still available, has a key
    /// and fits the budgets; or why there is none (attempts or time used up, every one passed over).
    func nextAttempt(_ routing: RouteAttempts) async -> RouteStep {
        var routing = routing
        let order = routing.decision.order
        var refusal: GatewayRefusal?
        while routing.position < order.count, routing.attempt < router.table.maxAttempts,
            ContinuousClock.now < routing.deadline
        {
            let deployment = order[routing.position]
            routing.position += 1
            let now = clock.now()
            guard router.available(deployment, now: now) else {
                routing.passed.append("\(deployment.id): its breaker opened")
                continue
            }
            do {
                let routed = try routedCall(routing, to: deployment)
                let inspected =
                    routed.translation.map { Self.nativeView($0, target: deployment.provider) }
                    ?? InspectedCall(
                        bytes: Array(routed.body.readableBytesView),
                        facts: {
                            var facts = routing.inspected.facts
                            facts.model = deployment.model
                            return facts
                        }(), endpoint: routing.inspected.endpoint)
                // A later attempt's event has its own time and latency; Server-Timing then counts meterr's
                // own time from this attempt on.
                let attemptCall = routing.attempt > 0 ? routing.call.restarted(at: now) : routing.call
                let upstream = try await credential(attemptCall, routed, deployment: deployment)
                var (request, wire, injectedUsage) = upstreamRequest(attemptCall, inspected, routed, upstream)
                // The call's deadline bounds the wait for this attempt's first byte.
                let remaining = routing.deadline - ContinuousClock.now
                request.firstByteBy =
                    .now()
                    + .nanoseconds(
                        remaining.components.seconds * 1_000_000_000 + remaining.components.attoseconds / 1_000_000_000)
                var call = try await holdSpend(attemptCall, inspected, routed)
                routing.attempt += 1
                routing.current = deployment
                if routing.attempt > 1 { call.eventId = Identifier.ordered("req") }
                call.routeNote = RouteNote(
                    route: routing.decision.route, deployment: deployment, policy: routing.decision.policy,
                    tier: routing.decision.complexity?.tier, attempt: routing.attempt, failedBefore: routing.failed,
                    baseline: routing.decision.candidates.filter { $0.expectedCost != nil }
                        .max { $0.expectedCost! < $1.expectedCost! }?.deployment)
                if let telemetry {
                    call.span = telemetry.start(
                        call: call,
                        callerHeaders: CallerTraceHeaders(routing.call.inbound.head.headers),
                        upstream: &request.head.headers)
                }
                router.started(deployment, now: now)
                return .attempt(
                    UpstreamPlan(
                        request: request, call: call, target: deployment.provider, wire: wire.provider,
                        injectedUsage: injectedUsage, limitHeaders: routing.limitHeaders,
                        translation: routed.translation, routing: routing))
            } catch let passed as GatewayRefusal {
                routing.passed.append("\(deployment.id): \(passed.error.message)")
                refusal = refusal ?? passed
            } catch {
                routing.passed.append("\(deployment.id): \(error)")
            }
        }
        if var refusal {
            refusal.error.message =
                "no deployment of \(routing.decision.route) could take this call: "
                + routing.passed.joined(separator: "; ")
            return .exhausted(refusal)
        }
        return .exhausted(
            GatewayRefusal(
                .unavailable,
                "no deployment of \(routing.decision.route) could take this call: "
                    + (routing.failed + routing.passed).joined(separator: "; ")))
    }

    /// A deployment's call: translated to its native API, or in OpenAI's format with the model replaced.
    func routedCall(_ routing: RouteAttempts, to deployment: Deployment) throws -> RoutedCall {
        let call = routing.call
        if !deployment.compatibleSurface,
            let translation = try translation(
                call, routing.inspected, target: deployment.provider, model: deployment.model)
        {
            return RoutedCall(
                target: deployment.provider, path: translation.native.path,
                body: ByteBuffer(bytes: translation.native.body), compatible: false, translation: translation)
        }
        guard let path = Providers.profile(deployment.provider).openAICompatiblePath(call.path),
            let body = RequestRewrite.replacingModel(in: routing.inspected.bytes, with: deployment.model)
        else {
            throw GatewayRefusal(.invalidRequest, "\(deployment.provider.rawValue) does not serve \(call.path)")
        }
        return RoutedCall(
            target: deployment.provider, path: path, body: ByteBuffer(bytes: body),
            compatible: deployment.provider != OpenAIWire.provider)
    }

    /// Why a decision left nothing to try: `503` with `Retry-After` when breakers keep every deployment
    /// out, else `400` (the call needs what no deployment offers).
    static func noDeployment(_ decision: RouteDecision, reopens: Timestamp?, now: Timestamp) -> GatewayRefusal {
        let reasons = decision.candidates.compactMap { candidate in
            candidate.excluded.map { "\(candidate.deployment.id): \($0)" }
        }
        let message = "no deployment of \(decision.route) can take this call: " + reasons.joined(separator: "; ")
        let breakers = decision.candidates.filter { $0.excluded?.hasPrefix("its breaker") == true }
        guard !breakers.isEmpty, breakers.count == decision.candidates.count else {
            return GatewayRefusal(.invalidRequest, message, counted: false)
        }
        let wait = reopens.map { max(1, ($0.milliseconds - now.milliseconds + 999) / 1000) } ?? 1
        return GatewayRefusal(.unavailable, message, headers: [.retryAfter: String(wait)])
    }

    /// The wait before the next attempt: the base doubling per attempt, with ±20 % jitter, capped.
    func backoff(after attempt: Int) -> Duration {
        let table = router.table
        let base = Double(table.backoff.components.seconds) + Double(table.backoff.components.attoseconds) / 1e18
        let most = Double(table.maxBackoff.components.seconds) + Double(table.maxBackoff.components.attoseconds) / 1e18
        let wait = min(most, base * Double(1 << min(max(attempt - 1, 0), 16)) * Double.random(in: 0.8...1.2))
        return .milliseconds(Int64(wait * 1000))
    }
}
