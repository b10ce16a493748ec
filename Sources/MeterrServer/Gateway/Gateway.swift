import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MeterrCore
import MeterrPricing
import MeterrProviders
import MeterrStore
import NIOCore
import NIOHTTP1

/// The gateway: forwards each provider call unchanged (but for the credential), reads its usage from
/// the response as it passes, prices it and hands the event to the ledger.
///
/// `GatewayChannelHandler` takes gateway calls off Hummingbird's pipeline; `admit` decides each one
/// (a reply, or the request to send upstream) and `GatewayExchange` carries it through
/// `UpstreamClient` on the connection's own event loop.
struct Gateway: Sendable {
    let client: UpstreamClient
    let principals: PrincipalCache
    let credentials: CredentialCache
    let writer: LedgerWriter
    let pricer: any UsagePricer
    let estimator: any TokenEstimator
    let upstreams: [Provider: ServerConfiguration.Upstream]
    let maxRequestBytes: Int
    let limiter: RateLimiter
    let throttle: AuthenticationThrottle
    let budgets: BudgetGuard
    let anomalies: AnomalyDetector
    let clock: WallClock
    let engine: CostEngine
    let unpriced: UnpricedPricing
    let metrics: GatewayMetrics
    /// Origins allowed to call from a browser (`cors_origins`).
    let cors: CORSPolicy
    let logger: Logger

    /// A path prefix of the gateway, the provider it serves, and how much of the prefix is meterr's own.
    struct Mount: Sendable {
        var prefix: String
        var provider: Provider
        var strip: String
    }

    /// Each provider's mounts, and `/v1/`: the unified API in the OpenAI format, whose plain model
    /// names go to OpenAI.
    static let mounts: [Mount] =
        Providers.all.flatMap { profile in
            profile.gatewayMounts.map { Mount(prefix: $0, provider: profile.provider, strip: profile.gatewayPrefix) }
        } + [Mount(prefix: "/v1/", provider: OpenAIWire.provider, strip: "")]

    /// The mount serving a call, if the gateway serves it (GET, POST and DELETE under a mount).
    static func mount(method: HTTPRequest.Method, path: String) -> Mount? {
        guard method == .post || method == .get || method == .delete else { return nil }
        return mounts.first { path.hasPrefix($0.prefix) && path.utf8.count > $0.prefix.utf8.count }
    }

    /// Headers never forwarded in either direction (hop-by-hop, or recomputed).
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "host",
        "content-length", "expect",
    ]

    /// What the gateway does with a call: answer it itself, or send it upstream.
    enum Admission: Sendable {
        case reply(GatewayReply)
        case forward(UpstreamPlan)
    }

    /// A call through the gateway as it arrived.
    struct Inbound: Sendable {
        var head: HTTPRequest
        var path: String
        var query: String?
        var body: ByteBuffer
        var mount: Mount
        var remoteAddress: String?
        var requestId: String
    }

    /// Where and how a call goes upstream, and what its answer is read with.
    struct UpstreamPlan: Sendable {
        var request: UpstreamRequest
        var call: GatewayCall
        var target: Provider
        /// The provider format the answer speaks (OpenAI's for compatible surfaces).
        var wire: Provider
        var injectedUsage: Bool
        var limitHeaders: HTTPFields
    }

    /// The one place a gateway error becomes an answer: the status from its code (as on `/api`), the
    /// body in the provider's shape, so its SDK raises its usual error.
    static func failure(
        _ adapter: any ProviderProfile, _ code: MeterrError.Code, _ message: String, headers extra: HTTPFields = [:]
    ) -> GatewayReply {
        var headers = extra
        headers[.contentType] = "application/json"
        let status = code.httpStatus
        return GatewayReply(
            status: status, headers: headers,
            body: ByteBuffer(bytes: adapter.errorBody(status: status, message: message)))
    }

    func admit(_ inbound: Inbound) async -> Admission {
        do {
            return try await decide(inbound)
        } catch {
            logger.error("a gateway call could not be admitted", metadata: ["error": "\(String(reflecting: error))"])
            return .reply(
                Self.failure(Providers.profile(inbound.mount.provider), .internal, "meterr could not admit this call"))
        }
    }

    private func decide(_ inbound: Inbound) async throws -> Admission {
        let started = ContinuousClock.now
        let startedAt = clock.now()
        let provider = inbound.mount.provider
        let strip = inbound.mount.strip
        let adapter = Providers.profile(provider)
        let request = inbound.head
        func failure(_ code: MeterrError.Code, _ message: String, headers extra: HTTPFields = [:]) -> Admission {
            .reply(Self.failure(adapter, code, message, headers: extra))
        }
        let path = String(inbound.path.dropFirst(strip.count))
        let body = inbound.body

        // Who calls: the gateway key where the provider's SDK puts its key, or in x-meterr-key when the
        // caller brings its own provider key.
        if let wait = throttle.blocked(inbound.remoteAddress) {
            return failure(
                .rateLimited, "too many failed authentications from this address; retry in \(wait) s",
                headers: [.retryAfter: String(wait)])
        }
        let ownKey = request.headerFields[.meterrKey]
        guard
            let gatewayKey = ownKey
                ?? Self.presentedKey(request.headerFields, query: inbound.query, adapter: adapter),
            APIKey.isWellFormed(gatewayKey),
            let principal = try await principals.principal(forKey: gatewayKey)
        else {
            throttle.failed(inbound.remoteAddress)
            return failure(
                .unauthenticated, "invalid meterr key: send a meterr key (mk_…) where this SDK sends its API key")
        }
        guard principal.scopes.contains(.gateway) else {
            return failure(.forbidden, "this meterr key may not call providers")
        }
        let bytes = Array(body.readableBytesView)
        let facts = adapter.inspect(path: path, query: inbound.query, body: bytes)
        // Reads (model lists, stored responses) cost nothing: only POSTs are metered.
        let endpoint = request.method == .post ? adapter.endpoint(forPath: path) : nil
        if request.method == .post, let refusal = adapter.refusal(path: path, endpoint: endpoint, facts: facts) {
            metrics.record(provider: provider, status: refusal.code.httpStatus, source: nil)
            return failure(refusal.code, refusal.message)
        }
        let admission = limiter.admit(principal)
        let limitHeaders = Self.rateLimitHeaders(admission)
        if let refusal = admission.refusal {
            metrics.record(provider: provider, status: MeterrError.Code.rateLimited.httpStatus, source: nil)
            var headers = limitHeaders
            headers[.retryAfter] = String(admission.retryAfter)
            return failure(.rateLimited, refusal, headers: headers)
        }
        var upstreamBody = body

        // `/v1` with `provider/model` reaches that provider's OpenAI-compatible surface: same wire
        // format, the model name without its prefix.
        var target = provider
        var upstreamPath = path
        var compatible = false
        if strip.isEmpty, let model = facts.model, let (routed, bare) = Providers.routed(model) {
            guard let routedPath = Providers.profile(routed).openAICompatiblePath(path),
                let rewritten = RequestRewrite.replacingModel(in: bytes, with: bare)
            else {
                return failure(.invalidRequest, "\(routed.rawValue) models are not served on \(path) through /v1")
            }
            target = routed
            upstreamPath = routedPath
            upstreamBody = ByteBuffer(bytes: rewritten)
            compatible = routed != OpenAIWire.provider
        }

        // The credential: the caller's own (x-meterr-key), else the organisation's stored one (its
        // team's first, with the organisation's own upstream if it set one), else the installation's.
        var stored: StoredCredential?
        if ownKey == nil {
            do {
                stored = try await credentials.secret(org: principal.orgId, team: principal.team, provider: target)
            } catch {
                logger.error("a stored credential could not be opened", metadata: ["provider": "\(target.rawValue)"])
                return failure(.badGateway, "meterr cannot open its stored \(target.rawValue) credential")
            }
        }
        guard var upstream = upstreams[target] else {
            return failure(.badGateway, "meterr has no upstream for \(target.rawValue): set its base URL")
        }
        if let baseURL = stored?.baseURL { upstream.baseURL = baseURL }
        guard !upstream.baseURL.isEmpty else {
            return failure(.badGateway, "meterr has no upstream for \(target.rawValue): set its base URL")
        }
        guard let upstreamEndpoint = UpstreamEndpoint(baseURL: upstream.baseURL) else {
            return failure(.badGateway, "meterr's \(target.rawValue) base URL is not an http(s) URL")
        }
        let providerKey = ownKey == nil ? (stored?.secret ?? upstream.apiKey) : nil
        if ownKey == nil && providerKey == nil {
            return failure(
                .unauthenticated,
                "meterr holds no \(target.rawValue) key: configure one, or send yours with x-meterr-key")
        }

        // The profile of the format on the wire: the target's own, or the OpenAI format a `/v1` call
        // routed to another provider speaks.
        let targetProfile = Providers.profile(target)
        let wire = compatible ? OpenAIWire.profile : targetProfile
        var injectedUsage = false
        if let rewritten = wire.requestingStreamUsage(
            endpoint: endpoint, facts: facts, body: Array(upstreamBody.readableBytesView))
        {
            upstreamBody = ByteBuffer(bytes: rewritten)
            injectedUsage = true
        }

        var headers = HTTPHeaders()
        headers.reserveCapacity(request.headerFields.count + 3)
        headers.add(name: "host", value: upstreamEndpoint.hostHeader)
        for field in request.headerFields {
            let name = field.name.canonicalName
            if Self.hopByHop.contains(name) || name.hasPrefix("x-meterr-") || name == "accept-encoding" { continue }
            if ownKey == nil && adapter.keyHeaders.contains(name) { continue }
            headers.add(name: field.name.rawName, value: field.value)
        }
        if let key = providerKey {
            let credential = targetProfile.credentialHeader(key: key, compatible: compatible)
            headers.replaceOrAdd(name: credential.name, value: credential.value)
        }
        // Usage is read from the bytes as they pass: they must not be compressed.
        headers.add(name: "accept-encoding", value: "identity")
        if upstreamBody.readableBytes > 0 || request.method == .post {
            headers.add(name: "content-length", value: String(upstreamBody.readableBytes))
        }
        let head = HTTPRequestHead(
            version: .http1_1, method: HTTPMethod(rawValue: request.method.rawValue),
            uri: upstreamEndpoint.path(for: upstreamPath) + Self.query(inbound.query, adapter: adapter),
            headers: headers)

        // Anomaly blocks and rate caps, then budgets: hold the call's worst case against every
        // budget that covers it, or refuse.
        let attribution = Attribution(request.headerFields, facts: facts, principal: principal)
        var reservation = BudgetGuard.Reservation.none
        var unpricedPolicy: UnpricedPolicy?
        if let endpoint, endpoint != .countTokens {
            try await anomalies.prepare(org: principal.orgId)
            if let refusal = anomalies.admit(
                org: principal.orgId, team: attribution.team, user: attribution.user, keyId: principal.keyId,
                now: startedAt)
            {
                metrics.record(provider: provider, status: MeterrError.Code.rateLimited.httpStatus, source: nil)
                let wait = refusal.retryAt.map { max(1, ($0.milliseconds - startedAt.milliseconds + 999) / 1000) }
                return failure(.rateLimited, refusal.message, headers: wait.map { [.retryAfter: String($0)] } ?? [:])
            }
            let probe = UsageEvent(
                id: inbound.requestId, ts: startedAt, org: principal.orgId, team: attribution.team,
                user: attribution.user, project: attribution.project, keyId: principal.keyId, tags: attribution.tags,
                provider: target, model: facts.model ?? "", usage: Usage())
            let covering = budgets.budgets(for: probe)
            // Unpriced is not free: what the organisation's policy says decides such a call.
            if let model = facts.model, !unpriced.isPriced(model: model, provider: target) {
                unpricedPolicy = try await unpriced.policy(org: principal.orgId)
                if unpricedPolicy == .refuse, let hard = covering.first(where: \.hard) {
                    metrics.record(provider: provider, status: MeterrError.Code.forbidden.httpStatus, source: nil)
                    return failure(.forbidden, UnpricedPricing.refusal(model: model, budget: hard))
                }
            }
            if !covering.isEmpty {
                try await budgets.prepare(covering, now: startedAt)
                let worst = BudgetGuard.worstCase(
                    estimator: estimator, engine: engine, provider: target, model: facts.model,
                    maxTokens: facts.maxTokens, body: bytes, at: startedAt,
                    priceAs: unpricedPolicy.flatMap { policy in
                        guard case .fallback(let model) = policy else { return nil }
                        return engine.fallbackEntry(
                            provider: target, model: model, embeddings: endpoint == .embeddings, at: startedAt)
                    })
                switch budgets.reserve(covering, worstCase: worst, now: startedAt) {
                case .failure(let refusal):
                    metrics.record(provider: provider, status: MeterrError.Code.rateLimited.httpStatus, source: nil)
                    let wait = max(1, (refusal.resetsAt.milliseconds - startedAt.milliseconds + 999) / 1000)
                    return failure(.rateLimited, refusal.message, headers: [.retryAfter: String(wait)])
                case .success(let held):
                    reservation = held
                }
            }
        }

        let call = GatewayCall(
            gateway: self, provider: target, endpoint: endpoint, facts: facts, requestBody: bytes,
            principal: principal, attribution: attribution, reservation: reservation,
            requestId: inbound.requestId, started: started, startedAt: startedAt, unpricedPolicy: unpricedPolicy)
        return .forward(
            UpstreamPlan(
                request: UpstreamRequest(endpoint: upstreamEndpoint, head: head, body: upstreamBody), call: call,
                target: target, wire: wire.provider, injectedUsage: injectedUsage,
                limitHeaders: limitHeaders))
    }

    /// The headers meterr adds to every gateway answer: its request id, the security headers of
    /// DESIGN.md, and cross-origin access for an allowed origin.
    func finish(_ headers: inout HTTPFields, requestId: String, origin: String?) {
        headers.setCommonHeaders(requestId: requestId)
        cors.decorate(&headers, origin: origin)
    }

    /// `x-ratelimit-*` headers for a key's tightest request limit (none for unlimited keys).
    static func rateLimitHeaders(_ decision: RateLimiter.Decision) -> HTTPFields {
        var headers = HTTPFields()
        if let limit = decision.limit, let remaining = decision.remaining, let reset = decision.resetSeconds {
            headers[.rateLimitLimit] = String(limit)
            headers[.rateLimitRemaining] = String(remaining)
            headers[.rateLimitReset] = "\(reset)s"
        }
        return headers
    }

    /// The gateway key as the provider's SDK sends it.
    static func presentedKey(_ headers: HTTPFields, query: String?, adapter: any ProviderProfile) -> String? {
        for name in adapter.keyHeaders {
            guard let fieldName = HTTPField.Name(name), let value = headers[fieldName] else { continue }
            if let key = name == "authorization" ? PresentedKey.bearer(value) : PresentedKey.plain(value) {
                return key
            }
        }
        if adapter.keyInQuery, let query {
            for pair in query.split(separator: "&") where pair.hasPrefix("key=") {
                return String(pair.dropFirst(4)).removingPercentEncoding ?? String(pair.dropFirst(4))
            }
        }
        return nil
    }

    /// The query string to forward: Gemini's `key=` (the gateway key) is meterr's, never the upstream's.
    static func query(_ query: String?, adapter: any ProviderProfile) -> String {
        guard let query, !query.isEmpty else { return "" }
        guard adapter.keyInQuery else { return "?" + query }
        let kept = query.split(separator: "&").filter { !$0.hasPrefix("key=") }
        return kept.isEmpty ? "" : "?" + kept.joined(separator: "&")
    }

    static func upstreamRequestId(_ headers: HTTPHeaders) -> String? {
        ResponseUsageMeter.requestIdHeaders.lazy.compactMap { headers.first(name: $0) }.first
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    /// The `Server-Timing` value of a call: meterr's own time and the provider's (for a stream, up
    /// to its response head). Both are also observed in `/metrics`.
    func serverTiming(
        provider: Provider, started: ContinuousClock.Instant, upstreamStarted: ContinuousClock.Instant,
        upstreamEnded: ContinuousClock.Instant
    ) -> String {
        let total = Self.microseconds(ContinuousClock.now - started)
        let upstream = Self.microseconds(upstreamEnded - upstreamStarted)
        let own = max(0, total - upstream)
        metrics.observe(provider: provider, meterr: own, upstream: upstream)
        return "meterr;dur=\(Self.decimal(own)), upstream;dur=\(Self.decimal(upstream))"
    }

    static func microseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
    }

    /// Microseconds as milliseconds with three decimals (`1.234`), without a formatter.
    static func decimal(_ microseconds: Int64) -> String {
        let fraction = String(microseconds % 1000)
        return "\(microseconds / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}

extension HTTPField.Name {
    static let meterrKey = HTTPField.Name(MeterrHeader.key)!
    static let meterrTeam = HTTPField.Name(MeterrHeader.team)!
    static let meterrUser = HTTPField.Name(MeterrHeader.user)!
    static let meterrProject = HTTPField.Name(MeterrHeader.project)!
    static let meterrTags = HTTPField.Name(MeterrHeader.tags)!
    static let meterrCost = HTTPField.Name(MeterrHeader.cost)!
    static let serverTiming = HTTPField.Name("Server-Timing")!
    static let rateLimitLimit = HTTPField.Name("x-ratelimit-limit-requests")!
    static let rateLimitRemaining = HTTPField.Name("x-ratelimit-remaining-requests")!
    static let rateLimitReset = HTTPField.Name("x-ratelimit-reset-requests")!
}
