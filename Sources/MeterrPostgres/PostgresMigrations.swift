import Logging
import MeterrCore
import PostgresNIO

/// The PostgreSQL schema, as numbered migrations: each applied once, in order, in its own
/// transaction, never edited once shipped (a change is a new migration).
///
/// Several meterr nodes may start at once: the migrator holds a transaction-scoped advisory lock,
/// so one applies what is missing and the others then find it applied.
enum PostgresMigrations {
    /// The advisory lock key of meterr's migrations (`'meterr'` in ASCII).
    static let lockKey: Int64 = 0x6D65_7465_7272

    /// The roles every tenant query runs as (`SET LOCAL ROLE`): `meterr_app` sees one organisation
    /// (row-level security on `app.org_id`); `meterr_operator`, for the few operator paths that cross
    /// organisations, sees all. Neither owns a table, logs in, or bypasses row-level security.
    static let appRole = "meterr_app"
    static let operatorRole = "meterr_operator"

    static let all: [(version: Int, sql: [String])] = [
        (
            1,
            [
                // The roles: cluster-wide, so made only when missing (another database may have made them).
                """
                DO $$ BEGIN
                    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'meterr_app') THEN
                        CREATE ROLE meterr_app NOLOGIN NOBYPASSRLS;
                    END IF;
                    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'meterr_operator') THEN
                        CREATE ROLE meterr_operator NOLOGIN NOBYPASSRLS;
                    END IF;
                EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
                END $$
                """,
                "GRANT meterr_app, meterr_operator TO CURRENT_USER",
                // Idempotency by (org, id) across every partition: a partitioned table's unique keys
                // must hold its partition key, so the ids are kept beside it.
                """
                CREATE TABLE usage_event_ids (
                    org text NOT NULL,
                    id text NOT NULL,
                    ts bigint NOT NULL,
                    PRIMARY KEY (org, id)
                )
                """,
                // Events by month of `ts` (milliseconds since 1970, UTC): retention drops whole months.
                """
                CREATE TABLE usage_events (
                    seq bigint GENERATED ALWAYS AS IDENTITY,
                    org text NOT NULL, id text NOT NULL, ts bigint NOT NULL,
                    team text, "user" text, project text, key_id text, tags jsonb,
                    provider text NOT NULL, model text NOT NULL, model_requested text, endpoint text,
                    input_tokens bigint NOT NULL, cache_read_tokens bigint NOT NULL,
                    cache_write_tokens bigint NOT NULL, cache_write_1h_tokens bigint NOT NULL,
                    output_tokens bigint NOT NULL, reasoning_tokens bigint NOT NULL,
                    cost_nanos bigint, price_id text, usage_source text NOT NULL, stream boolean NOT NULL,
                    status integer, latency_ms integer, ttft_ms integer, request_id text, upstream_request_id text,
                    route text, cache_hit boolean NOT NULL, saved_nanos bigint
                ) PARTITION BY RANGE (ts)
                """,
                "CREATE INDEX usage_events_org_ts ON usage_events (org, ts, seq)",
                """
                CREATE TABLE usage_rollups (
                    org text NOT NULL, grain smallint NOT NULL, dim smallint NOT NULL, bucket bigint NOT NULL,
                    value text NOT NULL,
                    requests bigint NOT NULL, input_tokens bigint NOT NULL, cache_read_tokens bigint NOT NULL,
                    cache_write_tokens bigint NOT NULL, cache_write_1h_tokens bigint NOT NULL,
                    output_tokens bigint NOT NULL, reasoning_tokens bigint NOT NULL, cost_nanos bigint NOT NULL,
                    unpriced_requests bigint NOT NULL, unpriced_tokens bigint NOT NULL,
                    PRIMARY KEY (org, grain, dim, bucket, value)
                )
                """,
            ] + tenantTables(["usage_event_ids", "usage_events", "usage_rollups"])
        ),
        (
            2,
            [
                // Hard budgets across nodes: what each budget period has spent, and the worst-case
                // holds of calls in flight, charged in full if their node never settles them.
                """
                CREATE TABLE budget_counters (
                    org text NOT NULL, budget_id text NOT NULL, period_start bigint NOT NULL,
                    limit_nanos bigint NOT NULL, spent_nanos bigint NOT NULL DEFAULT 0,
                    PRIMARY KEY (org, budget_id, period_start)
                )
                """,
                """
                CREATE TABLE budget_holds (
                    org text NOT NULL, hold_id text NOT NULL, budget_id text NOT NULL, period_start bigint NOT NULL,
                    amount_nanos bigint NOT NULL, expires_at timestamptz NOT NULL,
                    PRIMARY KEY (org, hold_id, budget_id)
                )
                """,
                "CREATE INDEX budget_holds_budget ON budget_holds (org, budget_id, period_start)",
                "CREATE INDEX budget_holds_expiry ON budget_holds (expires_at)",
            ] + tenantTables(["budget_counters", "budget_holds"])
        ),
        (3, accounts),
        (4, operations),
        (5, budgetsAndShapes),
        (
            6,
            [
                // The nodes at work on this database, each seen every few seconds: per-node limits
                // (rate limits, sign-in back-off) take their share of each limit from the count.
                """
                CREATE TABLE meterr_nodes (
                    id text PRIMARY KEY, host text NOT NULL, started_at timestamptz NOT NULL DEFAULT now(),
                    seen_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                // Live dashboards follow every node's events in the order they were numbered: a BRIN
                // index (numbers grow with each partition's pages) costs ingest almost nothing.
                "CREATE INDEX usage_events_seq ON usage_events USING brin (seq)",
            ] + budgetHoldFunctions
        ),
    ]

    /// Row-level security on tenant tables: forced (the owner is held to it too), one policy per role.
    static func tenantTables(_ tables: [String]) -> [String] {
        tables.flatMap { table in
            [
                "ALTER TABLE \(table) ENABLE ROW LEVEL SECURITY",
                "ALTER TABLE \(table) FORCE ROW LEVEL SECURITY",
                """
                CREATE POLICY \(table)_tenant ON \(table) TO meterr_app
                USING (org = current_setting('app.org_id', true))
                WITH CHECK (org = current_setting('app.org_id', true))
                """,
                "CREATE POLICY \(table)_operator ON \(table) TO meterr_operator USING (true) WITH CHECK (true)",
                "GRANT SELECT, INSERT, UPDATE, DELETE ON \(table) TO meterr_app, meterr_operator",
            ]
        }
    }

    /// Applies the migrations not yet applied; returns the versions it applied.
    @discardableResult
    static func apply(on client: PostgresClient, logger: Logger) async throws -> [Int] {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS meterr_migrations (
                    version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())
                """, logger: logger)
            var applied: Set<Int> = []
            for try await version in try await connection.query(
                "SELECT version FROM meterr_migrations", logger: logger
            ).decode(Int.self) {
                applied.insert(version)
            }
            var done: [Int] = []
            for migration in all where !applied.contains(migration.version) {
                for statement in migration.sql {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO meterr_migrations (version) VALUES (\(migration.version))", logger: logger)
                done.append(migration.version)
            }
            return done
        }
    }
}
