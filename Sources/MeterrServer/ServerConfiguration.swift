import Foundation
import Logging
import MeterrCore
import MeterrPostgres
import MeterrPricing
import MeterrProviders
import MeterrRouter
import MeterrStore
import MeterrUpstream
import Yams

/// Everything `meterr serve` needs to know. Defaults start a working server with no configuration.
///
/// Precedence, lowest first: defaults, the YAML file (`--config`), the environment (`METERR_*`),
/// then command-line flags, which the CLI applies on top.
public struct ServerConfiguration: Sendable {
    /// The address to listen on.
    public var host = "127.0.0.1"
    /// The port to listen on; 0 picks a free one.
    public var port = 8787
    /// Where the SQLite database lives (and, with `databaseURL`, this node's own files: its response
    /// cache, imported prices).
    public var dataDirectory = "./meterr-data"
    /// A PostgreSQL URL (`database_url`, `METERR_DATABASE_URL`, `--database-url`): every store then
    /// lives there, for several nodes on one database; `nil` keeps the embedded SQLite file.
    public var databaseURL: String?
    /// With `databaseURL`: how long a hard budget's hold lasts when its node never settles it (it
    /// died); then the hold is charged in full (`budget_hold_seconds`).
    public var budgetHoldSeconds = 600
    /// The largest request body accepted on `/api`.
    public var maxBodyBytes = 1_048_576
    /// The largest request body the gateway forwards.
    public var maxGatewayBodyBytes = 32 << 20
    /// Where each provider's calls go and the credential meterr puts on them.
    public var upstreams: [Provider: Upstream] = Dictionary(
        uniqueKeysWithValues: Provider.allCases.map { ($0, Upstream(baseURL: Providers.profile($0).defaultBaseURL)) })
    /// Seconds to open a connection to a provider.
    public var upstreamConnectTimeout = 10
    /// Seconds a provider may take to start answering (its response head) before the call fails.
    public var upstreamFirstByteTimeout = 600
    /// Seconds a provider may stay silent between two reads before the call fails.
    public var upstreamReadTimeout = 300
    /// A PEM file of certificate authorities trusted for https upstreams besides the system's (a
    /// company proxy's, a self-hosted model's).
    public var upstreamCAFile: String?
    /// The HTTP proxy https provider calls go through (`http://[user:password@]host:port`, a
    /// `CONNECT` tunnel), from `upstream_proxy` or else `HTTPS_PROXY`.
    public var upstreamHTTPSProxy: String?
    /// The HTTP proxy plain http provider calls go through, from `upstream_proxy` or else `HTTP_PROXY`.
    public var upstreamHTTPProxy: String?
    /// Upstream hosts reached directly, not through the proxy (`upstream_no_proxy`, else `NO_PROXY`).
    public var upstreamNoProxy: [String] = []
    /// Failed authentications per minute from one address before it is refused for a minute; 0 turns
    /// the back-off off (behind a proxy every caller shares the proxy's address).
    public var authFailuresPerMinute = 20
    /// Hosts an organisation may point a provider at although they are internal or plain http
    /// (its own proxy, a self-hosted model).
    public var upstreamAllowHosts: [String] = []
    /// Whether session cookies carry `Secure` (set it when meterr is reached over https).
    public var secureCookies = false
    /// The first webhook retry's delay; each further one doubles it (up to an hour).
    public var webhookRetryBase: Duration = .seconds(5)
    /// How often unacknowledged alerts are checked for re-sending.
    public var alertTick: Duration = .seconds(30)
    /// Where budgets, alerts and anomaly detection read the time (tests set their own).
    public var clock: WallClock = .system
    /// Browser origins allowed to call meterr (`https://app.example.com`); none by default.
    public var corsOrigins: [String] = []
    /// Estimates tokens when a provider's count never arrives.
    public var tokenEstimator: any TokenEstimator = TokenizerEstimator()
    /// Azure deployment names and the models they serve, for pricing (`prod-chat: gpt-4o`).
    public var azureDeployments: [String: String] = [:]
    /// Negotiated prices and discounts per organisation (`org: default` means the first organisation).
    public var priceOverrides: [OrgPriceOverride] = []
    /// What the gateway does with calls whose model has no price, for organisations that set no
    /// `unpriced_policy` of their own (`unpriced_policy`, `unpriced_fallback_model`).
    public var unpricedPolicy: UnpricedPolicy = .refuse
    /// An admin key to install instead of a random one (`METERR_ADMIN_KEY`).
    public var adminKey: String?
    /// The master key sealing provider credentials (`METERR_MASTER_KEY`); `nil` uses `master.key` in the data directory.
    public var masterKey: String?
    /// Where scheduled backups go (`backup_dir`); `nil` takes none (`meterr backup now` still works).
    public var backupDirectory: String?
    /// Days raw events are kept for organisations whose policy sets none (`event_retention_days`);
    /// `nil` keeps them for ever. Rollups and budget history are kept regardless.
    public var eventRetentionDays: Int?
    /// How often scheduled backups and retention check whether work is due (tests shorten it).
    public var maintenanceTick: Duration = .seconds(60)
    /// Where people reach meterr (`public_url`, `https://meterr.example.com`): links in webhook payloads.
    public var publicURL: String?
    /// An OpenTelemetry collector's OTLP/HTTP base URL (`otel_endpoint`, `http://collector:4318`):
    /// a span per gateway call and cost and token metrics go there.
    public var otelEndpoint: String?
    /// The `service.name` of meterr's telemetry (`otel_service_name`).
    public var otelServiceName = "meterr"
    /// How often spans and metrics are sent (`otel_export_interval`, seconds).
    public var otelExportInterval: Duration = .seconds(5)
    /// How verbose the log is.
    public var logLevel: Logger.Level = .info
    /// How log lines are written: `text` for people, `json` (one object a line) for collectors.
    public var logFormat: LogFormat = .text
    /// The PEM certificate chain meterr serves HTTPS with (`tls_cert`); with `tlsKeyFile`, plain HTTP is off.
    public var tlsCertificateFile: String?
    /// The PEM private key of `tlsCertificateFile` (`tls_key`).
    public var tlsKeyFile: String?
    /// The oldest TLS version accepted (`tls_min_version`): 1.3 unless 1.2 is asked for.
    public var tlsMinimumVersion: ServingCertificate.MinimumVersion = .tls13
    /// The router's virtual models and failure handling (the file's `router:` section).
    public var routes = RouteTable()
    /// The response cache: storage, size and which calls it covers (the file's `response_cache:` section).
    public var responseCache = ResponseCacheSettings()
    /// The provider keys of deployments that name their own (`key_env`), by deployment id, read from
    /// the environment at start.
    public var deploymentKeys: [String: String] = [:]
    /// The YAML file the configuration came from, read again on SIGHUP.
    public var file: String?
    /// The environment the configuration came from, applied again on SIGHUP.
    public var environment: [String: String] = [:]
    /// Settings given on the command line (by configuration-file name), applied last, again on SIGHUP.
    public var commandLine: [(key: String, value: String)] = []
    /// How hard a commit waits for the disk.
    public var durability: SQLiteStore.Durability = .normal
    /// How long a gateway call's event may wait for others to share its ledger commit (`ledger_wait_ms`):
    /// longer saves CPU per call under load, shorter gives each commit less to do at once.
    public var ledgerWait: Duration = .milliseconds(5)
    /// Prices ingested events; `nil` uses the catalog (shipped prices plus the data directory's imports).
    public var pricer: (any UsagePricer)?
    /// Called once the store is ready, with what the first start created (the admin key, shown once).
    public var onBootstrap: @Sendable (BootstrapResult) -> Void = { _ in }
    /// Called once the server listens, with the port it bound.
    public var onListening: @Sendable (Int) -> Void = { _ in }

    /// The default configuration.
    public init() {}

    /// A provider's upstream: its base URL and the credential meterr swaps in for the gateway key.
    public struct Upstream: Sendable {
        /// Scheme, host and optional path prefix, without a trailing slash.
        public var baseURL: String
        /// The provider key; `nil` means callers must bring their own (`x-meterr-key`).
        public var apiKey: String?

        /// Creates an upstream.
        public init(baseURL: String, apiKey: String? = nil) {
            self.baseURL = baseURL
            self.apiKey = apiKey
        }
    }

    /// The environment variables of each provider's key and base URL override.
    /// The variable that points a provider at another upstream (`METERR_ANTHROPIC_BASE_URL`).
    static func baseURLVariable(_ provider: Provider) -> String { "METERR_\(provider.rawValue.uppercased())_BASE_URL" }

    /// Reads the YAML file if one is given, then the environment.
    public static func load(
        file: String?, environment: [String: String], commandLine: [(key: String, value: String)] = []
    ) throws -> ServerConfiguration {
        var configuration = ServerConfiguration()
        configuration.file = file
        configuration.environment = environment
        configuration.commandLine = commandLine
        if let file {
            try configuration.apply(yamlFile: file)
        }
        try configuration.apply(environment: environment)
        for (key, value) in commandLine { try configuration.set(key, value, source: "command line") }
        try configuration.resolveDeploymentKeys()
        try configuration.validate()
        return configuration
    }

    /// Reads the keys deployments name by environment variable; a variable that is not set is an error.
    mutating func resolveDeploymentKeys() throws {
        for name in routes.models.keys.sorted() {
            for deployment in routes.models[name]!.deployments {
                if let variable = deployment.keyVariable {
                    guard let key = environment[variable], !key.isEmpty else {
                        throw MeterrError(
                            .configuration,
                            "router.models.\(name): \(deployment.id) names key_env \(variable), which is not set")
                    }
                    deploymentKeys[deployment.id] = key
                }
                if let url = deployment.baseURL, UpstreamEndpoint(baseURL: url) == nil {
                    throw MeterrError(
                        .configuration,
                        "router.models.\(name): \(deployment.id)'s base_url \(url) is not an http(s) URL")
                }
            }
        }
    }

    /// Checks settings that only make sense together.
    public func validate() throws {
        // Provider keys go into a header as they are (the upstream client does not check headers
        // again): a line break in one would add headers of its own.
        for provider in Provider.allCases {
            if let key = upstreams[provider]?.apiKey, Self.hasControlCharacter(key) {
                throw MeterrError(
                    .configuration,
                    "\(Providers.profile(provider).keyVariable) holds a control character (a line break?): give the key alone"
                )
            }
        }
        for (deployment, key) in deploymentKeys.sorted(by: { $0.key < $1.key }) where Self.hasControlCharacter(key) {
            throw MeterrError(
                .configuration,
                "the key_env of \(deployment) holds a control character (a line break?): give the key alone")
        }
        switch (tlsCertificateFile, tlsKeyFile) {
        case (nil, nil), (.some, .some): break
        case (.some, nil): throw MeterrError(.configuration, "tls_cert is set but tls_key is not: give both")
        case (nil, .some): throw MeterrError(.configuration, "tls_key is set but tls_cert is not: give both")
        }
        if databaseURL != nil {
            // Nodes on one database must open each other's provider credentials.
            guard masterKey != nil else {
                throw MeterrError(
                    .configuration,
                    "database_url needs METERR_MASTER_KEY: every node must seal provider credentials with the same key "
                        + "(make one with: openssl rand -base64 32)")
            }
            guard backupDirectory == nil else {
                throw MeterrError(
                    .configuration,
                    "backup_dir backs up the embedded SQLite database; with database_url back PostgreSQL up with "
                        + "pg_dump or its own tools (docs/postgresql.md)")
            }
        }
    }

    mutating func apply(yamlFile path: String) throws {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw MeterrError(.configuration, "cannot read the configuration file \(path)")
        }
        let node: Any?
        do {
            node = try Yams.load(yaml: text)
        } catch {
            throw MeterrError(.configuration, "\(path) is not valid YAML: \(error)")
        }
        guard let map = node as? [String: Any] else {
            if node == nil { return }
            throw MeterrError(.configuration, "\(path) must hold a mapping of settings")
        }
        for (key, value) in map {
            switch key {
            case "azure_deployments":
                guard let deployments = value as? [String: Any] else {
                    throw MeterrError(.configuration, "\(path): azure_deployments must map deployment names to models")
                }
                for (name, model) in deployments { azureDeployments[name] = "\(model)" }
            case "upstream_allow_hosts":
                guard let list = value as? [Any] else {
                    throw MeterrError(.configuration, "\(path): upstream_allow_hosts must be a list of hosts")
                }
                upstreamAllowHosts = list.map { "\($0)".lowercased() }
            case "upstream_no_proxy" where value is [Any]:
                upstreamNoProxy = (value as? [Any] ?? []).map { "\($0)" }
            case "cors_origins":
                guard let list = value as? [Any] else {
                    throw MeterrError(.configuration, "\(path): cors_origins must be a list of origins")
                }
                corsOrigins = list.map { "\($0)" }
            case "router":
                routes = try RouteTable(yaml: value, source: "\(path): router")
            case "response_cache":
                responseCache = try ResponseCacheSettings(yaml: value, source: "\(path): response_cache")
            case "price_overrides":
                guard let list = value as? [[String: Any]] else {
                    throw MeterrError(.configuration, "\(path): price_overrides must be a list of overrides")
                }
                for (index, item) in list.enumerated() {
                    priceOverrides.append(try Self.priceOverride(item, source: "\(path): price_overrides[\(index)]"))
                }
            default:
                try set(key, "\(value)", source: path)
            }
        }
    }

    mutating func apply(environment: [String: String]) throws {
        let names: [(String, String)] = [
            ("METERR_HOST", "host"), ("METERR_PORT", "port"), ("METERR_DATA_DIR", "data_dir"),
            ("METERR_DATABASE_URL", "database_url"), ("METERR_BUDGET_HOLD_SECONDS", "budget_hold_seconds"),
            ("METERR_MAX_BODY_BYTES", "max_body_bytes"), ("METERR_LOG_LEVEL", "log_level"),
            ("METERR_DURABILITY", "durability"), ("METERR_LEDGER_WAIT_MS", "ledger_wait_ms"),
            ("METERR_MAX_GATEWAY_BODY_BYTES", "max_gateway_body_bytes"),
            ("METERR_UPSTREAM_CONNECT_TIMEOUT", "upstream_connect_timeout"),
            ("METERR_UPSTREAM_READ_TIMEOUT", "upstream_read_timeout"),
            ("METERR_UPSTREAM_FIRST_BYTE_TIMEOUT", "upstream_first_byte_timeout"),
            ("METERR_UPSTREAM_CA_FILE", "upstream_ca_file"),
            ("METERR_UPSTREAM_PROXY", "upstream_proxy"), ("METERR_UPSTREAM_NO_PROXY", "upstream_no_proxy"),
            ("METERR_AUTH_FAILURES_PER_MINUTE", "auth_failures_per_minute"),
            ("METERR_SECURE_COOKIES", "secure_cookies"),
            ("METERR_UNPRICED_POLICY", "unpriced_policy"),
            ("METERR_UNPRICED_FALLBACK_MODEL", "unpriced_fallback_model"),
            ("METERR_LOG_FORMAT", "log_format"), ("METERR_TLS_CERT", "tls_cert"), ("METERR_TLS_KEY", "tls_key"),
            ("METERR_TLS_MIN_VERSION", "tls_min_version"), ("METERR_BACKUP_DIR", "backup_dir"),
            ("METERR_EVENT_RETENTION_DAYS", "event_retention_days"), ("METERR_OTEL_ENDPOINT", "otel_endpoint"),
            ("METERR_PUBLIC_URL", "public_url"),
            ("METERR_OTEL_SERVICE_NAME", "otel_service_name"), ("METERR_OTEL_EXPORT_INTERVAL", "otel_export_interval"),
        ]
        for (variable, key) in names {
            if let value = environment[variable], !value.isEmpty { try set(key, value, source: variable) }
        }
        // The proxy variables curl and most HTTP clients follow, unless meterr's own settings are given.
        func conventional(_ names: String...) -> (String, String)? {
            names.lazy.compactMap { name in environment[name].flatMap { $0.isEmpty ? nil : (name, $0) } }.first
        }
        if upstreamHTTPSProxy == nil, let (variable, value) = conventional("HTTPS_PROXY", "https_proxy") {
            upstreamHTTPSProxy = try Self.proxyURL(value, source: variable)
        }
        if upstreamHTTPProxy == nil, let (variable, value) = conventional("HTTP_PROXY", "http_proxy") {
            upstreamHTTPProxy = try Self.proxyURL(value, source: variable)
        }
        if upstreamNoProxy.isEmpty, let (_, value) = conventional("NO_PROXY", "no_proxy") {
            upstreamNoProxy = Self.hostList(value)
        }
        if let key = environment["METERR_ADMIN_KEY"], !key.isEmpty { adminKey = key }
        if let key = environment["METERR_MASTER_KEY"], !key.isEmpty { masterKey = key }
        if let origins = environment["METERR_CORS_ORIGINS"], !origins.isEmpty {
            corsOrigins = origins.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        // Each provider's key and endpoint where its own SDK reads them, then meterr's override.
        for profile in Providers.all {
            let provider = profile.provider
            if let key = environment[profile.keyVariable], !key.isEmpty { upstreams[provider]?.apiKey = key }
            for variable in (profile.endpointVariable.map { [$0] } ?? []) + [Self.baseURLVariable(provider)] {
                if let url = environment[variable], !url.isEmpty {
                    upstreams[provider]?.baseURL = try Self.baseURL(url, source: variable)
                }
            }
        }
    }

    static func proxyURL(_ value: String, source: String) throws -> String {
        guard UpstreamProxy(url: value) != nil else {
            // The value is not repeated: it may hold a password.
            throw MeterrError(.configuration, "\(source) must be an http://[user:password@]host:port proxy URL")
        }
        return value
    }

    static func hostList(_ value: String) -> [String] {
        value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// One `price_overrides` item: `org`, optional `provider` or `model` (catalog id, `openai/gpt-4o`),
    /// `effective_from`, and either `discount_percent` or negotiated `prices` per million tokens.
    static func priceOverride(_ item: [String: Any], source: String) throws -> OrgPriceOverride {
        func text(_ key: String) -> String? { item[key].map { "\($0)" } }
        guard let org = text("org"), !org.isEmpty else {
            throw MeterrError(.configuration, "\(source): org is required")
        }
        var scope = OrgPriceOverride.Scope.all
        if let model = text("model") {
            scope = .model(model)
        } else if let name = text("provider") {
            guard let provider = Provider(rawValue: name) else {
                throw MeterrError(.configuration, "\(source): unknown provider \"\(name)\"")
            }
            scope = .provider(provider)
        }
        do {
            if let percent = text("discount_percent") {
                return try OrgPriceOverride.discount(
                    org: org, scope: scope, percent: percent, effectiveFrom: text("effective_from"))
            }
            guard let prices = item["prices"] as? [String: Any] else {
                throw MeterrError(.configuration, "\(source): give discount_percent or prices")
            }
            func price(_ key: String) throws -> TokenPrice? {
                guard let value = prices[key] else { return nil }
                switch TokenPrice.perMillion("\(value)") {
                case .success(let price): return price
                case .failure(let problem):
                    throw MeterrError(.configuration, "\(source): prices.\(key) \(problem)")
                }
            }
            guard let input = try price("input"), let output = try price("output") else {
                throw MeterrError(.configuration, "\(source): prices needs input and output (USD per million tokens)")
            }
            let set = PriceSet(
                input: input, cacheRead: try price("cache_read"), cacheWrite5m: try price("cache_write_5m"),
                cacheWrite1h: try price("cache_write_1h"), output: output, reasoning: try price("reasoning"))
            return try OrgPriceOverride(
                org: org, scope: scope, adjustment: .prices(set), effectiveFrom: text("effective_from"))
        } catch let error as MeterrError where error.code == .invalidRequest {
            throw MeterrError(.configuration, "\(source): \(error.field ?? "value"): \(error.message)")
        }
    }

    static func hasControlCharacter(_ text: String) -> Bool {
        text.unicodeScalars.contains { ($0.value < 0x20 && $0.value != 0x09) || $0.value == 0x7F }
    }

    static func baseURL(_ text: String, source: String) throws -> String {
        var url = text
        while url.hasSuffix("/") { url.removeLast() }
        guard url.hasPrefix("http://") || url.hasPrefix("https://"), url.count > 8 else {
            throw MeterrError(.configuration, "\(source) must be an http:// or https:// URL, not \"\(text)\"")
        }
        return url
    }

    /// Every setting's configuration-file name.
    static let settingNames = [
        "host", "port", "data_dir", "database_url", "budget_hold_seconds", "max_body_bytes", "max_gateway_body_bytes",
        "log_level", "log_format", "durability", "ledger_wait_ms",
        "azure_deployments", "price_overrides", "upstream_allow_hosts", "upstream_no_proxy", "upstream_proxy",
        "upstream_ca_file", "upstream_connect_timeout", "upstream_first_byte_timeout", "upstream_read_timeout",
        "cors_origins", "secure_cookies", "auth_failures_per_minute", "unpriced_policy", "unpriced_fallback_model",
        "tls_cert", "tls_key", "tls_min_version", "public_url", "backup_dir", "event_retention_days", "otel_endpoint",
        "otel_service_name", "otel_export_interval",
    ]

    /// The setting a mistyped name most likely meant (at most a third of its letters off).
    static func nearestSetting(to key: String) -> String? {
        func distance(_ a: [Character], _ b: [Character]) -> Int {
            var row = Array(0...b.count)
            for (i, x) in a.enumerated() {
                var previous = row[0]
                row[0] = i + 1
                for (j, y) in b.enumerated() {
                    let substitution = previous + (x == y ? 0 : 1)
                    previous = row[j + 1]
                    row[j + 1] = min(substitution, row[j] + 1, row[j + 1] + 1)
                }
            }
            return row[b.count]
        }
        let typed = Array(key.lowercased().replacing("-", with: "_"))
        let best = settingNames.map { ($0, distance(typed, Array($0))) }.min { $0.1 < $1.1 }
        guard let best, best.1 <= max(2, best.0.count / 3) else { return nil }
        return best.0
    }

    /// Sets one setting by its configuration-file name.
    public mutating func set(_ key: String, _ value: String, source: String) throws {
        func invalid(_ expected: String) -> MeterrError {
            MeterrError(.configuration, "\(source): \(key) must be \(expected), not \"\(value)\"")
        }
        switch key {
        case "host":
            host = value
        case "port":
            guard let port = Int(value), (0...65_535).contains(port) else { throw invalid("a port number") }
            self.port = port
        case "data_dir":
            dataDirectory = value
        case "database_url":
            do {
                _ = try DatabaseURL(value)
            } catch {
                // The value is not repeated: it may hold a password.
                throw MeterrError(
                    .configuration, "\(source): database_url must be postgres://user:password@host:port/database")
            }
            databaseURL = value
        case "budget_hold_seconds":
            guard let seconds = Int(value), (5...86_400).contains(seconds) else { throw invalid("seconds (5–86400)") }
            budgetHoldSeconds = seconds
        case "max_body_bytes":
            guard let bytes = Int(value), bytes >= 1024 else { throw invalid("a byte count of at least 1024") }
            maxBodyBytes = bytes
        case "log_level":
            guard let level = Logger.Level(rawValue: value.lowercased()) else {
                throw invalid("one of trace, debug, info, notice, warning, error, critical")
            }
            logLevel = level
        case "max_gateway_body_bytes":
            guard let bytes = Int(value), bytes >= 1024 else { throw invalid("a byte count of at least 1024") }
            maxGatewayBodyBytes = bytes
        case "upstream_connect_timeout":
            guard let seconds = Int(value), seconds > 0 else { throw invalid("a number of seconds") }
            upstreamConnectTimeout = seconds
        case "secure_cookies":
            guard let flag = Bool(value.lowercased()) else { throw invalid("true or false") }
            secureCookies = flag
        case "auth_failures_per_minute":
            guard let count = Int(value), count >= 0 else { throw invalid("a count (0 turns the back-off off)") }
            authFailuresPerMinute = count
        case "upstream_first_byte_timeout":
            guard let seconds = Int(value), seconds > 0 else { throw invalid("a number of seconds") }
            upstreamFirstByteTimeout = seconds
        case "upstream_read_timeout":
            guard let seconds = Int(value), seconds > 0 else { throw invalid("a number of seconds") }
            upstreamReadTimeout = seconds
        case "upstream_proxy":
            let proxy = try Self.proxyURL(value, source: source)
            upstreamHTTPSProxy = proxy
            upstreamHTTPProxy = proxy
        case "upstream_no_proxy":
            upstreamNoProxy = Self.hostList(value)
        case "upstream_ca_file":
            guard FileManager.default.isReadableFile(atPath: value) else { throw invalid("a readable PEM file") }
            upstreamCAFile = value
        case "unpriced_policy":
            let model = value == "fallback" ? unpricedPolicy.fallbackModel : nil
            guard let policy = try? UnpricedPolicy(name: value, fallbackModel: model) else {
                throw invalid("refuse, fallback or allow")
            }
            unpricedPolicy = policy
        case "unpriced_fallback_model":
            // Naming the model prices unpriced calls as it.
            unpricedPolicy = .fallback(model: value)
        case "public_url":
            publicURL = try Self.baseURL(value, source: source)
        case "otel_endpoint":
            otelEndpoint = try Self.baseURL(value, source: source)
        case "otel_service_name":
            guard !value.isEmpty else { throw invalid("a name") }
            otelServiceName = value
        case "otel_export_interval":
            guard let seconds = Double(value), seconds > 0, seconds <= 3600 else {
                throw invalid("seconds (up to 3600)")
            }
            otelExportInterval = .milliseconds(Int64(seconds * 1000))
        case "backup_dir":
            backupDirectory = value
        case "event_retention_days":
            guard let days = Int(value), (1...36_500).contains(days) else { throw invalid("whole days (1–36500)") }
            eventRetentionDays = days
        case "log_format":
            guard let format = LogFormat(rawValue: value.lowercased()) else { throw invalid("text or json") }
            logFormat = format
        case "tls_cert":
            guard FileManager.default.isReadableFile(atPath: value) else { throw invalid("a readable PEM file") }
            tlsCertificateFile = value
        case "tls_key":
            guard FileManager.default.isReadableFile(atPath: value) else { throw invalid("a readable PEM file") }
            tlsKeyFile = value
        case "tls_min_version":
            guard let version = ServingCertificate.MinimumVersion(rawValue: value) else { throw invalid("1.3 or 1.2") }
            tlsMinimumVersion = version
        case "durability":
            guard let durability = SQLiteStore.Durability(rawValue: value) else { throw invalid("normal or full") }
            self.durability = durability
        case "ledger_wait_ms":
            guard let milliseconds = Int(value), (0...1000).contains(milliseconds) else {
                throw invalid("milliseconds (0–1000)")
            }
            ledgerWait = .milliseconds(milliseconds)
        default:
            let hint = Self.nearestSetting(to: key).map { ": did you mean \($0)?" } ?? ""
            throw MeterrError(.configuration, "\(source): unknown setting \"\(key)\"\(hint)")
        }
    }
}

/// A configuration in a log line or an error names where meterr listens and keeps its data, never the
/// admin key, the master key or a provider key it holds.
extension ServerConfiguration: CustomStringConvertible, CustomDebugStringConvertible {
    public var description: String {
        "ServerConfiguration(host: \(host), port: \(port), data_dir: \(dataDirectory)\(tlsCertificateFile == nil ? "" : ", tls"))"
    }

    public var debugDescription: String { description }
}
