import Foundation
import MeterrCore
import MeterrStore
import MeterrTestSupport
import PostgresNIO
import Testing

@testable import MeterrPostgres

/// TLS to the database, against the suite's cluster (TLS on, its own certificate in
/// `METERR_TEST_POSTGRES_CA`).
@Suite("PostgreSQL: TLS when the URL asks for it")
struct PostgresTLSTests {
    static let certificate = ProcessInfo.processInfo.environment["METERR_TEST_POSTGRES_CA"]

    /// Whether the store's connections are encrypted (`pg_stat_ssl` of its own backend).
    func encrypted(_ store: PostgresStore) async throws -> Bool {
        let rows = try await store.client.query(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: TestCluster.logger)
        for try await ssl in rows.decode(Bool.self) { return ssl }
        return false
    }

    @Test(
        "sslmode=verify-full with the server's certificate and require connect over TLS; verify-full against other roots is refused",
        .disabled(
            if: TestCluster.unavailable != nil || certificate == nil, "no PostgreSQL with TLS (scripts/test starts one)"
        ))
    func tls() async throws {
        let certificate = try #require(Self.certificate)
        try await TestCluster.withDatabase { ownerURL in
            let base = ownerURL.replacingOccurrences(of: "?sslmode=disable", with: "")
            for query in ["?sslmode=verify-full&sslrootcert=\(certificate)", "?sslmode=require"] {
                let store = try await PostgresStore(url: try DatabaseURL(base + query), logger: TestCluster.logger)
                defer { store.close() }
                #expect(try await encrypted(store), "\(query)")
            }
            let plain = try await PostgresStore(url: try DatabaseURL(ownerURL), logger: TestCluster.logger)
            defer { plain.close() }
            #expect(try await !encrypted(plain), "sslmode=disable")
            // The system's roots do not know the cluster's own certificate: refused, at once, saying so.
            await #expect(throws: MeterrError.self) {
                _ = try await PostgresStore(
                    url: try DatabaseURL(base + "?sslmode=verify-full"), logger: TestCluster.logger)
            }
        }
    }
}
