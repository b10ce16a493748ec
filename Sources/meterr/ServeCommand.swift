import ArgumentParser
import Foundation
import Hummingbird
import MeterrPostgres
import MeterrServer
import NIOCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the meterr server on the embedded SQLite database (or PostgreSQL, with --database-url).",
        discussion: "SIGTERM or SIGINT stop accepting requests, commit every queued usage event and exit 0."
    )

    @Option(help: "The address to listen on (default 127.0.0.1).") var host: String?
    @Option(help: "The port to listen on (default 8787; 0 picks a free one).") var port: Int?
    @Option(help: "The data directory (default ./meterr-data).") var data: String?
    @Option(
        help: """
            Keep every store in PostgreSQL (postgres://user:password@host:5432/database?sslmode=require), for several \
            nodes on one database; needs METERR_MASTER_KEY. Default: $METERR_DATABASE_URL, else the embedded SQLite file.
            """)
    var databaseURL: String?
    @Option(help: "A YAML configuration file (read again on SIGHUP).") var config: String?
    @Option(help: "Serve HTTPS with this PEM certificate chain (with --tls-key; reloaded on SIGHUP).")
    var tlsCert: String?
    @Option(help: "The PEM private key of --tls-cert.") var tlsKey: String?

    func validate() throws {
        if let port, !(0...65_535).contains(port) { throw ValidationError("--port must be from 0 to 65535") }
    }

    func run() async throws {
        let flags: [(key: String, value: String?)] = [
            ("host", host), ("port", port.map(String.init)), ("data_dir", data), ("database_url", databaseURL),
            ("tls_cert", tlsCert),
            ("tls_key", tlsKey),
        ]
        var configuration = try ServerConfiguration.load(
            file: config, environment: ProcessInfo.processInfo.environment,
            commandLine: flags.compactMap { flag in flag.value.map { (flag.key, $0) } })
        let host = configuration.host
        let dataDirectory = configuration.dataDirectory
        let database =
            (try? configuration.databaseURL.map { "the PostgreSQL database \(try DatabaseURL($0))" })
            ?? "a new data directory at \(dataDirectory)"
        // The first start's greeting (with the admin key) is printed once meterr listens: a start
        // that fails leaves neither a key that works nowhere nor the directory it made.
        let greeting = Mutex<String?>(nil)
        configuration.onBootstrap = { result in
            guard let key = result.createdAdminKey else { return }
            greeting.withLock {
                $0 = """
                    meterr set up \(database)
                      organisation: \(result.organisation.name) (\(result.organisation.id))
                      admin key:    \(key)
                    Keep the admin key: it is shown only this once.
                    """
            }
        }
        let scheme = configuration.tlsCertificateFile == nil ? "http" : "https"
        let listening = Mutex(false)
        configuration.onListening = { port in
            if let text = greeting.withLock({ $0 }) { say(text) }
            listening.withLock { $0 = true }
            say("meterr listening on \(scheme)://\(host):\(port)")
        }
        let existed = FileManager.default.fileExists(atPath: dataDirectory)
        do {
            if let problem = Self.bindProblem(host: host, port: configuration.port) { throw ValidationError(problem) }
            let app = try await buildApplication(configuration)
            try await app.runService()
        } catch {
            if !existed && !listening.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: dataDirectory) }
            if let error = error as? IOError, error.errnoCode == EADDRINUSE {
                throw ValidationError("cannot listen on \(host):\(configuration.port): the address is already in use")
            }
            throw error
        }
    }

    /// Why meterr could not listen on the address, found before anything is opened or created.
    static func bindProblem(host: String, port: Int) -> String? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &found) == 0, let first = found else {
            return "cannot listen on \(host):\(port): the host name does not resolve"
        }
        defer { freeaddrinfo(found) }
        // Port 0 takes a free port: only the host can be wrong.
        guard port != 0 else { return nil }
        let socket = Glibc.socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard socket >= 0 else { return nil }
        defer { close(socket) }
        var yes: Int32 = 1
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        guard bind(socket, first.pointee.ai_addr, first.pointee.ai_addrlen) != 0 else { return nil }
        switch errno {
        case EADDRINUSE: return "cannot listen on \(host):\(port): the address is already in use"
        case EACCES: return "cannot listen on \(host):\(port): permission denied (ports below 1024 need privileges)"
        case EADDRNOTAVAIL: return "cannot listen on \(host):\(port): no network interface has that address"
        default: return nil
        }
    }
}

/// Writes a line to standard output at once, even when the output is a pipe.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
