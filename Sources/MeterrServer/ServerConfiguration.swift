import Foundation
import Logging
import MeterrCore
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
            ("METERR_DURABILITY", "durability"),
        ]
        for (variable, key) in names {
            if let value = environment[variable], !value.isEmpty { try set(key, value, source: variable) }
        }
        if let key = environment["METERR_ADMIN_KEY"], !key.isEmpty { adminKey = key }
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
        case "durability":
            guard let durability = SQLiteStore.Durability(rawValue: value) else { throw invalid("normal or full") }
            self.durability = durability
        default:
            throw MeterrError(.configuration, "\(source): unknown setting \"\(key)\"")
        }
    }
}
