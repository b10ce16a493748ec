import Foundation
import MeterrCore
import NIOSSL
import PostgresNIO

/// A PostgreSQL connection URL as `meterr serve --database-url` takes it:
/// `postgres://user:password@host:5432/database?sslmode=require`.
///
/// `sslmode`: `disable`, `prefer` (the default: TLS when the server offers it), `require` (TLS,
/// the certificate not checked) or `verify-full` (TLS with the certificate and host name checked
/// against the system's trust roots, or `sslrootcert=PATH`). `host=/run/postgresql` in the query
/// connects through the unix socket in that directory.
public struct DatabaseURL: Sendable, CustomStringConvertible {
    public var configuration: PostgresClient.Configuration
    /// The same for one connection: a first connection says at once what is wrong (a password, a
    /// database name), where the pool would retry for a minute.
    var connection: PostgresConnection.Configuration
    /// The URL with its password left out, for logs and errors.
    public let description: String

    public init(_ text: String) throws(MeterrError) {
        guard let components = URLComponents(string: text),
            components.scheme == "postgres" || components.scheme == "postgresql"
        else {
            throw MeterrError.invalid("database_url", "must be postgres://user:password@host:port/database")
        }
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
        let user = components.user.flatMap { $0.removingPercentEncoding } ?? "postgres"
        let password = components.password.flatMap { $0.removingPercentEncoding }
        let database = components.path.count > 1 ? String(components.path.dropFirst()) : nil
        if let socket = query["host"], socket.hasPrefix("/") {
            let port = components.port ?? 5432
            configuration = .init(
                unixSocketPath: socket + "/.s.PGSQL.\(port)", username: user, password: password, database: database)
            connection = .init(
                unixSocketPath: socket + "/.s.PGSQL.\(port)", username: user, password: password, database: database)
        } else {
            guard let host = components.host, !host.isEmpty else {
                throw MeterrError.invalid("database_url", "names no host (postgres://user@host:5432/database)")
            }
            let tls: PostgresClient.Configuration.TLS
            let connectionTLS: PostgresConnection.Configuration.TLS
            func context(_ client: TLSConfiguration) throws(MeterrError) -> NIOSSLContext {
                do {
                    return try NIOSSLContext(configuration: client)
                } catch {
                    throw MeterrError.invalid("database_url", "its TLS settings cannot be used: \(error)")
                }
            }
            switch query["sslmode"] ?? "prefer" {
            case "disable":
                tls = .disable
                connectionTLS = .disable
            case "prefer", "allow":
                var client = TLSConfiguration.makeClientConfiguration()
                client.certificateVerification = .none
                tls = .prefer(client)
                connectionTLS = .prefer(try context(client))
            case "require":
                var client = TLSConfiguration.makeClientConfiguration()
                client.certificateVerification = .none
                tls = .require(client)
                connectionTLS = .require(try context(client))
            case "verify-full", "verify-ca":
                var client = TLSConfiguration.makeClientConfiguration()
                if let root = query["sslrootcert"] { client.trustRoots = .file(root) }
                tls = .require(client)
                connectionTLS = .require(try context(client))
            case let mode:
                throw MeterrError.invalid(
                    "database_url", "sslmode must be disable, prefer, require or verify-full (got \(mode))")
            }
            configuration = .init(
                host: host, port: components.port ?? 5432, username: user, password: password, database: database,
                tls: tls)
            connection = .init(
                host: host, port: components.port ?? 5432, username: user, password: password, database: database,
                tls: connectionTLS)
        }
        var shown = components
        if shown.password != nil { shown.password = "…" }
        description = shown.string ?? "postgres://…"
    }
}
