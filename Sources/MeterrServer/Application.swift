import AsyncHTTPClient
import Hummingbird
import HummingbirdCore
import Logging
import MeterrCore
import MeterrGatewayChannel
import MeterrPostgres
import MeterrPricing
import MeterrRouter
import MeterrStore
import MeterrUpstream
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ServiceLifecycle
import UnixSignals

/// Builds the meterr server: opens (and on first start sets up) the store, then wires the routes and
/// the background services. `meterr serve` and the tests build it the same way.
public func buildApplication(_ configuration: ServerConfiguration) async throws -> MeterrApplication {
    try configuration.validate()
    let certificate = try configuration.tlsCertificateFile.map { file in
        try ServingCertificate(
            certificateFile: file, keyFile: configuration.tlsKeyFile ?? "",
            minimumVersion: configuration.tlsMinimumVersion)
    }
    let parts = try await buildRouter(configuration, certificate: certificate)
    return MeterrApplication(configuration: configuration, certificate: certificate, parts: parts)
}

/// The meterr server: Hummingbird's router (`/api`, the dashboard, the rest), the gateway's handler in
/// every connection's pipeline, and the background services, served on meterr's own `HTTPServer`,
/// which keeps each connection on the event loop that accepted it.
public struct MeterrApplication: Service, CustomStringConvertible {
    public var description: String { "MeterrApplication" }

    let responder: RouterResponder<MeterrRequestContext>
    let services: [any Service]
    public let logger: Logger
    let gateway: Gateway
    let certificate: ServingCertificate?
    let clock: WallClock
    /// The largest request body read for the router (the routes' own limit, and MCP's).
    let maxBodyBytes: Int
    var host: String
    var port: Int
    /// Called once the server listens, with its listening channel.
    var listening: @Sendable (any Channel) -> Void

    init(
        configuration settings: ServerConfiguration, certificate: ServingCertificate?,
        parts: (
            router: Router<MeterrRequestContext>, gateway: Gateway, services: [any Service], logger: Logger,
            loopback: LoopbackURL
        )
    ) {
        responder = parts.router.buildResponder()
        // Stopped in reverse order: the server stops taking requests, then the upstream client
        // closes, then the ledger commits what is queued.
        services = parts.services
        logger = parts.logger
        gateway = parts.gateway
        self.certificate = certificate
        clock = settings.clock
        maxBodyBytes = max(settings.maxBodyBytes, 1 << 20)
        host = settings.host
        port = settings.port
        let loopback = parts.loopback
        let onListening = settings.onListening
        listening = { channel in
            let port = channel.localAddress?.port ?? settings.port
            loopback.listening(host: settings.host, port: port)
            onListening(port)
        }
    }

    /// Runs until SIGTERM or SIGINT, then shuts down gracefully.
    public func runService(gracefulShutdownSignals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        let group = ServiceGroup(
            configuration: .init(services: [self], gracefulShutdownSignals: gracefulShutdownSignals, logger: logger))
        try await group.run()
    }

    /// Serves until a graceful shutdown (SIGTERM, SIGINT) or cancellation.
    public func run() async throws {
        // Each connection's pipeline: HTTP/1, then the gateway's handler, which serves gateway calls on
        // the connection's event loop and passes every other request on to Hummingbird.
        let gateway = gateway
        let server = HTTPServer(
            host: host, port: port, group: .singleton,
            tls: try certificate.map { try NIOSSLContext(configuration: $0.configuration) },
            handlers: { [GatewayChannelHandler(routing: gateway)] }, maxBodyBytes: maxBodyBytes,
            shortReads: ShortReads.paths, respond: respond, onRunning: listening)
        try await ServiceGroup(configuration: .init(services: services + [server], logger: logger)).run()
    }

    /// The router's answer to a request the gateway does not serve, with `Date` (from meterr's clock);
    /// an error the router did not turn into an answer is a bare 500.
    private var respond: RouterChannelHandler.Respond {
        let responder = responder
        let logger = logger
        let clock = clock
        return { request, channel in
            let context = MeterrRequestContext(source: .init(channel: channel, logger: logger))
            var response: Response
            do {
                response = try await responder.respond(to: request, context: context)
            } catch {
                logger.debug("an error the router did not answer", metadata: ["error.type": "\(error)"])
                response = Response(status: .internalServerError, body: .init())
            }
            response.headers[.date] = clock.now().httpDate
            return response
        }
    }
}

/// The database of `configuration`: PostgreSQL when it names one (migrated on open, this month's
/// partitions made), else the data directory's SQLite file.
func openDatabase(_ configuration: ServerConfiguration, logger: Logger) async throws -> any MeterrDatabase {
    guard let url = configuration.databaseURL else {
        return try SQLiteStore(
            directory: configuration.dataDirectory, durability: configuration.durability, clock: configuration.clock)
    }
    let store = try await PostgresStore(url: try DatabaseURL(url), clock: configuration.clock, logger: logger)
    try await store.preparePartitions(now: configuration.clock.now())
    return store
}

/// The router with every route, and the services the application runs beside it.
func buildRouter(_ configuration: ServerConfiguration, certificate: ServingCertificate? = nil) async throws -> (
    router: Router<MeterrRequestContext>, gateway: Gateway, services: [any Service], logger: Logger,
    loopback: LoopbackURL
) {
    let clock = configuration.clock
    let logger = configuration.logFormat.logger(label: "meterr", level: configuration.logLevel, clock: clock)
    let servesTLS = certificate != nil
    let store = try await openDatabase(configuration, logger: logger)
    let bootstrap = try await store.bootstrap(adminKey: configuration.adminKey)
    configuration.onBootstrap(bootstrap)
    let broadcaster = UsageBroadcaster(clock: clock)
    let answers: any ResponseCacheStore =
        switch configuration.responseCache.storage {
        case .database:
            try SQLiteResponseCache(
                directory: configuration.dataDirectory, maxBytes: configuration.responseCache.maxBytes)
        case .memory: MemoryResponseCache(maxBytes: configuration.responseCache.maxBytes)
        }
    // With several nodes, live dashboards follow the database (`LiveEventsPoller`), not this node's writes.
    let shared = store as? PostgresStore
    let writer = LedgerWriter(
        ledger: shared == nil ? PublishingLedger(ledger: store, broadcaster: broadcaster) : store,
        // Gateway calls wait up to `ledger_wait_ms` for company, so each transaction carries many.
        maxGroupSize: shared == nil ? 20_000 : 4_000, linger: configuration.ledgerWait,
        concurrentCommits: shared == nil ? 1 : 2,
        logger: logger)
    let vault = try CredentialVault.load(masterKey: configuration.masterKey, directory: configuration.dataDirectory)
    let credentials = CredentialCache(store: store, vault: vault, clock: clock)
    // The shipped catalog with the data directory's imported prices laid over it.
    let prices = PriceBook(try PriceBook.edition(configuration, firstOrganisation: bootstrap.organisation.id))
    let pricer = configuration.pricer ?? prices

    // With several nodes, a key revoked on one is refused by every other within a second: each
    // node keeps a key's principal for at most 900 ms.
    let principals = PrincipalCache(
        accounts: store, lifetimeMilliseconds: shared == nil ? 10_000 : 900, clock: clock)
    let policies = PolicyCache(store: store)
    let alertService = AlertService(
        store: store, webhooks: store, policies: policies, clock: clock, tick: configuration.alertTick, logger: logger,
        publicURL: configuration.publicURL, accounts: store)
    let budgetGuard = BudgetGuard(
        store: store, ledgerQueue: writer, clock: clock, shared: shared,
        holdTTL: .seconds(Int64(configuration.budgetHoldSeconds)),
        logger: logger, raise: { alertService.raise($0) })
    try await budgetGuard.reload()
    let anomalies = AnomalyDetector(store: store, policies: policies, clock: clock, report: alertService.report)
    try await anomalies.loadBlocks()
    let unpriced = UnpricedPricing(prices: prices, policies: policies)
    let teams = TeamDirectory(accounts: store, clock: clock)
    // Limits kept in memory take this node's share: the nodes on the database are counted at start.
    let node = Identifier.make("node", length: 12)
    let nodes = NodeCount()
    if let shared { nodes.set(try await shared.heartbeat(node: node)) }
    let throttle = AuthenticationThrottle(failures: configuration.authFailuresPerMinute, clock: clock, nodes: nodes)
    let router = Router(context: MeterrRequestContext.self)
    router.add(middleware: ResponseHeadersMiddleware(servesTLS: servesTLS))
    let cors = CORSPolicy(origins: Set(configuration.corsOrigins))
    if !cors.origins.isEmpty { router.add(middleware: AllowedOriginsMiddleware(policy: cors)) }
    HealthRoutes(store: store).register(on: router)
    OpenAPIRoute().register(on: router)
    SignInRoutes(
        users: store, throttle: throttle, secureCookies: configuration.secureCookies || servesTLS, clock: clock
    )
    .register(on: router)
    let loopback = LoopbackURL()
    MCPRoute(loopback: loopback).register(
        on: router.group("mcp").add(middleware: AuthenticationMiddleware(cache: principals, throttle: throttle))
            .group(context: AuthenticatedContext.self))
    let api = router.group("api")
        .add(middleware: AuthenticationMiddleware(cache: principals, throttle: throttle))
        .group(context: AuthenticatedContext.self)
    UsageRoutes(
        writer: writer, ledger: store, pricer: pricer, unpriced: unpriced, budgets: budgetGuard, anomalies: anomalies,
        teams: teams, maxBodyBytes: configuration.maxBodyBytes, clock: clock
    )
    .register(on: api)
    PricingRoutes(prices: prices, ledger: store, maxBodyBytes: configuration.maxBodyBytes, clock: clock)
        .register(on: api)
    TokenRoutes(maxBodyBytes: configuration.maxBodyBytes).register(on: api)
    AdminRoutes(
        accounts: store, principals: principals, teams: teams, maxBodyBytes: configuration.maxBodyBytes, clock: clock
    )
    .register(on: api)
    UserRoutes(users: store, principals: principals, answers: answers, maxBodyBytes: configuration.maxBodyBytes)
        .register(on: api)
    BudgetRoutes(store: store, guardian: budgetGuard, clock: clock, maxBodyBytes: configuration.maxBodyBytes)
        .register(on: api)
    AlertRoutes(store: store).register(on: api)
    StatementRoutes(ledger: store, breakdowns: store, policies: policies, clock: clock).register(on: api)
    CacheRoutes(answers: answers).register(on: api)
    ModelHealthRoutes(health: store, clock: clock).register(on: api)
    OptimizeRoutes(shapes: store, prices: prices, cacheSettings: configuration.responseCache, clock: clock)
        .register(on: api)
    AnomalyRoutes(
        store: store, policies: policies, detector: anomalies, unpriced: unpriced, clock: clock,
        maxBodyBytes: configuration.maxBodyBytes
    ).register(on: api)
    let upstreamPolicy = UpstreamURLPolicy(allowedHosts: Set(configuration.upstreamAllowHosts))
    let webhookRoutes = WebhookRoutes(
        store: store, vault: vault, policy: upstreamPolicy, maxBodyBytes: configuration.maxBodyBytes, clock: clock)
    webhookRoutes.register(on: api)
    CredentialRoutes(
        store: store, cache: credentials,
        policy: UpstreamURLPolicy(allowedHosts: Set(configuration.upstreamAllowHosts)),
        maxBodyBytes: configuration.maxBodyBytes
    ).register(on: api)

    let proxies = UpstreamProxies(
        https: configuration.upstreamHTTPSProxy.flatMap(UpstreamProxy.init(url:)),
        http: configuration.upstreamHTTPProxy.flatMap(UpstreamProxy.init(url:)),
        noProxy: configuration.upstreamNoProxy)
    // The gateway's client; made before the webhooks' client, which must be shut down once made.
    let upstreamClient = try UpstreamClient(
        timeouts: .init(
            connect: .seconds(Int64(configuration.upstreamConnectTimeout)),
            firstByte: .seconds(Int64(configuration.upstreamFirstByteTimeout)),
            read: .seconds(Int64(configuration.upstreamReadTimeout)), idle: .seconds(60)),
        caFile: configuration.upstreamCAFile, proxies: proxies)
    var clientConfiguration = HTTPClient.Configuration()
    clientConfiguration.timeout = .init(
        connect: .seconds(Int64(configuration.upstreamConnectTimeout)),
        read: .seconds(Int64(configuration.upstreamReadTimeout)))
    clientConfiguration.decompression = .disabled
    clientConfiguration.connectionPool = .init(idleTimeout: .seconds(60))
    clientConfiguration.httpVersion = .automatic
    // No spans per upstream call (meterr exports no traces): their attributes cost time on every call.
    clientConfiguration.tracing.tracer = nil
    let webhookClients = WebhookClients(configuration: clientConfiguration, proxies: proxies)
    let gatewayMetrics = GatewayMetrics()
    var telemetryServices: [any Service] = []
    var telemetry: GatewayTelemetry?
    if let endpoint = configuration.otelEndpoint {
        let made = try GatewayTelemetry.make(
            endpoint: endpoint, serviceName: configuration.otelServiceName,
            exportInterval: configuration.otelExportInterval, logger: logger)
        telemetry = made.0
        telemetryServices = made.1
    }
    let gateway = Gateway(
        client: upstreamClient, principals: principals, credentials: credentials, writer: writer, pricer: pricer,
        estimator: configuration.tokenEstimator,
        upstreams: configuration.upstreams, maxRequestBytes: configuration.maxGatewayBodyBytes,
        limiter: RateLimiter(clock: clock, nodes: nodes), throttle: throttle, budgets: budgetGuard,
        anomalies: anomalies,
        clock: clock,
        prices: prices, unpriced: unpriced, metrics: gatewayMetrics, cors: cors, servesTLS: servesTLS,
        telemetry: telemetry, teams: teams, router: ModelRouter(table: configuration.routes),
        deploymentKeys: configuration.deploymentKeys,
        cache: GatewayCache(settings: configuration.responseCache, store: answers, logger: logger),
        logger: logger)
    try await RouterRoutes.load(from: store, into: gateway.router)
    RouterRoutes(gateway: gateway, store: store, maxBodyBytes: configuration.maxBodyBytes).register(on: api)
    MetricsRoute(writer: writer, prices: prices, gateway: gatewayMetrics).register(on: router)
    var dashboard = DashboardRoutes(
        ledger: store, breakdowns: store, accounts: store, users: store, budgets: store, alerts: store,
        credentials: store, guardian: budgetGuard, prices: prices, principals: principals,
        broadcaster: broadcaster, unpriced: unpriced, clock: clock)
    dashboard.serverCredentials = Provider.allCases.compactMap { provider in
        guard let upstream = configuration.upstreams[provider], let key = upstream.apiKey else { return nil }
        return (provider, CredentialVault.mask(key), upstream.baseURL)
    }
    dashboard.webhooks = webhookRoutes
    dashboard.shapes = store
    dashboard.health = store
    dashboard.cacheTTL = configuration.responseCache.ttl
    dashboard.register(on: router)

    var maintenance: [any Service] = [
        EventRetention(
            store: store, defaultDays: configuration.eventRetentionDays, clock: clock, logger: logger,
            tick: configuration.maintenanceTick * 60)
    ]
    if let shared {
        maintenance.append(LiveEventsPoller(store: shared, broadcaster: broadcaster, logger: logger))
        // What other nodes change reaches this one within the upkeep's tick (5 s).
        let router = gateway.router
        maintenance.append(
            PostgresMaintenance(
                store: shared, clock: clock, logger: logger, node: node, nodes: nodes,
                finish: { await budgetGuard.settleAll() }
            ) {
                budgetGuard.retireLeases(takenBefore: .now - .seconds(5))
                try await budgetGuard.reload()
                try await budgetGuard.recountAllIfDue(now: clock.now())
                policies.forgetAll()
                try await anomalies.loadBlocks()
                try await RouterRoutes.load(from: store, into: router)
            })
    }
    if let directory = configuration.backupDirectory, let store = store as? SQLiteStore {
        maintenance.append(
            ScheduledBackups(
                store: store, archive: BackupArchive(directory: directory), dataDirectory: configuration.dataDirectory,
                clock: clock, logger: logger, tick: configuration.maintenanceTick))
    }
    let services: [any Service] =
        telemetryServices + maintenance + [
            writer, alertService, broadcaster,
            WebhookSender(
                store: store, vault: vault, clients: webhookClients, retryBase: configuration.webhookRetryBase,
                clock: clock, logger: logger),
            KeyUsageService(principals: principals, accounts: store, clock: clock, logger: logger),
            AnomalyWarmUp(detector: anomalies, accounts: store, logger: logger),
            HTTPClientService(webhooks: webhookClients, upstream: upstreamClient),
            ConfigurationReloader(
                configuration: configuration, firstOrganisation: bootstrap.organisation.id, prices: prices,
                certificate: certificate, logger: logger),
        ]
    return (router, gateway, services, logger, loopback)
}

/// Shuts the HTTP clients down when the application stops.
struct HTTPClientService: Service, CustomStringConvertible {
    var description: String { "HTTPClientService" }

    let webhooks: WebhookClients
    let upstream: UpstreamClient

    func run() async throws {
        try? await gracefulShutdown()
        upstream.shutdown()
        try await webhooks.shutdown()
    }
}
