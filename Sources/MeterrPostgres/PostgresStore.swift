import Logging
import MeterrCore
import MeterrStore
import PostgresNIO
import Synchronization

/// meterr's stores on PostgreSQL, for several meterr nodes on one database.
///
/// The role in the URL owns the schema and applies the migrations; every query of an organisation's
/// data runs in a transaction that first becomes `meterr_app` (`SET LOCAL ROLE`, which owns nothing
/// and does not bypass row-level security) and names the organisation with
/// `set_config('app.org_id', $1, true)`, both undone at the transaction's end, so a pooled connection
/// never carries them to the next query. A query that forgets `WHERE org` still sees one organisation.
public final class PostgresStore: Sendable {
    let client: PostgresClient
    let logger: Logger
    /// The time the store writes (creation times, audit entries); hold expiry uses the database's clock.
    public let clock: WallClock
    private let runner: Task<Void, Never>
    /// The first instant of each month whose event partition is known to exist.
    private let partitions = Mutex<Set<Int64>>([])

    /// Connects (the pool opens connections as queries need them) and applies missing migrations.
    public init(url: DatabaseURL, clock: WallClock = .system, logger: Logger) async throws {
        var configuration = url.configuration
        configuration.options.maximumConnections = 20
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        self.clock = clock
        self.runner = Task { await client.run() }
        do {
            // One connection first: a wrong password, database or TLS setting is said at once.
            let probe = try await PostgresConnection.connect(configuration: url.connection, id: 0, logger: logger)
            try await probe.close()
            try await PostgresMigrations.apply(on: client, logger: logger)
        } catch let error as PSQLError {
            runner.cancel()
            let reason = error.serverInfo?[.message] ?? "\(error.code)"
            throw MeterrError(.storage, "PostgreSQL at \(url) could not be prepared: \(reason)")
        } catch {
            runner.cancel()
            throw MeterrError(.storage, "PostgreSQL at \(url) could not be prepared: \(String(reflecting: error))")
        }
    }

    /// Closes the pool.
    public func close() { runner.cancel() }

    deinit { runner.cancel() }

    /// Makes the rest of `connection`'s transaction run as `role` (`SET LOCAL ROLE`: undone at its end).
    func become(_ role: String, on connection: PostgresConnection) async throws {
        try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL ROLE \(role)"), logger: logger)
    }

    /// Names the organisation the rest of `connection`'s transaction sees (`app.org_id`, undone at its end).
    func see(_ org: String, on connection: PostgresConnection) async throws {
        try await connection.query("SELECT set_config('app.org_id', \(org), true)", logger: logger)
    }

    /// Both in one statement: the rest of the transaction runs as `role` and sees `org`.
    func become(_ role: String, seeing org: String, on connection: PostgresConnection) async throws {
        try await connection.query(
            "SELECT set_config('role', \(role), true), set_config('app.org_id', \(org), true)", logger: logger)
    }

    /// Records an audit entry in the caller's transaction (of `org`'s tenant transaction).
    func log(
        on connection: PostgresConnection, org: String, actor: String, action: String, target: String?, detail: String?
    ) async throws {
        try await connection.query(
            """
            INSERT INTO audit_log (org, at, actor, action, target, detail)
            VALUES (\(org), \(clock.now().milliseconds), \(actor), \(action), \(target), \(detail))
            """, logger: logger)
    }

    /// Makes or drops event partitions one node at a time, for the rest of the transaction.
    func lockPartitions(on connection: PostgresConnection) async throws {
        try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresMigrations.lockKey + 1))", logger: logger)
    }

    /// Runs `body` in a transaction that sees only `org`'s rows.
    func tenant<Result: Sendable>(
        _ org: String, _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await Self.surfacingMeterrErrors {
            try await client.withTransaction(logger: logger) { connection in
                try await become(PostgresMigrations.appRole, seeing: org, on: connection)
                return try await body(connection)
            }
        }
    }

    /// Runs `body` in a transaction that sees every organisation: operator paths only (exports of
    /// all organisations, the ledger writer's batches, which hold several).
    func acrossOrganisations<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result)
        async throws -> Result
    {
        try await Self.surfacingMeterrErrors {
            try await client.withTransaction(logger: logger) { connection in
                try await become(PostgresMigrations.operatorRole, on: connection)
                return try await body(connection)
            }
        }
    }

    /// Throws a `MeterrError` the transaction's body threw as itself (PostgresNIO wraps it in a
    /// `PostgresTransactionError`), so a store answers with the same errors as on SQLite.
    static func surfacingMeterrErrors<Result>(_ body: () async throws -> Result) async throws -> Result {
        do {
            return try await body()
        } catch let error as PostgresTransactionError {
            if let inner = error.closureError as? MeterrError { throw inner }
            throw error
        }
    }

    /// Makes sure the event partitions for the months of `times` exist (made ahead of time for
    /// this month and the next two by `preparePartitions(now:)`; others, such as late reports, on
    /// first use). Partitions belong to the schema's owner, never to `meterr_app`.
    func ensurePartitions(for times: some Sequence<Timestamp>) async throws {
        let months = Set(times.map { $0.monthStart.milliseconds })
        let missing = partitions.withLock { months.subtracting($0) }
        guard !missing.isEmpty else { return }
        try await client.withTransaction(logger: logger) { connection in
            // One node at a time, so two nodes never race to make the same partition.
            try await lockPartitions(on: connection)
            for start in missing.sorted() {
                let end = LocalCalendar.utc.nextMonthStart(Timestamp(milliseconds: start)).milliseconds
                try await connection.query(
                    PostgresQuery(
                        unsafeSQL: """
                            CREATE TABLE IF NOT EXISTS \(Self.partitionName(start)) PARTITION OF usage_events
                            FOR VALUES FROM (\(start)) TO (\(end))
                            """), logger: logger)
            }
        }
        _ = partitions.withLock { $0.formUnion(missing) }
    }

    /// Forgets which partitions exist, so the next append looks again.
    func forgetPartitions() { partitions.withLock { $0.removeAll() } }

    /// Makes this month's partition and the next two's.
    public func preparePartitions(now: Timestamp) async throws {
        var month = now.monthStart
        var months: [Timestamp] = []
        for _ in 0..<3 {
            months.append(month)
            month = LocalCalendar.utc.nextMonthStart(month)
        }
        try await ensurePartitions(for: months)
    }

    /// Drops the event partitions of months that end before `cutoff`, all at once, without a DELETE
    /// (rollups and everything else stay); returns the months dropped (`2026-01`).
    public func dropEventMonths(before cutoff: Timestamp) async throws -> [String] {
        var dropped: [String] = []
        try await client.withTransaction(logger: logger) { connection in
            try await lockPartitions(on: connection)
            let rows = try await connection.query(
                """
                SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'usage_events'
                """, logger: logger)
            var names: [String] = []
            for try await name in rows.decode(String.self) { names.append(name) }
            for name in names.sorted() {
                guard let start = Self.partitionStart(name) else { continue }
                let end = LocalCalendar.utc.nextMonthStart(Timestamp(milliseconds: start)).milliseconds
                guard end <= cutoff.milliseconds else { continue }
                // The ids go with the events: an id may be reported again once its month is gone.
                try await become(PostgresMigrations.operatorRole, on: connection)
                try await connection.query(
                    "DELETE FROM usage_event_ids WHERE ts >= \(start) AND ts < \(end)", logger: logger)
                // The partition is the owner's to drop.
                try await connection.query("RESET ROLE", logger: logger)
                try await connection.query(PostgresQuery(unsafeSQL: "DROP TABLE \(name)"), logger: logger)
                dropped.append(String(Timestamp(milliseconds: start).rfc3339.prefix(7)))
            }
        }
        forgetPartitions()
        return dropped
    }

    /// `usage_events_2026_12` for December 2026.
    static func partitionName(_ monthStart: Int64) -> String {
        let text = Timestamp(milliseconds: monthStart).rfc3339
        return "usage_events_" + text.prefix(4) + "_" + text.dropFirst(5).prefix(2)
    }

    static func partitionStart(_ name: String) -> Int64? {
        let suffix = name.dropFirst("usage_events_".count)
        guard name.hasPrefix("usage_events_"), suffix.count == 7,
            let start = Timestamp(rfc3339: suffix.replacingOccurrences(of: "_", with: "-") + "-01T00:00:00Z")
        else { return nil }
        return start.milliseconds
    }
}
