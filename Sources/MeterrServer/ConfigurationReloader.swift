import Logging
import MeterrCore
import ServiceLifecycle
import UnixSignals

/// On SIGHUP, reads the configuration file and the environment again and puts the new prices
/// (catalog imports, Azure deployments, negotiated prices), the server's unpriced policy and the TLS
/// certificate in force, all or nothing: a configuration that does not load is refused with one log
/// line and the one in force stays. Settings read only at start (address, data directory, database
/// durability, the ledger's wait) need a restart; the log line names any that changed.
struct ConfigurationReloader: Service, CustomStringConvertible {
    var description: String { "ConfigurationReloader" }

    let configuration: ServerConfiguration
    let firstOrganisation: String
    let prices: PriceBook
    let certificate: ServingCertificate?
    let logger: Logger

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            switch reload() {
            case .success(let summary): logger.notice("configuration reloaded: \(summary)")
            case .failure(let error):
                logger.error("configuration reload refused, the configuration in force stays: \(error.message)")
            }
        }
    }

    /// Reads and applies the configuration once; what it put in force, or why it refused.
    func reload() -> Result<String, MeterrError> {
        do {
            let fresh = try ServerConfiguration.load(
                file: configuration.file, environment: configuration.environment,
                commandLine: configuration.commandLine)
            let edition = try PriceBook.edition(fresh, firstOrganisation: firstOrganisation)
            // The certificate is read last of the checks and applied first of the changes: it either
            // loads or nothing changes.
            if let certificate {
                guard fresh.tlsCertificateFile == certificate.certificateFile, fresh.tlsKeyFile == certificate.keyFile
                else {
                    throw MeterrError(
                        .configuration, "tls_cert and tls_key are read at start: restart to change the files")
                }
                try certificate.reload()
            }
            prices.replace(with: edition)
            var summary = "\(edition.engine.catalog.entries.count) priced models"
            summary += ", \(edition.overrides.count) negotiated prices, unpriced_policy \(edition.unpricedDefault.name)"
            if certificate != nil { summary += ", TLS certificate" }
            let restart = [
                ("host", fresh.host != configuration.host), ("port", fresh.port != configuration.port),
                ("data_dir", fresh.dataDirectory != configuration.dataDirectory),
                ("durability", fresh.durability != configuration.durability),
                ("ledger_wait_ms", fresh.ledgerWait != configuration.ledgerWait),
            ].filter(\.1).map(\.0)
            if !restart.isEmpty { summary += " (\(restart.joined(separator: ", ")) change only on restart)" }
            return .success(summary)
        } catch {
            return .failure(MeterrError.from(error))
        }
    }
}
