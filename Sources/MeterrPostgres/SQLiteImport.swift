import GRDB
import Logging
import MeterrCore
import MeterrStore
import NIOCore
import PostgresNIO

/// Copies an embedded SQLite database into PostgreSQL (`meterr migrate`): every table PostgreSQL has
/// a counterpart of, each row as it is.
///
/// Rollups, call health and latency buckets are copied, never recomputed from the events: SQLite's
/// keep the totals of events retention removed. Provider credentials and webhook secrets are copied
/// sealed, byte for byte, so the same master key opens them.
///
/// Running it again writes nothing twice: a row is found by its primary key and ends equal to
/// SQLite's (`ON CONFLICT … DO UPDATE`, only where a column differs); events are kept once per
/// `(org, id)` through `usage_event_ids`, as the ledger keeps them, and are not changed once copied.
/// It reads one snapshot of the file, and writes as `meterr_operator`, one transaction per page.
public struct SQLiteImport: Sendable {
    /// Where one table's copy stands.
    public struct Progress: Sendable, Hashable {
        /// The table (named alike on both databases).
        public var table: String
        /// The rows read from SQLite so far.
        public var copied: Int
        /// The rows SQLite holds.
        public var total: Int
        /// The rows PostgreSQL did not hold as they are: new ones, or ones changed since a last run.
        public var written: Int
        /// Whether the table is done.
        public var finished: Bool
    }

    /// One organisation's counts and totals on one database.
    public struct Totals: Sendable, Hashable {
        /// Usage events stored.
        public var events: Int
        /// Requests of the hourly rollups (every hour's, all models).
        public var rollupRequests: Int64
        /// Priced cost of the hourly rollups.
        public var rollupCost: Money
        /// Requests of the all-time summary (read as the server reads it).
        public var summaryRequests: Int
        /// Priced cost of the all-time summary.
        public var summaryCost: Money
        /// Keys, revoked ones included.
        public var keys: Int
        /// Budgets.
        public var budgets: Int
    }

    /// One organisation on both databases.
    public struct Comparison: Sendable, Hashable {
        /// The organisation's id.
        public var org: String
        /// Its name, when it has an organisation row.
        public var name: String?
        public var sqlite: Totals
        public var postgres: Totals
        /// Whether every count and total is the same on both.
        public var matches: Bool { sqlite == postgres }
    }

    /// The database copied from (opened read-only is enough).
    public let source: SQLiteStore
    /// The database copied into.
    public let target: PostgresStore

    /// Rows per page: one SQLite read, one PostgreSQL statement of column arrays, one transaction.
    static let rowsPerPage = 5_000

    public init(from source: SQLiteStore, to target: PostgresStore) {
        self.source = source
        self.target = target
    }

    /// The tables copied, in the order they are copied (organisations before what refers to them).
    public static var tableNames: [String] { tables.map(\.name) }

    /// Copies every table, calling `progress` after each page and once more when a table is done.
    ///
    /// Refuses a database that holds organisations the file does not: it is someone else's, or
    /// `meterr serve` already made its own first organisation there.
    public func copy(progress: (Progress) -> Void) async throws {
        let snapshot: DatabaseSnapshot
        do {
            snapshot = try source.pool.makeSnapshot()
        } catch {
            throw MeterrError(.storage, "cannot read \(source.path)", underlying: error)
        }
        try await Self.checkSchema(snapshot, path: source.path)
        try await checkOrganisations(snapshot)
        for table in Self.tables {
            try await copy(table, from: snapshot, progress: progress)
        }
        for table in Self.tables {
            if let identity = table.identity { try await continueSequence(table: table.name, column: identity) }
        }
    }

    /// Counts and totals of every organisation on both databases, SQLite's organisations first.
    public func compare() async throws -> [Comparison] {
        let organisations = try await source.organisations()
        let sourceCounts = try await source.pool.read { db in try Self.counts(db) }
        let targetCounts = try await target.acrossOrganisations { connection in
            try await Self.counts(on: connection, logger: target.logger)
        }
        var orgs = organisations.map(\.id)
        let known = Set(orgs)
        let others = Set(sourceCounts.keys).union(targetCounts.keys).subtracting(known)
        orgs += others.sorted()
        var comparisons: [Comparison] = []
        for org in orgs {
            comparisons.append(
                Comparison(
                    org: org, name: organisations.first { $0.id == org }?.name,
                    sqlite: try await Self.totals(of: source, org: org, counts: sourceCounts[org]),
                    postgres: try await Self.totals(of: target, org: org, counts: targetCounts[org])))
        }
        return comparisons
    }
}

// MARK: - The tables

extension SQLiteImport {
    /// How a column's values travel: the array type they are bound as and how PostgreSQL reads them.
    enum Kind: Sendable {
        case text, bigint, integer, smallint, boolean, jsonb, bytea

        var arrayType: String {
            switch self {
            case .text, .jsonb: "text[]"
            case .bigint, .smallint: "int8[]"
            case .integer: "int4[]"
            case .boolean: "bool[]"
            case .bytea: "bytea[]"
            }
        }

        func read(_ value: String) -> String {
            switch self {
            case .jsonb: value + "::jsonb"
            case .smallint: value + "::smallint"
            default: value
            }
        }
    }

    /// A PostgreSQL column and the SQLite expression it is copied from.
    struct Column: Sendable {
        var name: String
        var kind: Kind
        var source: String

        init(_ name: String, _ kind: Kind = .text, from source: String? = nil) {
            self.name = name
            self.kind = kind
            self.source = source ?? name
        }

        /// The organisation column, `org_id` on SQLite.
        static let org = Column("org", from: "org_id")
    }

    /// One table's copy: what it reads from SQLite, in which order, and what it writes.
    struct Table: Sendable {
        var name: String
        /// SQLite's FROM clause.
        var from: String
        /// SQLite expressions of a unique key the pages follow.
        var key: [String]
        var columns: [Column]
        /// PostgreSQL's primary key.
        var conflict: [String]
        /// A `GENERATED ALWAYS` column given SQLite's values (`OVERRIDING SYSTEM VALUE`).
        var identity: String?
        /// Usage events: kept once per `(org, id)` through `usage_event_ids`, numbered by PostgreSQL.
        var events = false

        init(
            _ name: String, from: String? = nil, key: [String] = ["rowid"], conflict: [String],
            identity: String? = nil, events: Bool = false, _ columns: [Column]
        ) {
            self.name = name
            self.from = from ?? name
            self.key = key
            self.columns = columns
            self.conflict = conflict
            self.identity = identity
            self.events = events
        }
    }

    /// SQLite's tables after migration v17 beside PostgreSQL's: the organisation's column is `org`
    /// everywhere on PostgreSQL; integer flags become booleans, tags `jsonb`, sealed blobs `bytea`.
    static let tables: [Table] = [
        Table(
            "organisations", conflict: ["org"],
            [Column("org", from: "id"), Column("name"), Column("created_at", .bigint), Column("tier")]),
        Table(
            "api_keys", conflict: ["id"],
            [
                Column("id"), .org, Column("name"), Column("display_prefix"), Column("hash"),
                Column("scopes", .bigint), Column("created_at", .bigint), Column("revoked_at", .bigint),
                Column("team"), Column("user", from: "\"user\""), Column("project"), Column("expires_at", .bigint),
                Column("last_used_at", .bigint), Column("tier"), Column("rpm", .bigint), Column("tpm", .bigint),
            ]),
        Table("teams", conflict: ["id"], [Column("id"), .org, Column("name"), Column("created_at", .bigint)]),
        Table(
            "projects", conflict: ["id"],
            [Column("id"), .org, Column("name"), Column("team"), Column("created_at", .bigint)]),
        Table(
            "users", conflict: ["id"],
            [
                Column("id"), .org, Column("email"), Column("name"), Column("role"), Column("team"),
                Column("password_hash"), Column("created_at", .bigint),
            ]),
        Table(
            "sessions", conflict: ["hash"],
            [
                Column("hash"), Column("user_id"), .org, Column("csrf_token"), Column("created_at", .bigint),
                Column("expires_at", .bigint),
            ]),
        Table(
            "provider_credentials", conflict: ["org", "team", "provider"],
            [
                .org, Column("team"), Column("provider"), Column("sealed", .bytea), Column("key_fingerprint"),
                Column("masked"), Column("updated_at", .bigint), Column("base_url"),
            ]),
        // The log's order is its sequence: SQLite's numbers are kept.
        Table(
            "audit_log", key: ["seq"], conflict: ["seq"], identity: "seq",
            [
                Column("seq", .bigint), .org, Column("at", .bigint), Column("actor"), Column("action"),
                Column("target"), Column("detail"),
            ]),
        Table(
            "alerts", conflict: ["id"],
            [
                Column("id"), .org, Column("kind"), Column("subject"), Column("severity"), Column("message"),
                Column("dedupe_key"), Column("created_at", .bigint), Column("acknowledged_at", .bigint),
                Column("acknowledged_by"), Column("renotify_at", .bigint), Column("notifications", .bigint),
                Column("details"),
            ]),
        Table(
            "webhooks", conflict: ["id"],
            [
                Column("id"), .org, Column("url"), Column("format"), Column("sealed_secret", .bytea),
                Column("created_at", .bigint),
            ]),
        // SQLite's outbox has no organisation column: its webhook's. The senders claim by `seq`, kept.
        Table(
            "webhook_deliveries", from: "webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id", key: ["d.seq"],
            conflict: ["seq"], identity: "seq",
            [
                Column("seq", .bigint, from: "d.seq"), Column("org", from: "w.org_id"),
                Column("webhook_id", from: "d.webhook_id"), Column("alert_id", from: "d.alert_id"),
                Column("payload", from: "d.payload"), Column("attempts", .integer, from: "d.attempts"),
                Column("next_attempt_at", .bigint, from: "d.next_attempt_at"),
                Column("delivered_at", .bigint, from: "d.delivered_at"), Column("last_error", from: "d.last_error"),
            ]),
        Table("org_policies", conflict: ["org"], [.org, Column("policy"), Column("updated_at", .bigint)]),
        Table(
            "anomaly_blocks", conflict: ["id"],
            [
                Column("id"), .org, Column("entity"), Column("level"), Column("reason"), Column("created_at", .bigint),
                Column("until", .bigint), Column("lifted_at", .bigint), Column("lifted_by"),
            ]),
        Table(
            "key_models", key: ["org_id", "key_id", "model"], conflict: ["org", "key_id", "model"],
            [.org, Column("key_id"), Column("model"), Column("first_seen", .bigint)]),
        Table(
            "routes", key: ["org_id", "name"], conflict: ["org", "name"],
            [.org, Column("name"), Column("definition"), Column("updated_at", .bigint)]),
        // Budgets list in the order they were made, SQLite's rowid: kept as `seq`.
        Table(
            "budgets", conflict: ["id"], identity: "seq",
            [
                Column("id"), .org, Column("name"), Column("scope"), Column("scope_value"), Column("period"),
                Column("time_zone"), Column("limit_nanos", .bigint), Column("hard", .boolean), Column("thresholds"),
                Column("created_at", .bigint), Column("baseline_at", .bigint), Column("seq", .bigint, from: "rowid"),
            ]),
        // SQLite's history has no organisation column: its budget's.
        Table(
            "budget_history", from: "budget_history h JOIN budgets b ON b.id = h.budget_id",
            key: ["h.budget_id", "h.period_start", "h.period_end"],
            conflict: ["budget_id", "period_start", "period_end"],
            [
                Column("org", from: "b.org_id"), Column("budget_id", from: "h.budget_id"),
                Column("period_start", .bigint, from: "h.period_start"),
                Column("period_end", .bigint, from: "h.period_end"), Column("period", from: "h.period"),
                Column("limit_nanos", .bigint, from: "h.limit_nanos"),
                Column("spent_nanos", .bigint, from: "h.spent_nanos"), Column("reason", from: "h.reason"),
            ]),
        // In SQLite's order (`seq`), numbered anew by PostgreSQL: pages order by (ts, seq).
        Table(
            "usage_events", key: ["seq"], conflict: ["org", "id"], events: true,
            [
                Column("org"), Column("id"), Column("ts", .bigint), Column("team"), Column("user", from: "\"user\""),
                Column("project"), Column("key_id"), Column("tags", .jsonb), Column("provider"), Column("model"),
                Column("model_requested"), Column("endpoint"), Column("input_tokens", .bigint),
                Column("cache_read_tokens", .bigint), Column("cache_write_tokens", .bigint),
                Column("cache_write_1h_tokens", .bigint), Column("output_tokens", .bigint),
                Column("reasoning_tokens", .bigint), Column("cost_nanos", .bigint), Column("price_id"),
                Column("usage_source"), Column("stream", .boolean), Column("status", .integer),
                Column("latency_ms", .integer), Column("ttft_ms", .integer), Column("request_id"),
                Column("upstream_request_id"), Column("route"), Column("cache_hit", .boolean),
                Column("saved_nanos", .bigint),
            ]),
        Table(
            "usage_rollups", key: ["org", "grain", "dim", "bucket", "value"],
            conflict: ["org", "grain", "dim", "bucket", "value"],
            [
                Column("org"), Column("grain", .smallint), Column("dim", .smallint), Column("bucket", .bigint),
                Column("value"), Column("requests", .bigint), Column("input_tokens", .bigint),
                Column("cache_read_tokens", .bigint), Column("cache_write_tokens", .bigint),
                Column("cache_write_1h_tokens", .bigint), Column("output_tokens", .bigint),
                Column("reasoning_tokens", .bigint), Column("cost_nanos", .bigint),
                Column("unpriced_requests", .bigint), Column("unpriced_tokens", .bigint),
            ]),
        Table(
            "call_shapes", key: ["org", "event_id"], conflict: ["org", "event_id"],
            [
                Column("org"), Column("event_id"), Column("ts", .bigint), Column("request_hash"),
                Column("prompt_tokens", .bigint), Column("prefixes"), Column("tools", .boolean),
                Column("max_tokens", .bigint),
            ]),
        Table(
            "call_health", key: ["org", "day", "model"], conflict: ["org", "day", "model"],
            [
                Column("org"), Column("day", .bigint), Column("model"), Column("calls", .bigint),
                Column("errors", .bigint), Column("refusals", .bigint),
            ]),
        Table(
            "latency_buckets", key: ["org", "day", "model", "kind", "bucket"],
            conflict: ["org", "day", "model", "kind", "bucket"],
            [
                Column("org"), Column("day", .bigint), Column("model"), Column("kind", .integer),
                Column("bucket", .integer), Column("count", .bigint),
            ]),
    ]
}

// MARK: - Copying

extension SQLiteImport {
    /// The file must be at this meterr's schema: an older one lacks columns, a newer one has some
    /// this copy would leave behind.
    static func checkSchema(_ snapshot: DatabaseSnapshot, path: String) async throws {
        try await snapshot.read { db in
            if try SQLiteStore.migrator.hasBeenSuperseded(db) {
                throw MeterrError(
                    .conflict, "\(path) was written by a newer meterr: migrate it with that version")
            }
            guard try SQLiteStore.migrator.hasCompletedMigrations(db) else {
                throw MeterrError(
                    .conflict,
                    "\(path) was written by an older meterr: start this version's meterr serve on it once (it "
                        + "upgrades the file), stop it, then migrate")
            }
        }
    }

    func checkOrganisations(_ snapshot: DatabaseSnapshot) async throws {
        let mine = Set(try await snapshot.read { db in try String.fetchAll(db, sql: "SELECT id FROM organisations") })
        let theirs = try await target.acrossOrganisations { connection in
            var orgs: [String] = []
            for try await org in try await connection.query("SELECT org FROM organisations", logger: target.logger)
                .decode(String.self)
            {
                orgs.append(org)
            }
            return orgs
        }
        let strangers = theirs.filter { !mine.contains($0) }.sorted()
        guard strangers.isEmpty else {
            throw MeterrError(
                .conflict,
                "the PostgreSQL database holds organisations the data directory does not "
                    + "(\(strangers.prefix(3).joined(separator: ", "))\(strangers.count > 3 ? ", …" : "")): "
                    + "migrate into an empty database")
        }
    }

    func copy(_ table: Table, from snapshot: DatabaseSnapshot, progress: (Progress) -> Void) async throws {
        let total = try await snapshot.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table.from)") ?? 0
        }
        var state = Progress(table: table.name, copied: 0, total: total, written: 0, finished: false)
        let keys = table.key.joined(separator: ", ")
        let select = "SELECT \(keys), \(table.columns.map(\.source).joined(separator: ", ")) FROM \(table.from)"
        let order = " ORDER BY \(keys) LIMIT \(Self.rowsPerPage)"
        let after = " WHERE (\(keys)) > (\(table.key.map { _ in "?" }.joined(separator: ", ")))"
        let insert = table.events ? Self.eventStatement(table) : Self.statement(table)
        var last: [DatabaseValue]?
        while true {
            let sql = select + (last == nil ? "" : after) + order
            let arguments = StatementArguments(last ?? [])
            let rows = try await snapshot.read { db in
                try Row.fetchAll(db, sql: sql, arguments: arguments).map { Array($0.databaseValues) }
            }
            guard let lastRow = rows.last else { break }
            last = Array(lastRow.prefix(table.key.count))
            let values = rows.map { $0.dropFirst(table.key.count) }
            let binds = try Self.bindings(table, values)
            if table.events {
                let ts = table.columns.firstIndex { $0.name == "ts" }!
                try await target.ensurePartitions(
                    for: values.map { Timestamp(milliseconds: Int64.fromDatabaseValue($0[$0.startIndex + ts]) ?? 0) })
            }
            do {
                state.written += try await target.acrossOrganisations { connection in
                    var written = 0
                    for try await _ in try await connection.query(
                        PostgresQuery(unsafeSQL: insert, binds: binds), logger: target.logger)
                    {
                        written += 1
                    }
                    return written
                }
            } catch {
                throw MeterrError(
                    .storage, "PostgreSQL refused rows of \(table.name): \(Self.serverMessage(error))",
                    underlying: error)
            }
            state.copied += rows.count
            progress(state)
            if rows.count < Self.rowsPerPage { break }
        }
        state.finished = true
        progress(state)
    }

    /// One page's columns as arrays, one parameter each.
    static func bindings(_ table: Table, _ rows: [ArraySlice<DatabaseValue>]) throws -> PostgresBindings {
        var binds = PostgresBindings(capacity: table.columns.count)
        for (index, column) in table.columns.enumerated() {
            let cells = rows.map { $0[$0.startIndex + index] }
            func values<Value>(_ convert: (DatabaseValue) -> Value?) throws -> [Value?] {
                try cells.map { cell in
                    if cell.isNull { return nil }
                    guard let value = convert(cell) else {
                        throw MeterrError(
                            .storage, "\(table.name).\(column.name) holds a value of the wrong type (\(cell))")
                    }
                    return value
                }
            }
            switch column.kind {
            case .text, .jsonb:
                try binds.append(NullableArray(try values { String.fromDatabaseValue($0) }))
            case .bigint, .smallint:
                try binds.append(NullableArray(try values { Int64.fromDatabaseValue($0) }))
            case .integer:
                // As the ledger stores them: a value past 32 bits is clamped.
                try binds.append(
                    NullableArray(try values { Int64.fromDatabaseValue($0).map { Int32(clamping: $0) } }))
            case .boolean:
                try binds.append(NullableArray(try values { Int64.fromDatabaseValue($0).map { $0 != 0 } }))
            case .bytea:
                try binds.append(
                    NullableArray(
                        try values { cell -> ByteBuffer? in
                            guard case .blob(let data) = cell.storage else { return nil }
                            return ByteBuffer(bytes: data)
                        }))
            }
        }
        return binds
    }

    /// What the server said (`duplicate key value violates unique constraint "users_org_email_key"`,
    /// and its detail), without the statement or its values.
    static func serverMessage(_ error: any Error) -> String {
        if let error = error as? PostgresTransactionError, let inner = error.closureError {
            return serverMessage(inner)
        }
        guard let error = error as? PSQLError else { return "\(error)" }
        guard let message = error.serverInfo?[.message] else { return "\(error.code)" }
        return message + (error.serverInfo?[.detail].map { " (\($0))" } ?? "")
    }

    static func quoted(_ name: String) -> String { "\"\(name)\"" }

    /// The columns of `table`, quoted.
    static func names(_ table: Table) -> String { table.columns.map { quoted($0.name) }.joined(separator: ", ") }

    /// `unnest($1::text[], $2::int8[], …) AS alias (columns)`.
    static func unnest(_ table: Table, alias: String, ordinality: Bool = false) -> String {
        let arrays = table.columns.enumerated().map { "$\($0.offset + 1)::\($0.element.kind.arrayType)" }
        return "unnest(\(arrays.joined(separator: ", ")))\(ordinality ? " WITH ORDINALITY" : "") AS \(alias) ("
            + names(table) + (ordinality ? ", n)" : ")")
    }

    /// The page's rows read as the table's types from `alias`.
    static func values(_ table: Table, alias: String) -> String {
        table.columns.map { $0.kind.read(alias + "." + quoted($0.name)) }.joined(separator: ", ")
    }

    /// An upsert in key order that leaves a row alone when it already holds SQLite's values, and
    /// returns a row for each one it inserted or changed.
    static func statement(_ table: Table) -> String {
        let conflict = table.conflict.map(quoted).joined(separator: ", ")
        let updated = table.columns.map(\.name).filter { !table.conflict.contains($0) && $0 != table.identity }
            .map(quoted)
        var sql = "INSERT INTO \(table.name) AS t (\(names(table)))"
        if table.identity != nil { sql += " OVERRIDING SYSTEM VALUE" }
        sql += "\nSELECT \(values(table, alias: "b")) FROM \(unnest(table, alias: "b"))"
        sql += "\nORDER BY \(table.conflict.map { "b." + quoted($0) }.joined(separator: ", "))"
        sql += "\nON CONFLICT (\(conflict)) DO "
        if updated.isEmpty {
            sql += "NOTHING"
        } else {
            sql += "UPDATE SET " + updated.map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
            sql += "\nWHERE (\(updated.map { "t." + $0 }.joined(separator: ", "))) IS DISTINCT FROM ("
            sql += updated.map { "excluded." + $0 }.joined(separator: ", ") + ")"
        }
        return sql + "\nRETURNING 1"
    }

    /// Events as the ledger keeps them: an id the database has is skipped; new ones go in SQLite's
    /// order. No rollup deltas: the rollups are copied.
    static func eventStatement(_ table: Table) -> String {
        """
        WITH batch AS MATERIALIZED (
            SELECT * FROM \(unnest(table, alias: "b", ordinality: true))
        ), fresh AS (
            INSERT INTO usage_event_ids (org, id, ts)
            SELECT org, id, ts FROM batch ORDER BY org, id
            ON CONFLICT (org, id) DO NOTHING RETURNING org, id
        )
        INSERT INTO usage_events (\(names(table)))
        SELECT \(values(table, alias: "batch")) FROM batch JOIN fresh ON fresh.org = batch.org AND fresh.id = batch.id
        ORDER BY batch.n
        RETURNING 1
        """
    }

    /// Moves the sequence of an identity column past the values copied into it, so rows made later
    /// take the next numbers. The owner moves it; the operator reads the table (row-level security
    /// hides every row from the owner).
    func continueSequence(table: String, column: String) async throws {
        try await target.client.withTransaction(logger: target.logger) { connection in
            try await target.become(PostgresMigrations.operatorRole, on: connection)
            var highest: Int64?
            for try await value in try await connection.query(
                PostgresQuery(unsafeSQL: "SELECT max(\(Self.quoted(column))) FROM \(table)"), logger: target.logger
            ).decode(Int64?.self) {
                highest = value
            }
            guard let highest else { return }
            try await connection.query("RESET ROLE", logger: target.logger)
            try await connection.query(
                """
                SELECT setval(pg_get_serial_sequence(\(table), \(column)), GREATEST(\(highest),
                    coalesce(pg_sequence_last_value(pg_get_serial_sequence(\(table), \(column))::regclass), 1)))
                """, logger: target.logger)
        }
    }
}

// MARK: - Comparing

extension SQLiteImport {
    /// Events, hourly rollup requests and cost per organisation, as stored.
    struct Counts: Sendable {
        var events = 0
        var requests: Int64 = 0
        var costNanos: Int64 = 0
    }

    /// The hourly rollup rows of every model: all of an organisation's time.
    static let hourlyTotals = "grain = \(RollupGrain.hour.rawValue) AND dim = \(RollupDimension.all.rawValue)"

    static func counts(_ db: Database) throws -> [String: Counts] {
        var counts: [String: Counts] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT org, count(*) FROM usage_events GROUP BY org") {
            counts[row[0], default: Counts()].events = row[1]
        }
        for row in try Row.fetchAll(
            db, sql: "SELECT org, sum(requests), sum(cost_nanos) FROM usage_rollups WHERE \(hourlyTotals) GROUP BY org")
        {
            counts[row[0], default: Counts()].requests = row[1]
            counts[row[0], default: Counts()].costNanos = row[2]
        }
        return counts
    }

    static func counts(on connection: PostgresConnection, logger: Logger) async throws -> [String: Counts] {
        var counts: [String: Counts] = [:]
        for try await (org, events) in try await connection.query(
            "SELECT org, count(*) FROM usage_events GROUP BY org", logger: logger
        ).decode((String, Int64).self) {
            counts[org, default: Counts()].events = Int(events)
        }
        let rollups = PostgresQuery(
            unsafeSQL: """
                SELECT org, sum(requests)::bigint, sum(cost_nanos)::bigint FROM usage_rollups
                WHERE \(hourlyTotals) GROUP BY org
                """)
        for try await (org, requests, cost) in try await connection.query(rollups, logger: logger).decode(
            (String, Int64, Int64).self)
        {
            counts[org, default: Counts()].requests = requests
            counts[org, default: Counts()].costNanos = cost
        }
        return counts
    }

    /// The last instant a summary may cover (the end of year 9999).
    static let end = Timestamp(milliseconds: 253_402_300_800_000)

    static func totals(of database: some MeterrDatabase, org: String, counts: Counts?) async throws -> Totals {
        let summary = try await database.summary(
            org: org, groupBy: .none, from: Timestamp(milliseconds: 0), to: end, calendar: .utc)
        return Totals(
            events: counts?.events ?? 0, rollupRequests: counts?.requests ?? 0,
            rollupCost: Money(nanos: counts?.costNanos ?? 0), summaryRequests: summary.totals.requests,
            summaryCost: summary.totals.pricedCost, keys: try await database.keys(org: org).count,
            budgets: try await database.budgets(org: org).count)
    }
}
