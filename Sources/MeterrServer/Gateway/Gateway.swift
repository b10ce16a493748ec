import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MeterrCore
import MeterrPricing
import MeterrProviders
import MeterrRouter
import MeterrStore
import MeterrUpstream
import NIOCore
import NIOHTTP1

/// The gateway: forwards each provider call unchanged (but for the credential), reads its usage from
/// the response as it passes, prices it and hands the event to the ledger.
///
/// `GatewayChannelHandler` takes gateway calls off Hummingbird's pipeline; `admit` decides each one
/// (a reply, or the request to send upstream) and `GatewayExchange` carries it through
/// `UpstreamClient` on the connection's own event loop. A class: every call, plan and task holds it by one
/// reference (as a struct of two dozen references, each copy retained them all).
final class Gateway: Sendable {
    let client: UpstreamClient
    let principals: PrincipalCache
    let credentials: CredentialCache
    let writer: LedgerWriter
    let pricer: any UsagePricer
    let estimator: any TokenEstimator
    let upstreams: [Provider: ServerConfiguration.Upstream]
    /// The configured base URLs, read once (a stored credential's own is read per call).
    let endpoints: [Provider: UpstreamEndpoint]
    let maxRequestBytes: Int
    let limiter: RateLimiter
    let throttle: AuthenticationThrottle
    let budgets: BudgetGuard
    let anomalies: AnomalyDetector
    let clock: WallClock
    let prices: PriceBook
    /// The cost engine in force (SIGHUP may replace it).
    var engine: CostEngine { prices.engine }
    let unpriced: UnpricedPricing
    let metrics: GatewayMetrics
    /// Origins allowed to call from a browser (`cors_origins`).
    let cors: CORSPolicy
    /// Whether meterr serves HTTPS (`Strict-Transport-Security` only then).
    let servesTLS: Bool
    /// OpenTelemetry spans and metrics, when `otel_endpoint` is configured.
    let telemetry: GatewayTelemetry?
    /// The teams each organisation created (`unknown_team: refuse`).
    let teams: TeamDirectory
    /// Virtual models, their decisions and each deployment's health.
    let router: ModelRouter
    /// Deployments' own provider keys (`key_env`), by deployment id.
    let deploymentKeys: [String: String]
    /// The response cache (`response_cache:`), when configured or asked for by calls.
    let cache: GatewayCache?
    /// Whether each call's request shape is recorded for the savings report.
    let recordsShapes: Bool
    let logger: Logger

    init(
        client: UpstreamClient, principals: PrincipalCache, credentials: CredentialCache, writer: LedgerWriter,
        pricer: any UsagePricer, estimator: any TokenEstimator, upstreams: [Provider: ServerConfiguration.Upstream],
        maxRequestBytes: Int, limiter: RateLimiter, throttle: AuthenticationThrottle, budgets: BudgetGuard,
        anomalies: AnomalyDetector, clock: WallClock, prices: PriceBook, unpriced: UnpricedPricing,
        metrics: GatewayMetrics, cors: CORSPolicy, servesTLS: Bool, telemetry: GatewayTelemetry?,
        teams: TeamDirectory, router: ModelRouter, deploymentKeys: [String: String] = [:], cache: GatewayCache? = nil,
        recordsShapes: Bool = true, logger: Logger
    ) {
        self.client = client
        self.principals = principals
        self.credentials = credentials
        self.writer = writer
        self.pricer = pricer
        self.estimator = estimator
        self.upstreams = upstreams
        self.endpoints = upstreams.compactMapValues { UpstreamEndpoint(baseURL: $0.baseURL) }
        self.maxRequestBytes = maxRequestBytes
        self.limiter = limiter
        self.throttle = throttle
        self.budgets = budgets
        self.anomalies = anomalies
        self.clock = clock
        self.prices = prices
        self.unpriced = unpriced
        self.metrics = metrics
        self.cors = cors
        self.servesTLS = servesTLS
        self.telemetry = telemetry
        self.teams = teams
        self.router = router
        self.deploymentKeys = deploymentKeys
        self.cache = cache
        self.recordsShapes = recordsShapes
        self.logger = logger
    }

    /// A path prefix of the gateway, the provider it serves, and how much of the prefix is meterr's own.
    struct Mount: Sendable {
        var prefix: String
        var provider: Provider
        var strip: String
        /// A path its SDK calls only with a wrong base URL: answered with the right one, never forwarded.
        var misdirection: Misdirection? = nil
    }

    /// Each provider's mounts, and `/v1/`: the unified API in the OpenAI format, whose plain model
    /// names go to OpenAI.
    static let mounts: [Mount] =
        Providers.all.flatMap { profile in
            profile.gatewayMounts.map { Mount(prefix: $0, provider: profile.provider, strip: profile.gatewayPrefix) }
        } + [Mount(prefix: "/v1/", provider: OpenAIWire.provider, strip: "")]

    /// The mount serving a call, if the gateway serves it (GET, POST and DELETE under a mount).
    static func mount(method: HTTPMethod, path: String) -> Mount? {
        guard method == .POST || method == .GET || method == .DELETE else { return nil }
        let served = mounts.first { path.hasPrefix($0.prefix) && path.utf8.count > $0.prefix.utf8.count }
        // Served calls skip the misdirection list, unless their mount has misdirected paths under it
        // (`/v1/messages` under `/v1/`).
        guard served.map({ misdirectedMounts.contains($0.prefix) }) ?? true,
            let misdirection = Misdirection.of(path: path)
        else { return served }
        return Mount(
            prefix: misdirection.prefix, provider: misdirection.provider, strip: "", misdirection: misdirection)
    }

    /// The mounts some misdirected path lies under.
    static let misdirectedMounts = Set(
        mounts.map(\.prefix).filter { prefix in Misdirection.all.contains { $0.prefix.hasPrefix(prefix) } })

    /// Headers never forwarded in either direction (hop-by-hop, or recomputed).
    static let hopByHop = HeaderNames([
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "host",
        "content-length", "expect",
    ])

    /// Headers of a provider's answer that the caller gets from meterr instead: the hop-by-hop ones,
    /// those meterr sets on every answer (`finish`, `Server-Timing`), and the call's cost.
    static let answerOwnHeaders = hopByHop.union(
        [MeterrHeader.requestId, "server-timing", MeterrHeader.cost]
            + HTTPFields.securityHeaders(servesTLS: true).map { $0.name.canonicalName })

    /// What the gateway does with a call: answer it itself, or send it upstream.
    enum Admission: Sendable {
        case reply(GatewayReply)
        case forward(UpstreamPlan)
    }

    /// A call through the gateway as it arrived.
    struct Inbound: Sendable {
        /// As NIO read it: the gateway never converts a call's head to `HTTPTypes`.
        var head: HTTPRequestHead
        var path: String
        var query: String?
        var body: ByteBuffer
        var mount: Mount
        /// The caller's address (formatted only when needed).
        var remoteAddress: SocketAddress?
        var requestId: String
    }

    /// Where and how a call goes upstream, and what its answer is read with.
    ///
    /// A class: the exchange reads it at each step of the answer, and a reference is one retain where
    /// a copy of the struct retained each of its two dozen references.
    final class UpstreamPlan: Sendable {
        let request: UpstreamRequest
        let call: GatewayCall
        let target: Provider
        /// The provider format the answer speaks (OpenAI's for compatible surfaces).
        let wire: Provider
        let injectedUsage: Bool
        let limitHeaders: HTTPFields
        /// The translation of a `/v1` call to the target's native API, whose answer goes back in OpenAI's format.
        let translation: GatewayTranslation?
        /// A call to a virtual model: its decision and attempts, for falling back.
        let routing: RouteAttempts?
        /// What the response cache does with the answer.
        let cache: GatewayCache.Use

        init(
            request: UpstreamRequest, call: GatewayCall, target: Provider, wire: Provider, injectedUsage: Bool,
            limitHeaders: HTTPFields, translation: GatewayTranslation? = nil, routing: RouteAttempts? = nil,
            cache: GatewayCache.Use = .none
        ) {
            self.request = request
            self.call = call
            self.target = target
            self.wire = wire
            self.injectedUsage = injectedUsage
            self.limitHeaders = limitHeaders
            self.translation = translation
            self.routing = routing
            self.cache = cache
        }

        /// The same plan with what the response cache does with its answer.
        func caching(_ use: GatewayCache.Use) -> UpstreamPlan {
            UpstreamPlan(
                request: request, call: call, target: target, wire: wire, injectedUsage: injectedUsage,
                limitHeaders: limitHeaders, translation: translation, routing: routing, cache: use)
        }
    }

    /// The one place a gateway error becomes an answer: the status from its code (as on `/api`), the
    /// body in the provider's shape, so its SDK raises its usual error.
    static func failure(
        _ profile: any ProviderProfile, _ code: MeterrError.Code, _ message: String, headers extra: HTTPFields = [:]
    ) -> GatewayReply {
        var headers = extra
        headers[.contentType] = "application/json"
        let status = code.httpStatus
        return GatewayReply(
            status: status, headers: headers,
            body: ByteBuffer(bytes: profile.errorBody(status: status, message: message)))
    }

    /// The headers meterr adds to every gateway answer: its request id, the security headers of
    /// DESIGN.md, and cross-origin access for an allowed origin.
    func finish(_ headers: inout HTTPFields, requestId: String, origin: String?) {
        headers.setCommonHeaders(requestId: requestId, servesTLS: servesTLS)
        cors.decorate(&headers, origin: origin)
    }

    /// `finish` for an answer the gateway writes itself.
    func finish(_ headers: inout OutgoingHeaders, requestId: String, origin: String?) {
        headers.addCommonHeaders(requestId: requestId, servesTLS: servesTLS)
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

    /// Each provider's key headers, made once (a profile makes its list anew on each read).
    static let keyHeaders: [Provider: [String]] = Dictionary(
        uniqueKeysWithValues: Providers.all.map { ($0.provider, $0.keyHeaders) })

    /// The gateway key as the provider's SDK sends it.
    static func presentedKey(_ headers: HTTPHeaders, query: String?, profile: any ProviderProfile) -> String? {
        for fieldName in keyHeaders[profile.provider] ?? [] {
            guard let value = headers.value(fieldName) else { continue }
            if let key = fieldName == "authorization" ? PresentedKey.bearer(value) : PresentedKey.plain(value) {
                return key
            }
        }
        if profile.keyInQuery, let query {
            for pair in query.split(separator: "&") where pair.hasPrefix("key=") {
                return String(pair.dropFirst(4)).removingPercentEncoding ?? String(pair.dropFirst(4))
            }
        }
        return nil
    }

    /// The query string to forward: Gemini's `key=` (the gateway key) is meterr's, never the upstream's.
    static func query(_ query: String?, profile: any ProviderProfile) -> String {
        guard let query, !query.isEmpty else { return "" }
        guard profile.keyInQuery else { return "?" + query }
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
    static let meterrCost = HTTPField.Name(MeterrHeader.cost)!
    static let rateLimitLimit = HTTPField.Name("x-ratelimit-limit-requests")!
    static let rateLimitRemaining = HTTPField.Name("x-ratelimit-remaining-requests")!
    static let rateLimitReset = HTTPField.Name("x-ratelimit-reset-requests")!
}
