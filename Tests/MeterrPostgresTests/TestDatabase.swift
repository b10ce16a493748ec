import Foundation
import Logging
import MeterrCore
import MeterrStore
import MeterrTestSupport
import PostgresNIO
import Testing

@testable import MeterrPostgres

/// The throwaway cluster `scripts/test` starts (`METERR_TEST_POSTGRES_URL`, its superuser); the
/// PostgreSQL tests are skipped, saying so, where it is not set.
enum TestCluster {
    static var unavailable: String? { TestPostgres.unavailable }
    static let logger: Logger = {
        var logger = Logger(label: "postgres-tests")
        logger.logLevel = .warning
        return logger
    }()

    /// Runs `body` with a fresh database owned by `meterr_owner` (`TestPostgres.withDatabase`).
    static func withDatabase(_ body: (_ ownerURL: String) async throws -> Void) async throws {
        try await TestPostgres.withDatabase(body)
    }

    /// A store on a fresh database.
    static func withStore(
        clock: WallClock = .system, _ body: (PostgresStore, _ ownerURL: String) async throws -> Void
    ) async throws {
        try await withDatabase { ownerURL in
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
