import Foundation
import Logging
import PostgresNIO

/// The throwaway PostgreSQL cluster `scripts/test` starts (`METERR_TEST_POSTGRES_URL`, its
/// superuser), for tests that run meterr on PostgreSQL; they are skipped, saying so, where it is
/// not set.
public enum TestPostgres {
    public static let adminURL = ProcessInfo.processInfo.environment["METERR_TEST_POSTGRES_URL"]

    public static var unavailable: String? {
        adminURL == nil ? "no PostgreSQL: METERR_TEST_POSTGRES_URL is not set (scripts/test starts a cluster)" : nil
    }

    /// The databases a test runs on: SQLite always (`nil`), PostgreSQL (`"postgres"`) when there is a cluster.
    public static var databases: [String?] { unavailable == nil ? [nil, "postgres"] : [nil] }

    static let logger: Logger = {
        var logger = Logger(label: "postgres-tests")
        logger.logLevel = .warning
        return logger
    }()

    /// Runs `body` with the URL of a fresh database owned by `meterr_owner`, a role that may create
    /// roles but is no superuser and cannot bypass row-level security, the way an operator would set
    /// meterr up; the database is dropped afterwards.
    public static func withDatabase(_ body: (_ ownerURL: String) async throws -> Void) async throws {
        guard let adminURL, let components = URLComponents(string: adminURL) else {
            throw PostgresUnavailable(reason: unavailable ?? "METERR_TEST_POSTGRES_URL is not a URL")
        }
        var configuration = PostgresClient.Configuration(
            host: components.host ?? "127.0.0.1", port: components.port ?? 5432,
            username: components.user ?? "postgres",
            password: components.password, database: String(components.path.dropFirst()), tls: .disable)
        configuration.options.maximumConnections = 2
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let runner = Task { await client.run() }
        defer { runner.cancel() }
        let name = "meterr_t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        try await client.query(
            """
            DO $$ BEGIN
                CREATE ROLE meterr_owner LOGIN CREATEROLE NOSUPERUSER NOBYPASSRLS;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
            END $$
            """, logger: logger)
        try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name) OWNER meterr_owner"), logger: logger)
        let ownerURL = "postgres://meterr_owner@127.0.0.1:\(components.port ?? 5432)/\(name)?sslmode=disable"
        do {
            try await body(ownerURL)
        } catch {
            try? await client.query(PostgresQuery(unsafeSQL: "DROP DATABASE \(name) WITH (FORCE)"), logger: logger)
            throw error
        }
        try await client.query(PostgresQuery(unsafeSQL: "DROP DATABASE \(name) WITH (FORCE)"), logger: logger)
    }

    struct PostgresUnavailable: Error, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }
}
