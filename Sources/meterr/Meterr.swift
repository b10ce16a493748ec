import ArgumentParser
import Foundation
import Logging
import MeterrCore
import MeterrPostgres
import MeterrStore

#if canImport(Glibc)
    import Glibc
#endif

@main
struct Meterr: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Meter what your company spends on AI APIs.",
        version: "meterr \(MeterrVersion.current)",
        subcommands: [
            Serve.self, UsageCommand.self, CostCommand.self, PricesCommand.self, TokensCommand.self, KeysCommand.self,
            OrgsCommand.self, TeamsCommand.self, SecretsCommand.self, BudgetsCommand.self, WebhooksCommand.self,
            StatementCommand.self, OptimizeCommand.self, BackupCommand.self, UsersCommand.self, MCPCommand.self,
            MigrateCommand.self,
        ]
    )

    /// The one clock the commands read the time from.
    static let clock = WallClock.system

    /// The logger of the commands' PostgreSQL connections: what goes wrong reaches the user as the
    /// command's one line, so the pool's own messages stay quiet.
    static let databaseLogger: Logger = {
        var logger = Logger(label: "meterr.postgres")
        logger.logLevel = .critical
        return logger
    }()

    static func main() async {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        do {
            var command = try parseAsRoot()
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            // Help and version go to stdout as usual; every failure is one line on stderr.
            let code = exitCode(for: error)
            if code == .success {
                exit(withError: error)
            }
            let message =
                if let error = error as? MeterrError {
                    (error.field.map { "\($0): " } ?? "") + error.message
                } else {
                    Meterr.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
                }
            FileHandle.standardError.write(Data("meterr: \(message)\n".utf8))
            Foundation.exit(code.rawValue)
        }
    }
}

/// The data directory option shared by the commands that open the store.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: "The data directory (default: $METERR_DATA_DIR or ./meterr-data).")
    var data: String?

    var directory: String { data ?? ProcessInfo.processInfo.environment["METERR_DATA_DIR"] ?? "./meterr-data" }
}

/// Where the commands that work on the stores find them: the data directory's SQLite file, or
/// PostgreSQL with `--database-url` (or `$METERR_DATABASE_URL`), as `meterr serve` does.
struct DatabaseOptions: ParsableArguments {
    @OptionGroup var data: DataOptions
    @Option(
        help: """
            Work on PostgreSQL (postgres://user:password@host:5432/database) instead of the data directory \
            (default: $METERR_DATABASE_URL).
            """)
    var databaseURL: String?

    /// The PostgreSQL URL given, if any.
    var url: String? {
        if let databaseURL { return databaseURL }
        guard let text = ProcessInfo.processInfo.environment["METERR_DATABASE_URL"], !text.isEmpty else { return nil }
        return text
    }

    /// The database, for messages: the data directory, or the PostgreSQL database.
    var place: String { url == nil ? data.directory : "the PostgreSQL database" }

    /// Opens the stores: the data directory's file (created when missing unless `readOnly`), or the
    /// PostgreSQL database (its schema brought up to date, as `meterr serve` does).
    func open(readOnly: Bool = false) async throws -> any MeterrDatabase {
        guard let url else {
            return try SQLiteStore(directory: data.directory, readOnly: readOnly, clock: Meterr.clock)
        }
        let parsed: DatabaseURL
        do {
            parsed = try DatabaseURL(url)
        } catch {
            throw MeterrError.invalid("--database-url", error.message)
        }
        return try await Self.connect(parsed)
    }

    /// The PostgreSQL store at `url`, or one line saying why nothing answers there.
    static func connect(_ url: DatabaseURL) async throws -> PostgresStore {
        if let problem = unreachable(url) { throw CLIError("cannot reach PostgreSQL at \(url): \(problem)") }
        return try await PostgresStore(url: url, clock: Meterr.clock, logger: Meterr.databaseLogger)
    }

    /// Why nothing listens at `url`'s address (the host does not resolve, the connection is refused or
    /// times out), found at once: the connection pool itself retries for a minute before it gives up.
    static func unreachable(_ url: DatabaseURL) -> String? {
        let configuration = url.configuration
        if let path = configuration.unixSocketPath {
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
                return "the socket path is too long"
            }
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
            return withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connectProblem(family: AF_UNIX, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
        }
        guard let host = configuration.host, let port = configuration.port else { return nil }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &found) == 0, let first = found else {
            return "the host name \(host) does not resolve"
        }
        defer { freeaddrinfo(found) }
        var problem: String?
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let entry = next {
            problem = connectProblem(family: entry.pointee.ai_family, entry.pointee.ai_addr, entry.pointee.ai_addrlen)
            if problem == nil { return nil }
            next = entry.pointee.ai_next
        }
        return problem
    }

    /// Connects a stream socket to one address within 10 seconds; why it could not.
    private static func connectProblem(family: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t)
        -> String?
    {
        let socket = Glibc.socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return nil }
        defer { close(socket) }
        _ = fcntl(socket, F_SETFL, fcntl(socket, F_GETFL) | O_NONBLOCK)
        if Glibc.connect(socket, address, length) == 0 { return nil }
        guard errno == EINPROGRESS else { return String(cString: strerror(errno)) }
        var poll = pollfd(fd: socket, events: Int16(POLLOUT), revents: 0)
        guard Glibc.poll(&poll, 1, 10_000) == 1 else { return "no answer within 10 seconds" }
        var error: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(socket, SOL_SOCKET, SO_ERROR, &error, &size)
        return error == 0 ? nil : String(cString: strerror(error))
    }
}
