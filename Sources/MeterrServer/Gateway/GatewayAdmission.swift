import HTTPTypes
import MeterrCore
import MeterrPricing
import MeterrProviders
import MeterrRouter
import MeterrStore
import MeterrUpstream
import NIOCore
import NIOHTTP1

/// Why meterr answers a gateway call itself: an error whose code decides the status, the headers
/// that go with it (`Retry-After`, rate limit headers), and whether the refusal counts in the metrics.
struct GatewayRefusal: Error {
    var error: MeterrError
    var headers: HTTPFields = [:]
    var counted = true
    /// Why meterr itself refused a metered call (`budget:NAME`, `rate_limit`, `anomaly`, `unpriced`):
    /// such a call is recorded with its status and `route: refused:…`, at no cost.
    var refusedFor: String?

    init(_ code: MeterrError.Code, _ message: String, headers: HTTPFields = [:], counted: Bool = true) {
        error = MeterrError(code, message)
        self.headers = headers
        self.counted = counted
    }
}

/// A gateway call whose caller is known: its principal, and whether it brings its own provider key.
///
/// A class: every stage of admission (and the call's record) takes it, and a reference is one retain
/// where a copy of the struct copied the request, the principal and the profile's existential.
final class AuthenticatedCall: Sendable {
    let inbound: Gateway.Inbound
    let principal: Principal
    /// The caller's own provider key (`x-meterr-key` carried the meterr key), if any.
    let ownsKey: Bool
    /// The provider the call was made to (its SDK's format).
    let profile: any ProviderProfile
    /// The path below meterr's mount.
    let path: String
    let started: ContinuousClock.Instant
    let startedAt: Timestamp

    init(
        inbound: Gateway.Inbound, principal: Principal, ownsKey: Bool, profile: any ProviderProfile, path: String,
        started: ContinuousClock.Instant, startedAt: Timestamp
    ) {
        self.inbound = inbound
        self.principal = principal
        self.ownsKey = ownsKey
        self.profile = profile
        self.path = path
        self.started = started
        self.startedAt = startedAt
    }

    /// The same call started again now (a routed call's later attempt).
    func restarted(at now: Timestamp) -> AuthenticatedCall {
        AuthenticatedCall(
            inbound: inbound, principal: principal, ownsKey: ownsKey, profile: profile, path: path, started: .now,
            startedAt: now)
    }
}

/// What the call asks for: its body, the facts read from it, and the metered endpoint (POSTs only).
struct InspectedCall: Sendable {
    var bytes: [UInt8]
    var facts: RequestFacts
    var endpoint: ProviderEndpoint?
}

/// Where the call goes: the provider, the path, the body, and whether it travels in the OpenAI
/// format to another provider (a `/v1` call naming `provider/model`).
struct RoutedCall: Sendable {
    var target: Provider
    var path: String
    var body: ByteBuffer
    var compatible: Bool
    /// A `/v1` Chat Completions call translated to the target's native API.
    var translation: GatewayTranslation? = nil

    /// How the call reached its provider, as the event's `route` says: `direct` (in the format it was
    /// made in), `translated` (from `/v1` to the provider's native API), `compatible` (to the provider's
    /// OpenAI-compatible surface).
    var routeName: String { translation != nil ? "translated" : compatible ? "compatible" : "direct" }
}

/// The upstream of a call and the provider key meterr puts on it (`nil`: the caller's own travels).
struct UpstreamTarget: Sendable {
    var endpoint: UpstreamEndpoint
    var providerKey: String?
}

/// Admission, stage by stage: authenticate → inspect → limit → route → credential → request →
/// spend. Each stage either returns what the next needs or throws a `GatewayRefusal`.
extension Gateway {
    func admit(_ inbound: Inbound) async -> Admission {
        let profile = Providers.profile(inbound.mount.provider)
        // What admission learnt before a refusal, to record a refused call.
        var known: (call: AuthenticatedCall, inspected: InspectedCall, target: Provider?)?
        do {
            let call = try await authenticate(inbound, profile: profile)
            var inspected = try inspect(call)
            known = (call, inspected, nil)
            let limitHeaders: HTTPFields
            do {
                limitHeaders = try limit(call)
            } catch var refusal as GatewayRefusal {
                refusal.refusedFor = "rate_limit"
                throw refusal
            }
            if let decision = try decideRoute(call, inspected) {
                // A routed call's answer is cached under its first deployment, never under a fallback's.
                let first = decision.order.first
                let (hit, cacheUse) = try await consultCache(
                    call, inspected, provider: first?.provider ?? inbound.mount.provider,
                    route: first.map { "\(decision.route):\($0.id)" }, deployment: first?.id,
                    limitHeaders: limitHeaders)
                if let hit { return .reply(hit) }
                switch await firstAttempt(call, inspected, decision: decision, limitHeaders: limitHeaders) {
                case .attempt(let plan):
                    return .forward(plan.caching(cacheUse))
                case .exhausted(let refusal): throw refusal
                }
            }
            let routed = try route(call, inspected)
            let (hit, cacheUse) = try await consultCache(
                call, inspected, provider: routed.target, limitHeaders: limitHeaders)
            if let hit { return .reply(hit) }
            if let translation = routed.translation {
                // From here on the call is what goes upstream: the native request, read natively.
                inspected = Self.nativeView(translation, target: routed.target)
            }
            known = (call, inspected, routed.target)
            let upstream = try await credential(call, routed)
            var (request, wire, injectedUsage) = upstreamRequest(call, inspected, routed, upstream)
            var gatewayCall = try await holdSpend(call, inspected, routed)
            if let telemetry {
                gatewayCall.span = telemetry.start(
                    call: gatewayCall, callerHeaders: CallerTraceHeaders(call.inbound.head.headers),
                    upstream: &request.head.headers)
            }
            return .forward(
                UpstreamPlan(
                    request: request, call: gatewayCall, target: routed.target, wire: wire.provider,
                    injectedUsage: injectedUsage, limitHeaders: limitHeaders, translation: routed.translation,
                    cache: cacheUse))
        } catch let refusal as GatewayRefusal {
            if refusal.counted {
                metrics.record(provider: inbound.mount.provider, status: refusal.error.code.httpStatus, source: nil)
            }
            if let reason = refusal.refusedFor, let (call, inspected, target) = known {
                recordRefusal(call, inspected, target: target, reason: reason, status: refusal.error.code.httpStatus)
            }
            return .reply(Self.failure(profile, refusal.error.code, refusal.error.message, headers: refusal.headers))
        } catch {
            logger.error("a gateway call could not be admitted", metadata: ["error": "\(String(reflecting: error))"])
            return .reply(Self.failure(profile, .internal, "meterr could not admit this call"))
        }
    }

    /// Who calls: the meterr key where the provider's SDK puts its key, or in `x-meterr-key` when the
    /// caller brings its own provider key; addresses that keep failing are backed off.
    func authenticate(_ inbound: Inbound, profile: any ProviderProfile) async throws -> AuthenticatedCall {
        let started = ContinuousClock.now
        let startedAt = clock.now()
        if let wait = throttle.blocked(inbound.remoteAddress?.ipAddress) {
            throw GatewayRefusal(
                .rateLimited, "too many failed authentications from this address; retry in \(wait) s",
                headers: [.retryAfter: String(wait)], counted: false)
        }
        let headers = inbound.head.headers
        let ownKey = headers.value(MeterrHeader.key)
        guard let key = ownKey ?? Self.presentedKey(headers, query: inbound.query, profile: profile),
            APIKey.isWellFormed(key), let principal = try await principals.principal(forKey: key)
        else {
            throttle.failed(inbound.remoteAddress?.ipAddress)
            throw GatewayRefusal(
                .unauthenticated, "invalid meterr key: send a meterr key (mk_…) where this SDK sends its API key",
                counted: false)
        }
        guard principal.scopes.contains(.gateway) else {
            throw GatewayRefusal(.forbidden, "this meterr key may not call providers", counted: false)
        }
        return AuthenticatedCall(
            inbound: inbound, principal: principal, ownsKey: ownKey != nil, profile: profile,
            path: String(inbound.path.dropFirst(inbound.mount.strip.count)), started: started, startedAt: startedAt)
    }

    /// What the call asks for; a POST meterr cannot meter, a body that is not one JSON object or a
    /// call without a model is refused before anything goes upstream. Reads cost nothing.
    func inspect(_ call: AuthenticatedCall) throws -> InspectedCall {
        let bytes = Array(call.inbound.body.readableBytesView)
        let facts = call.profile.inspect(path: call.path, query: call.inbound.query, body: bytes)
        let isPost = call.inbound.head.method == .POST
        let endpoint = isPost ? call.profile.endpoint(forPath: call.path) : nil
        if isPost, let refusal = call.profile.refusal(path: call.path, endpoint: endpoint, facts: facts) {
            throw GatewayRefusal(refusal.code, refusal.message)
        }
        return InspectedCall(bytes: bytes, facts: facts, endpoint: endpoint)
    }

    /// The key's rate limits; the `x-ratelimit-*` headers of its tightest request limit.
    func limit(_ call: AuthenticatedCall) throws -> HTTPFields {
        let decision = limiter.admit(call.principal)
        let headers = Self.rateLimitHeaders(decision)
        if let refusal = decision.refusal {
            var refused = headers
            refused[.retryAfter] = String(decision.retryAfter)
            throw GatewayRefusal(.rateLimited, refusal, headers: refused)
        }
        return headers
    }

    /// `/v1` with `provider/model` reaches that provider: Chat Completions translated to its native API
    /// when it has one, else (or when asked) its OpenAI-compatible surface with the model name without
    /// its prefix; every other call goes to the provider it was made to.
    func route(_ call: AuthenticatedCall, _ inspected: InspectedCall) throws -> RoutedCall {
        let provider = call.inbound.mount.provider
        guard call.inbound.mount.strip.isEmpty, let model = inspected.facts.model,
            let (routed, bare) = Providers.routed(model)
        else { return RoutedCall(target: provider, path: call.path, body: call.inbound.body, compatible: false) }
        if let translation = try translation(call, inspected, target: routed, model: bare) {
            return RoutedCall(
                target: routed, path: translation.native.path, body: ByteBuffer(bytes: translation.native.body),
                compatible: false, translation: translation)
        }
        guard let path = Providers.profile(routed).openAICompatiblePath(call.path),
            let rewritten = RequestRewrite.replacingModel(in: inspected.bytes, with: bare)
        else {
            throw GatewayRefusal(
                .invalidRequest, "\(routed.rawValue) models are not served on \(call.path) through /v1", counted: false)
        }
        return RoutedCall(
            target: routed, path: path, body: ByteBuffer(bytes: rewritten), compatible: routed != OpenAIWire.provider)
    }

    /// A translated call as its provider sees it: the native body, the facts read from it, its endpoint.
    static func nativeView(_ translation: GatewayTranslation, target: Provider) -> InspectedCall {
        let profile = Providers.profile(target)
        let native = translation.native
        var facts = profile.inspect(path: native.path, query: nil, body: native.body)
        facts.maxTokens = facts.maxTokens ?? translation.chat.maxTokens
        facts.user = translation.chat.user
        return InspectedCall(bytes: native.body, facts: facts, endpoint: profile.endpoint(forPath: native.path))
    }

    /// The upstream and the key: the caller's own (`x-meterr-key`), else the organisation's stored one
    /// (its team's first, with the organisation's own upstream if it set one), else the installation's.
    func credential(_ call: AuthenticatedCall, _ routed: RoutedCall, deployment: Deployment? = nil) async throws
        -> UpstreamTarget
    {
        let target = routed.target
        // A routed deployment with its own upstream or key (a region's endpoint) uses them.
        if let deployment, deployment.baseURL != nil || deploymentKeys[deployment.id] != nil {
            let baseURL = deployment.baseURL ?? upstreams[target]?.baseURL ?? ""
            guard let endpoint = UpstreamEndpoint(baseURL: baseURL) else {
                throw GatewayRefusal(
                    .badGateway, "meterr has no upstream for \(deployment.id): set its base_url", counted: false)
            }
            let key = call.ownsKey ? nil : (deploymentKeys[deployment.id] ?? upstreams[target]?.apiKey)
            if !call.ownsKey && key == nil {
                throw GatewayRefusal(
                    .unauthenticated, "meterr holds no key for \(deployment.id): set its key_env", counted: false)
            }
            return UpstreamTarget(endpoint: endpoint, providerKey: key)
        }
        var stored: StoredCredential?
        if !call.ownsKey {
            do {
                stored = try await credentials.secret(
                    org: call.principal.orgId, team: call.principal.team, provider: target)
            } catch {
                logger.error("a stored credential could not be opened", metadata: ["provider": "\(target.rawValue)"])
                throw GatewayRefusal(
                    .badGateway, "meterr cannot open its stored \(target.rawValue) credential", counted: false)
            }
        }
        guard let upstream = upstreams[target] else {
            throw GatewayRefusal(
                .badGateway, "meterr has no upstream for \(target.rawValue): set its base URL", counted: false)
        }
        let baseURL = stored?.baseURL ?? upstream.baseURL
        guard !baseURL.isEmpty else {
            throw GatewayRefusal(
                .badGateway, "meterr has no upstream for \(target.rawValue): set its base URL", counted: false)
        }
        guard let endpoint = stored?.baseURL == nil ? endpoints[target] : UpstreamEndpoint(baseURL: baseURL) else {
            throw GatewayRefusal(
                .badGateway, "meterr's \(target.rawValue) base URL is not an http(s) URL", counted: false)
        }
        let providerKey = call.ownsKey ? nil : (stored?.secret ?? upstream.apiKey)
        if !call.ownsKey && providerKey == nil {
            throw GatewayRefusal(
                .unauthenticated,
                "meterr holds no \(target.rawValue) key: configure one, or send yours with x-meterr-key",
                counted: false)
        }
        return UpstreamTarget(endpoint: endpoint, providerKey: providerKey)
    }

    /// The request as it goes upstream: the caller's headers but hop-by-hop ones, meterr's and the
    /// meterr key; the provider key where the target looks for it; the stream's usage asked for when
    /// the format sends it only on request. Returns the format on the wire (the target's own, or the
    /// OpenAI format of a routed `/v1` call) and whether usage was asked for.
    func upstreamRequest(
        _ call: AuthenticatedCall, _ inspected: InspectedCall, _ routed: RoutedCall, _ upstream: UpstreamTarget
    ) -> (UpstreamRequest, wire: any ProviderProfile, injectedUsage: Bool) {
        let request = call.inbound.head
        let targetProfile = Providers.profile(routed.target)
        let wire = routed.compatible ? OpenAIWire.profile : targetProfile
        var body = routed.body
        var injectedUsage = false
        if let rewritten = wire.requestingStreamUsage(
            endpoint: inspected.endpoint, facts: inspected.facts, body: Array(body.readableBytesView))
        {
            body = ByteBuffer(bytes: rewritten)
            injectedUsage = true
        }
        var headers = OutgoingHeaders(capacity: request.headers.count + 4)
        headers.add("host", upstream.endpoint.hostHeader)
        let keyHeaders = call.ownsKey ? [] : Self.keyHeaders[call.profile.provider] ?? []
        for (name, value) in request.headers {
            if Self.hopByHop.contains(name) || name.hasPrefixIgnoringASCIICase("x-meterr-")
                || name.equalsIgnoringASCIICase("accept-encoding")
                || keyHeaders.contains(where: name.equalsIgnoringASCIICase)
            {
                continue
            }
            headers.add(name, value)
        }
        if let key = upstream.providerKey {
            let credential = targetProfile.credentialHeader(key: key, compatible: routed.compatible)
            headers.set(credential.name, credential.value)
        }
        if let translation = routed.translation {
            for (name, value) in translation.native.headers { headers.set(name, value) }
            headers.set("content-type", "application/json")
        }
        // Usage is read from the bytes as they pass: they must not be compressed.
        headers.add("accept-encoding", "identity")
        if body.readableBytes > 0 || request.method == .POST {
            headers.add("content-length", String(body.readableBytes))
        }
        let head = HTTPRequestHead(
            version: .http1_1, method: request.method,
            uri: upstream.endpoint.path(for: routed.path)
                + (routed.translation == nil ? Self.query(call.inbound.query, profile: call.profile) : ""),
            headers: headers.http1)
        return (UpstreamRequest(endpoint: upstream.endpoint, head: head, body: body), wire, injectedUsage)
    }

    /// Anomaly blocks and rate caps, the unpriced policy, then budgets: the call's worst case is held
    /// against every budget that covers it, or the call is refused. Calls that cost nothing skip this.
    func holdSpend(_ call: AuthenticatedCall, _ inspected: InspectedCall, _ routed: RoutedCall) async throws
        -> GatewayCall
    {
        let (principal, startedAt, facts) = (call.principal, call.startedAt, inspected.facts)
        let attribution = Attribution(call.inbound.head.headers, facts: facts, principal: principal)
        var reservation = BudgetGuard.Reservation.none
        var unpricedPolicy: UnpricedPolicy?
        if let endpoint = inspected.endpoint, endpoint != .countTokens {
            if let team = attribution.team, principal.team == nil,
                try await unpriced.policies.policy(org: principal.orgId).refuseUnknownTeams,
                try await !teams.exists(org: principal.orgId, team: team)
            {
                var refused = GatewayRefusal(.invalidRequest, TeamDirectory.refusal(team))
                refused.refusedFor = "unknown_team"
                throw refused
            }
            try await anomalies.prepare(org: principal.orgId)
            if let refusal = anomalies.admit(
                org: principal.orgId, team: attribution.team, user: attribution.user, keyId: principal.keyId,
                now: startedAt)
            {
                let wait = refusal.retryAt.map { max(1, ($0.milliseconds - startedAt.milliseconds + 999) / 1000) }
                var refused = GatewayRefusal(
                    .rateLimited, refusal.message, headers: wait.map { [.retryAfter: String($0)] } ?? [:])
                refused.refusedFor = "anomaly"
                throw refused
            }
            let probe = UsageEvent(
                id: call.inbound.requestId, ts: startedAt, org: principal.orgId, team: attribution.team,
                user: attribution.user, project: attribution.project, keyId: principal.keyId, tags: attribution.tags,
                provider: routed.target, model: facts.model ?? "", usage: Usage())
            let covering = budgets.budgets(for: probe)
            // Unpriced is not free: what the organisation's policy says decides such a call.
            if let model = facts.model, !unpriced.isPriced(model: model, provider: routed.target) {
                unpricedPolicy = try await unpriced.policy(org: principal.orgId)
                if unpricedPolicy == .refuse, let hard = covering.first(where: \.hard) {
                    var refused = GatewayRefusal(.forbidden, UnpricedPricing.refusal(model: model, budget: hard))
                    refused.refusedFor = "unpriced"
                    throw refused
                }
            }
            if !covering.isEmpty {
                try await budgets.prepare(covering, now: startedAt)
                let worst = BudgetGuard.worstCaseDetail(
                    estimator: estimator, engine: engine, provider: routed.target, model: facts.model,
                    maxTokens: facts.maxTokens, body: inspected.bytes, at: startedAt,
                    priceAs: unpricedPolicy.flatMap { policy in
                        guard case .fallback(let model) = policy else { return nil }
                        return engine.fallbackEntry(
                            provider: routed.target, model: model, embeddings: endpoint == .embeddings,
                            at: startedAt)
                    })
                switch try await budgets.admit(covering, worstCase: worst.cost, basis: worst, now: startedAt) {
                case .failure(let refusal):
                    let wait = max(1, (refusal.resetsAt.milliseconds - startedAt.milliseconds + 999) / 1000)
                    var refused = GatewayRefusal(.rateLimited, refusal.message, headers: [.retryAfter: String(wait)])
                    refused.refusedFor = "budget:\(refusal.budget.name)"
                    throw refused
                case .success(let held):
                    reservation = held
                }
            }
        }
        return GatewayCall(
            gateway: self, provider: routed.target, endpoint: inspected.endpoint, facts: facts,
            requestBody: inspected.bytes, principal: principal, attribution: attribution, reservation: reservation,
            requestId: call.inbound.requestId, started: call.started, startedAt: startedAt,
            unpricedPolicy: unpricedPolicy, route: routed.routeName)
    }

    /// Records a metered call meterr refused itself: its status, `route: refused:REASON`, no tokens and
    /// no cost, so refusals can be counted and seen beside the calls that went through.
    func recordRefusal(
        _ call: AuthenticatedCall, _ inspected: InspectedCall, target: Provider?, reason: String, status: Int
    ) {
        guard let endpoint = inspected.endpoint, endpoint != .countTokens else { return }
        let facts = inspected.facts
        let attribution = Attribution(call.inbound.head.headers, facts: facts, principal: call.principal)
        let provider = target ?? Providers.routed(facts.model ?? "").map(\.0) ?? call.inbound.mount.provider
        let event = UsageEvent(
            id: call.inbound.requestId, ts: call.startedAt, org: call.principal.orgId, team: attribution.team,
            user: attribution.user, project: attribution.project, keyId: call.principal.keyId, tags: attribution.tags,
            provider: call.inbound.mount.strip.isEmpty ? provider : call.inbound.mount.provider,
            model: facts.model ?? "unknown", modelRequested: facts.model, endpoint: endpoint.rawValue, usage: Usage(),
            cost: .zero, usageSource: .estimated, stream: facts.stream, status: status,
            latencyMs: Int(Gateway.milliseconds(ContinuousClock.now - call.started)), requestId: call.inbound.requestId,
            route: "refused:\(reason)")
        writer.enqueue(event)
    }
}
