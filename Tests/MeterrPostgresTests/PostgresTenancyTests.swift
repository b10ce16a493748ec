import Foundation
import Logging
import MeterrCore
import MeterrStore
import PostgresNIO
import Testing

@testable import MeterrPostgres

@Suite("PostgreSQL: tenancy by the database, partitions, migrations", .enabled(if: TestCluster.unavailable == nil))
struct PostgresTenancyTests {
    typealias Fixture = LedgerConformanceTests

    /// How many rows a query sees, run in the store's tenant transaction (or with no organisation set).
    func count(_ store: PostgresStore, _ sql: String, org: String?) async throws -> Int {
        let query = PostgresQuery(unsafeSQL: sql)
        func run(_ connection: PostgresConnection) async throws -> Int {
            var total = 0
            for try await value in try await connection.query(query, logger: TestCluster.logger).decode(Int64.self) {
                total = Int(value)
            }
            return total
        }
        if let org { return try await store.tenant(org, run) }
        return try await store.client.withTransaction(logger: TestCluster.logger) { connection in
            try await connection.query("SET LOCAL ROLE meterr_app", logger: TestCluster.logger)
            return try await run(connection)
        }
    }

    @Test("A query without WHERE org sees only its organisation; no organisation set sees nothing; rows are checked")
    func rowLevelSecurity() async throws {
        try await TestCluster.withStore { store, _ in
            _ = try await store.append([
                Fixture.event("a1", "2026-12-01T10:00:00.000Z"), Fixture.event("a2", "2026-12-01T11:00:00.000Z"),
                Fixture.event("b1", "2026-12-01T10:00:00.000Z", org: "org_b"),
            ])
            #expect(try await count(store, "SELECT count(*) FROM usage_events", org: "org_a") == 2)
            #expect(try await count(store, "SELECT count(*) FROM usage_events", org: "org_b") == 1)
            #expect(try await count(store, "SELECT count(*) FROM usage_rollups WHERE org = 'org_b'", org: "org_a") == 0)
            #expect(try await count(store, "SELECT count(*) FROM usage_event_ids", org: nil) == 0)
            // Writing another organisation's row is refused by the policy's check.
            await #expect(throws: (any Error).self) {
                try await store.tenant("org_a") { connection in
                    _ = try await connection.query(
                        "INSERT INTO usage_event_ids (org, id, ts) VALUES ('org_b', 'forged', 0)",
                        logger: TestCluster.logger)
                }
            }
            // The role queries run as owns nothing, is no superuser and does not bypass security.
            #expect(
                try await count(
                    store,
                    """
                    SELECT count(*) FROM pg_roles WHERE rolname IN ('meterr_app', 'meterr_operator')
                    AND NOT rolsuper AND NOT rolbypassrls AND NOT rolcanlogin
                    """, org: "org_a") == 2)
            #expect(
                try await count(
                    store, "SELECT count(*) FROM pg_class WHERE relowner = 'meterr_app'::regrole", org: "org_a") == 0)
            // Row-level security is forced on every tenant table, the owner included.
            #expect(
                try await count(
                    store,
                    """
                    SELECT count(*) FROM pg_class WHERE relname IN ('usage_events', 'usage_event_ids', 'usage_rollups')
                    AND relrowsecurity AND relforcerowsecurity
                    """, org: "org_a") == 3)
        }
    }

    @Test("Events go to monthly partitions made ahead or on first use; old months are dropped, never deleted")
    func partitions() async throws {
        try await TestCluster.withStore { store, _ in
            try await store.preparePartitions(now: Fixture.at("2026-12-05T00:00:00Z"))
            _ = try await store.append([
                Fixture.event("oct", "2026-10-15T00:00:00.000Z"), Fixture.event("nov", "2026-11-15T00:00:00.000Z"),
                Fixture.event("dec", "2026-12-15T00:00:00.000Z"),
            ])
            let names = try await partitionNames(store)
            #expect(
                names == [
                    "usage_events_2026_10", "usage_events_2026_11", "usage_events_2026_12", "usage_events_2027_01",
                    "usage_events_2027_02",
                ])
            let range = (Fixture.at("2026-10-01T00:00:00Z"), Fixture.at("2027-01-01T00:00:00Z"))
            let before = try await store.summary(org: "org_a", groupBy: .none, from: range.0, to: range.1)
            #expect(
                try await store.dropEventMonths(before: Fixture.at("2026-12-01T00:00:00Z")) == ["2026-10", "2026-11"])
            #expect(try await partitionNames(store).first == "usage_events_2026_12")
            var left: [String] = []
            try await store.forEachEvent(org: "org_a", from: nil, to: nil) { left.append($0.id) }
            #expect(left == ["dec"])
            // The totals by day and month stay; an id of a dropped month may be reported again.
            let after = try await store.summary(org: "org_a", groupBy: .none, from: range.0, to: range.1)
            #expect(after.totals == before.totals)
            #expect(try await store.append([Fixture.event("oct", "2026-10-15T00:00:00.000Z")]) == [true])
        }
    }

    @Test("A month another node's retention dropped is made again when a late report for it arrives")
    func partitionDroppedElsewhere() async throws {
        try await TestCluster.withStore { first, ownerURL in
            let second = try await PostgresStore(url: try DatabaseURL(ownerURL), logger: TestCluster.logger)
            defer { second.close() }
            _ = try await first.append([Fixture.event("old", "2026-09-10T00:00:00.000Z")])
            #expect(try await second.dropEventMonths(before: Fixture.at("2026-11-01T00:00:00Z")) == ["2026-09"])
            // The first node still believes September's partition exists.
            #expect(try await first.append([Fixture.event("late", "2026-09-11T00:00:00.000Z")]) == [true])
            var ids: [String] = []
            try await second.forEachEvent(org: "org_a", from: nil, to: nil) { ids.append($0.id) }
            #expect(ids == ["late"])
        }
    }

    func partitionNames(_ store: PostgresStore) async throws -> [String] {
        var names: [String] = []
        for try await name in try await store.client.query(
            """
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'usage_events' ORDER BY 1
            """, logger: TestCluster.logger
        ).decode(String.self) {
            names.append(name)
        }
        return names
    }

    @Test("Nodes starting at once on a new database apply each migration once; later starts apply none")
    func concurrentMigrations() async throws {
        try await TestCluster.withDatabase { ownerURL in
            let url = try DatabaseURL(ownerURL)
            let stores = try await withThrowingTaskGroup(of: PostgresStore.self) { group in
                for _ in 0..<4 { group.addTask { try await PostgresStore(url: url, logger: TestCluster.logger) } }
                var stores: [PostgresStore] = []
                for try await store in group { stores.append(store) }
                return stores
            }
            defer { stores.forEach { $0.close() } }
            var versions: [Int] = []
            for try await version in try await stores[0].client.query(
                "SELECT version FROM meterr_migrations ORDER BY version", logger: TestCluster.logger
            ).decode(Int.self) {
                versions.append(version)
            }
            #expect(versions == PostgresMigrations.all.map(\.version))
            #expect(try await PostgresMigrations.apply(on: stores[1].client, logger: TestCluster.logger).isEmpty)
        }
    }

    @Test("Database URLs: TLS modes, unix sockets, and a clear error for anything else")
    func urls() throws {
        let plain = try DatabaseURL("postgres://meterr:s%40cret@db.internal:6543/ledger?sslmode=require")
        #expect(plain.configuration.host == "db.internal" && plain.configuration.port == 6543)
        #expect(plain.configuration.username == "meterr" && plain.configuration.password == "s@cret")
        #expect(plain.configuration.database == "ledger")
        #expect(!plain.description.contains("s%40cret") && !plain.description.contains("s@cret"))
        let socket = try DatabaseURL("postgresql://meterr@localhost/ledger?host=/run/postgresql")
        #expect(socket.configuration.unixSocketPath == "/run/postgresql/.s.PGSQL.5432")
        #expect(throws: MeterrError.self) { try DatabaseURL("mysql://root@db/ledger") }
        #expect(throws: MeterrError.self) { try DatabaseURL("postgres://db/ledger?sslmode=sometimes") }
    }
}
