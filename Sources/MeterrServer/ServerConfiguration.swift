import Foundation
import Logging
import MeterrCore
import MeterrProviders
import MeterrStore
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
    /// Where the SQLite database lives.
    public var dataDirectory = "./meterr-data"
    /// The largest request body accepted on `/api`.
    public var maxBodyBytes = 1_048_576
    /// The largest request body the gateway forwards.
    public var maxGatewayBodyBytes = 32 << 20
    /// Where each provider's calls go and the credential meterr puts on them.
    public var upstreams: [Provider: Upstream] = Dictionary(
        uniqueKeysWithValues: Provider.allCases.map { ($0, Upstream(baseURL: ProviderAdapter.of($0).defaultBaseURL)) })
    /// Seconds to open a connection to a provider.
    public var upstreamConnectTimeout = 10
    /// Seconds a provider may stay silent (before its first byte, or between two) before the call fails.
    public var upstreamReadTimeout = 300
    /// Estimates tokens when a provider's count never arrives.
    public var tokenEstimator: any TokenEstimator = ByteLengthEstimator()
    /// An admin key to install instead of a random one (`METERR_ADMIN_KEY`).
    public var adminKey: String?
    /// How verbose the log is.
    public var logLevel: Logger.Level = .info
    /// How hard a commit waits for the disk.
    public var durability: SQLiteStore.Durability = .normal
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
    static let providerEnvironment: [(Provider, key: String, baseURL: String)] = [
        (.openai, "OPENAI_API_KEY", "METERR_OPENAI_BASE_URL"),
        (.azure, "AZURE_OPENAI_API_KEY", "METERR_AZURE_BASE_URL"),
        (.anthropic, "ANTHROPIC_API_KEY", "METERR_ANTHROPIC_BASE_URL"),
        (.gemini, "GEMINI_API_KEY", "METERR_GEMINI_BASE_URL"),
        (.mistral, "MISTRAL_API_KEY", "METERR_MISTRAL_BASE_URL"),
        (.cohere, "COHERE_API_KEY", "METERR_COHERE_BASE_URL"),
    ]

    /// Reads the YAML file if one is given, then the environment.
    public static func load(file: String?, environment: [String: String]) throws -> ServerConfiguration {
        var configuration = ServerConfiguration()
        if let file {
            try configuration.apply(yamlFile: file)
        }
        try configuration.apply(environment: environment)
        return configuration
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
            try set(key, "\(value)", source: path)
        }
    }

    mutating func apply(environment: [String: String]) throws {
        let names: [(String, String)] = [
            ("METERR_HOST", "host"), ("METERR_PORT", "port"), ("METERR_DATA_DIR", "data_dir"),
            ("METERR_MAX_BODY_BYTES", "max_body_bytes"), ("METERR_LOG_LEVEL", "log_level"),
            ("METERR_DURABILITY", "durability"), ("METERR_MAX_GATEWAY_BODY_BYTES", "max_gateway_body_bytes"),
            ("METERR_UPSTREAM_CONNECT_TIMEOUT", "upstream_connect_timeout"),
            ("METERR_UPSTREAM_READ_TIMEOUT", "upstream_read_timeout"),
        ]
        for (variable, key) in names {
            if let value = environment[variable], !value.isEmpty { try set(key, value, source: variable) }
        }
        if let key = environment["METERR_ADMIN_KEY"], !key.isEmpty { adminKey = key }
        if let endpoint = environment["AZURE_OPENAI_ENDPOINT"], !endpoint.isEmpty {
            upstreams[.azure]?.baseURL = try Self.baseURL(endpoint, source: "AZURE_OPENAI_ENDPOINT")
        }
        for (provider, keyVariable, urlVariable) in Self.providerEnvironment {
            if let key = environment[keyVariable], !key.isEmpty { upstreams[provider]?.apiKey = key }
            if let url = environment[urlVariable], !url.isEmpty {
                upstreams[provider]?.baseURL = try Self.baseURL(url, source: urlVariable)
            }
        }
    }

    static func baseURL(_ text: String, source: String) throws -> String {
        var url = text
        while url.hasSuffix("/") { url.removeLast() }
        guard url.hasPrefix("http://") || url.hasPrefix("https://"), url.count > 8 else {
            throw MeterrError(.configuration, "\(source) must be an http:// or https:// URL, not \"\(text)\"")
        }
        return url
    }

    /// Sets one setting by its configuration-file name.
    mutating func set(_ key: String, _ value: String, source: String) throws {
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
        case "upstream_read_timeout":
            guard let seconds = Int(value), seconds > 0 else { throw invalid("a number of seconds") }
            upstreamReadTimeout = seconds
        case "durability":
            guard let durability = SQLiteStore.Durability(rawValue: value) else { throw invalid("normal or full") }
            self.durability = durability
        default:
            throw MeterrError(.configuration, "\(source): unknown setting \"\(key)\"")
        }
    }
}
