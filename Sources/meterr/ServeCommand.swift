import ArgumentParser
import Foundation
import Hummingbird
import MeterrServer
import NIOCore

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the meterr server on the embedded SQLite database.",
        discussion: "SIGTERM or SIGINT stop accepting requests, commit every queued usage event and exit 0."
    )

    @Option(help: "The address to listen on (default 127.0.0.1).") var host: String?
    @Option(help: "The port to listen on (default 8787; 0 picks a free one).") var port: Int?
    @Option(help: "The data directory (default ./meterr-data).") var data: String?
    @Option(help: "A YAML configuration file (read again on SIGHUP).") var config: String?
    @Option(help: "Serve HTTPS with this PEM certificate chain (with --tls-key; reloaded on SIGHUP).")
    var tlsCert: String?
    @Option(help: "The PEM private key of --tls-cert.") var tlsKey: String?

    func validate() throws {
        if let port, !(0...65_535).contains(port) { throw ValidationError("--port must be from 0 to 65535") }
    }

    func run() async throws {
        let flags: [(key: String, value: String?)] = [
            ("host", host), ("port", port.map(String.init)), ("data_dir", data), ("tls_cert", tlsCert),
            ("tls_key", tlsKey),
        ]
        var configuration = try ServerConfiguration.load(
            file: config, environment: ProcessInfo.processInfo.environment,
            commandLine: flags.compactMap { flag in flag.value.map { (flag.key, $0) } })
        let host = configuration.host
        let dataDirectory = configuration.dataDirectory
        configuration.onBootstrap = { result in
            guard let key = result.createdAdminKey else { return }
            say(
                """
                meterr created a new data directory at \(dataDirectory)
                  organisation: \(result.organisation.name) (\(result.organisation.id))
                  admin key:    \(key)
                Keep the admin key: it is shown only this once.
                """)
        }
        let scheme = configuration.tlsCertificateFile == nil ? "http" : "https"
        configuration.onListening = { port in
            say("meterr listening on \(scheme)://\(host):\(port)")
        }
        let app = try await buildApplication(configuration)
        do {
            try await app.runService()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw ValidationError("cannot listen on \(host):\(configuration.port): the address is already in use")
        }
    }
}

/// Writes a line to standard output at once, even when the output is a pipe.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
