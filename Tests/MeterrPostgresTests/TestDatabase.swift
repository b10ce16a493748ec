import Foundation
import Logging
import MeterrCore
import MeterrStore
import PostgresNIO
import Testing

@testable import MeterrPostgres

/// The throwaway cluster `scripts/test` starts (`METERR_TEST_POSTGRES_URL`, its superuser); the
/// PostgreSQL tests are skipped, saying so, where it is not set.
enum TestCluster {
    static let adminURL = ProcessInfo.processInfo.environment["METERR_TEST_POSTGRES_URL"]
    static var unavailable: String? {
        adminURL == nil ? "no PostgreSQL: METERR_TEST_POSTGRES_URL is not set (scripts/test starts a cluster)" : nil
    }
    static let logger: Logger = {
        var logger = Logger(label: "postgres-tests")
        logger.logLevel = .warning
        return logger
    }()

    /// Runs `body` with a fresh database owned by `meterr_owner`, a role that may create roles but is
    /// no superuser and cannot bypass row-level security, the way an operator would set meterr up;
    /// the database is dropped afterwards.
    static func withDatabase(_ body: (_ ownerURL: String, _ admin: PostgresClient) async throws -> Void) async throws {
        let admin = try DatabaseURL(try #require(adminURL))
        let client = PostgresClient(configuration: admin.configuration, backgroundLogger: logger)
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
        let components = URLComponents(string: try #require(adminURL))!
        let ownerURL = "postgres://meterr_owner@127.0.0.1:\(components.port ?? 5432)/\(name)?sslmode=disable"
        do {
            try await body(ownerURL, client)
        } catch {
            try? await client.query(PostgresQuery(unsafeSQL: "DROP DATABASE \(name) WITH (FORCE)"), logger: logger)
            throw error
        }
        try await client.query(PostgresQuery(unsafeSQL: "DROP DATABASE \(name) WITH (FORCE)"), logger: logger)
    }

    /// A store on a fresh database.
    static func withStore(
        clock: WallClock = .system, _ body: (PostgresStore, _ ownerURL: String) async throws -> Void
    ) async throws {
        try await withDatabase { ownerURL, _ in
            let store = try await PostgresStore(url: try DatabaseURL(ownerURL), clock: clock, logger: logger)
            defer { store.close() }
            try await body(store, ownerURL)
        }
    }
}

/// The databases every store's conformance tests run on: SQLite always, PostgreSQL when the suite has
/// a cluster.
enum StoreDatabase: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres
    var testDescription: String { rawValue }

    static var available: [StoreDatabase] { TestCluster.unavailable == nil ? allCases : [.sqlite] }

    /// Runs `body` with a fresh store of this database, seen as `Store` (a store protocol, or a
    /// composition of them: `(any AlertStore & WebhookStore).self`).
    func withStore<Store>(
        as _: Store.Type, clock: WallClock = .system, _ body: (Store) async throws -> Void
    ) async throws {
        switch self {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString).path
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let store = try SQLiteStore(directory: directory, clock: clock)
            try await body(try #require(store as? Store, "SQLiteStore is no \(Store.self)"))
        case .postgres:
            try await TestCluster.withStore(clock: clock) { store, _ in
                try await body(try #require(store as? Store, "PostgresStore is no \(Store.self)"))
            }
        }
    }
}
