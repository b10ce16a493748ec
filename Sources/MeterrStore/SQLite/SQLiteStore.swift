import Foundation
import GRDB
import MeterrCore

/// meterr's embedded storage: one SQLite file in WAL mode, one writer, any number of readers.
///
/// `synchronous = NORMAL` in WAL mode keeps every committed transaction across a crash of the
/// process (kill -9); only a power loss can take the last commits, which `durability: .full` prevents.
public final class SQLiteStore: Sendable {
    /// How hard a commit waits for the disk.
    public enum Durability: String, Sendable {
        /// Committed transactions survive a process crash; the OS flushes the WAL (SQLite `NORMAL`).
        case normal
        /// Each commit is flushed to the disk before it is acknowledged (SQLite `FULL`).
        case full
    }

    /// The file's connections; `package` for `SQLiteImport`, which reads them into PostgreSQL.
    package let pool: DatabasePool
    /// The database file.
    public let path: String
    /// Where rows take their creation, expiry and delivery times from.
    public let clock: WallClock
    /// The threads its reads run on.
    let readThreads: SQLiteReadThreads
    /// The connections its reads use (`read`); the pool's own readers serve only what reads the pool itself
    /// (an import into PostgreSQL, a backup).
    let readers: SQLiteReaders

    /// Opens (and creates and migrates, unless `readOnly`) the database `meterr.sqlite` in `directory`.
    public convenience init(
        directory: String, readOnly: Bool = false, durability: Durability = .normal, clock: WallClock = .system
    ) throws {
        try self.init(
            directory: directory, readOnly: readOnly, durability: durability, clock: clock, readThreads: .shared)
    }

    /// A store whose reads run on `readThreads`.
    init(
        directory: String, readOnly: Bool = false, durability: Durability = .normal, clock: WallClock = .system,
        readThreads: SQLiteReadThreads
    ) throws {
        self.clock = clock
        self.readThreads = readThreads
        let path = (directory as NSString).appendingPathComponent("meterr.sqlite")
        if readOnly {
            guard FileManager.default.fileExists(atPath: path) else {
                throw MeterrError(.notFound, "no meterr database in \(directory)")
            }
        } else {
            try DataDirectory.check(directory)
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw MeterrError(.storage, "cannot create data directory \(directory)", underlying: error)
            }
        }
        do {
            let configuration = Self.configuration(label: "meterr", readOnly: readOnly, durability: durability)
            pool = try DatabasePool(path: path, configuration: configuration)
            if !readOnly { try Self.migrator.migrate(pool) }
            readers = SQLiteReaders(path: path, configuration: configuration)
        } catch let error as MeterrError {
            throw error
        } catch {
            throw MeterrError(.storage, "cannot open the database \(path)", underlying: error)
        }
        self.path = path
    }

    /// How meterr opens its SQLite files.
    static func configuration(label: String, readOnly: Bool = false, durability: Durability = .normal)
        -> Configuration
    {
        var configuration = Configuration()
        configuration.readonly = readOnly
        configuration.busyMode = .timeout(10)
        configuration.label = label
        // SQLite's threads yield to the event loops (on Linux a lower QoS is a higher nice value):
        // commits and dashboard queries wait a little rather than a gateway call.
        configuration.qos = .utility
        configuration.prepareDatabase { db in
            if !readOnly {
                try db.execute(sql: "PRAGMA synchronous = \(durability == .full ? "FULL" : "NORMAL")")
            }
            try db.execute(sql: "PRAGMA cache_size = -16384")
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
        }
        return configuration
    }

    /// Runs SQLite's own consistency check; `"ok"` when the file is sound.
    public func integrityCheck() async throws -> String {
        try await read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "\n") }
    }

    /// Whether the database answers a trivial query.
    public func isReady() async -> Bool {
        (try? await read { db in try Int.fetchOne(db.cachedStatement(sql: "SELECT 1")) }) == 1
    }

    /// Runs `body` in a read transaction on one of its readers (`SQLiteReaders`), on one of meterr's read
    /// threads (`SQLiteReadThreads`), or on the calling thread in a task that asks for it
    /// (`SQLiteReadThreads.bypassed`).
    func read<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws -> T {
        do {
            if SQLiteReadThreads.bypassed { return try readers.read(body) }
            return try await readThreads.run { [readers] in try readers.read(body) }
        } catch let error as MeterrError {
            throw error
        } catch {
            throw MeterrError(.storage, "the database could not be read", underlying: error)
        }
    }

    func write<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws -> T {
        do {
            return try await pool.writeTransaction(body)
        } catch let error as MeterrError {
            throw error
        } catch {
            throw MeterrError(.storage, "the database could not be written", underlying: error)
        }
    }

    /// The schema. Shipped migrations are never edited: changes go in new ones. (`package`: an import
    /// checks a file's schema is this one.)
    package static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-ledger") { db in
            try db.execute(
                sql: """
                    CREATE TABLE organisations (
                        id TEXT PRIMARY KEY,
                        name TEXT NOT NULL,
                        created_at INTEGER NOT NULL
                    );
                    CREATE TABLE api_keys (
                        id TEXT PRIMARY KEY,
                        org_id TEXT NOT NULL REFERENCES organisations(id),
                        name TEXT NOT NULL,
                        display_prefix TEXT NOT NULL,
                        hash TEXT NOT NULL UNIQUE,
                        scopes INTEGER NOT NULL,
                        created_at INTEGER NOT NULL,
                        revoked_at INTEGER
                    );
                    CREATE TABLE usage_events (
                        seq INTEGER PRIMARY KEY,
                        org TEXT NOT NULL,
                        id TEXT NOT NULL,
                        ts INTEGER NOT NULL,
                        team TEXT,
                        user TEXT,
                        project TEXT,
                        key_id TEXT,
                        tags TEXT,
                        provider TEXT NOT NULL,
                        model TEXT NOT NULL,
                        model_requested TEXT,
                        endpoint TEXT,
                        input_tokens INTEGER NOT NULL,
                        cache_read_tokens INTEGER NOT NULL,
                        cache_write_tokens INTEGER NOT NULL,
                        cache_write_1h_tokens INTEGER NOT NULL,
                        output_tokens INTEGER NOT NULL,
                        reasoning_tokens INTEGER NOT NULL,
                        cost_nanos INTEGER,
                        price_id TEXT,
                        usage_source TEXT NOT NULL,
                        stream INTEGER NOT NULL,
                        status INTEGER,
                        latency_ms INTEGER,
                        ttft_ms INTEGER,
                        request_id TEXT,
                        upstream_request_id TEXT,
                        route TEXT
                    );
                    CREATE UNIQUE INDEX usage_events_org_id ON usage_events(org, id);
                    CREATE INDEX usage_events_org_ts ON usage_events(org, ts, seq);
                    CREATE TABLE usage_rollups (
                        org TEXT NOT NULL,
                        grain INTEGER NOT NULL,
                        dim INTEGER NOT NULL,
                        bucket INTEGER NOT NULL,
                        value TEXT NOT NULL,
                        requests INTEGER NOT NULL,
                        input_tokens INTEGER NOT NULL,
                        cache_read_tokens INTEGER NOT NULL,
                        cache_write_tokens INTEGER NOT NULL,
                        cache_write_1h_tokens INTEGER NOT NULL,
                        output_tokens INTEGER NOT NULL,
                        reasoning_tokens INTEGER NOT NULL,
                        cost_nanos INTEGER NOT NULL,
                        unpriced_requests INTEGER NOT NULL,
                        PRIMARY KEY (org, grain, dim, bucket, value)
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v2-keys-teams-projects") { db in
            try db.execute(
                sql: """
                    ALTER TABLE organisations ADD COLUMN tier TEXT NOT NULL DEFAULT 'unlimited';
                    CREATE TABLE teams (
                        id TEXT PRIMARY KEY,
                        org_id TEXT NOT NULL REFERENCES organisations(id),
                        name TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        UNIQUE (org_id, name)
                    );
                    CREATE TABLE projects (
                        id TEXT PRIMARY KEY,
                        org_id TEXT NOT NULL REFERENCES organisations(id),
                        name TEXT NOT NULL,
                        team TEXT,
                        created_at INTEGER NOT NULL,
                        UNIQUE (org_id, name)
                    );
                    ALTER TABLE api_keys ADD COLUMN team TEXT;
                    ALTER TABLE api_keys ADD COLUMN user TEXT;
                    ALTER TABLE api_keys ADD COLUMN project TEXT;
                    ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
                    ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;
                    CREATE INDEX api_keys_org ON api_keys(org_id, created_at);
                    CREATE INDEX api_keys_prefix ON api_keys(display_prefix);
                    CREATE TABLE audit_log (
                        seq INTEGER PRIMARY KEY,
                        org_id TEXT NOT NULL,
                        at INTEGER NOT NULL,
                        actor TEXT NOT NULL,
                        action TEXT NOT NULL,
                        target TEXT,
                        detail TEXT
                    );
                    CREATE INDEX audit_log_org ON audit_log(org_id, at);
                    -- The keys made at first start run the installation: they manage every organisation.
                    UPDATE api_keys SET scopes = scopes | 16 WHERE name IN ('admin', 'METERR_ADMIN_KEY');
                    """)
        }
        migrator.registerMigration("v3-provider-credentials") { db in
            try db.execute(
                sql: """
                    CREATE TABLE provider_credentials (
                        org_id TEXT NOT NULL REFERENCES organisations(id),
                        team TEXT NOT NULL DEFAULT '',
                        provider TEXT NOT NULL,
                        sealed BLOB NOT NULL,
                        key_fingerprint TEXT NOT NULL,
                        masked TEXT NOT NULL,
                        updated_at INTEGER NOT NULL,
                        PRIMARY KEY (org_id, team, provider)
                    );
                    """)
        }
        migrator.registerMigration("v4-rate-limits") { db in
            try db.execute(
                sql: """
                    ALTER TABLE api_keys ADD COLUMN tier TEXT;
                    ALTER TABLE api_keys ADD COLUMN rpm INTEGER;
                    ALTER TABLE api_keys ADD COLUMN tpm INTEGER;
                    """)
        }
        migrator.registerMigration("v5-credential-base-url") { db in
            try db.execute(sql: "ALTER TABLE provider_credentials ADD COLUMN base_url TEXT")
        }
        migrator.registerMigration("v6-users") { db in
            try db.execute(
                sql: """
                    CREATE TABLE users (
                        id TEXT PRIMARY KEY,
                        org_id TEXT NOT NULL REFERENCES organisations(id),
                        email TEXT NOT NULL,
                        name TEXT,
                        role TEXT NOT NULL,
                        team TEXT,
                        password_hash TEXT,
                        created_at INTEGER NOT NULL,
                        UNIQUE (org_id, email)
                    );
                    CREATE INDEX users_email ON users(email);
                    CREATE TABLE sessions (
                        hash TEXT PRIMARY KEY,
                        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                        org_id TEXT NOT NULL,
                        csrf_token TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        expires_at INTEGER NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("v7-budgets") { db in
            try db.execute(
                sql: """
                    CREATE TABLE budgets (
                        id TEXT PRIMARY KEY,
                        org_id TEXT NOT NULL REFERENCES organisations(id),
                        name TEXT NOT NULL,
                        scope TEXT NOT NULL,
                        scope_value TEXT NOT NULL DEFAULT '',
                        period TEXT NOT NULL,
                        time_zone TEXT NOT NULL,
                        limit_nanos INTEGER NOT NULL,
                        hard INTEGER NOT NULL,
                        thresholds TEXT NOT NULL,
                        created_at INTEGER NOT NULL
                    );
                    CREATE INDEX budgets_org ON budgets(org_id);
                    """)
        }
        migrator.registerMigration("v8-alerts") { db in
            try db.execute(
                sql: """
                    CREATE TABLE alerts (
                        id TEXT PRIMARY KEY,
                        org_id TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        subject TEXT,
                        severity TEXT NOT NULL,
                        message TEXT NOT NULL,
                        dedupe_key TEXT NOT NULL UNIQUE,
                        created_at INTEGER NOT NULL,
                        acknowledged_at INTEGER,
                        acknowledged_by TEXT
                    );
                    CREATE INDEX alerts_org ON alerts(org_id, created_at);
                    """)
        }
        migrator.registerMigration("v9-webhooks") { db in
            try db.execute(
                sql: """
                    CREATE TABLE webhooks (
                        id TEXT PRIMARY KEY,
                        org_id TEXT NOT NULL REFERENCES organisations(id),
                        url TEXT NOT NULL,
                        format TEXT NOT NULL,
                        sealed_secret BLOB NOT NULL,
                        created_at INTEGER NOT NULL
                    );
                    CREATE TABLE webhook_deliveries (
                        seq INTEGER PRIMARY KEY,
                        webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
                        alert_id TEXT NOT NULL,
                        payload TEXT NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        next_attempt_at INTEGER NOT NULL,
                        delivered_at INTEGER,
                        last_error TEXT,
                        UNIQUE (webhook_id, alert_id)
                    );
                    CREATE INDEX webhook_deliveries_due ON webhook_deliveries(delivered_at, next_attempt_at);
                    """)
        }
        migrator.registerMigration("v10-budget-history-policies-anomalies") { db in
            try db.execute(
                sql: """
                    ALTER TABLE budgets ADD COLUMN baseline_at INTEGER;
                    CREATE TABLE budget_history (
                        budget_id TEXT NOT NULL REFERENCES budgets(id) ON DELETE CASCADE,
                        period_start INTEGER NOT NULL,
                        period_end INTEGER NOT NULL,
                        period TEXT NOT NULL,
                        limit_nanos INTEGER NOT NULL,
                        spent_nanos INTEGER NOT NULL,
                        reason TEXT NOT NULL,
                        PRIMARY KEY (budget_id, period_start, period_end)
                    ) WITHOUT ROWID;
                    CREATE TABLE org_policies (
                        org_id TEXT PRIMARY KEY REFERENCES organisations(id),
                        policy TEXT NOT NULL,
                        updated_at INTEGER NOT NULL
                    );
                    CREATE TABLE anomaly_blocks (
                        id TEXT PRIMARY KEY,
                        org_id TEXT NOT NULL,
                        entity TEXT NOT NULL,
                        level TEXT NOT NULL,
                        reason TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        until INTEGER,
                        lifted_at INTEGER,
                        lifted_by TEXT
                    );
                    CREATE INDEX anomaly_blocks_org ON anomaly_blocks(org_id, created_at);
                    CREATE TABLE key_models (
                        org_id TEXT NOT NULL,
                        key_id TEXT NOT NULL,
                        model TEXT NOT NULL,
                        first_seen INTEGER NOT NULL,
                        PRIMARY KEY (org_id, key_id, model)
                    ) WITHOUT ROWID;
                    INSERT OR IGNORE INTO key_models (org_id, key_id, model, first_seen)
                        SELECT org, key_id, provider || '/' || model, MIN(ts) FROM usage_events
                        WHERE key_id IS NOT NULL GROUP BY org, key_id, provider, model;
                    ALTER TABLE alerts ADD COLUMN renotify_at INTEGER;
                    ALTER TABLE alerts ADD COLUMN notifications INTEGER NOT NULL DEFAULT 1;
                    CREATE INDEX alerts_renotify ON alerts(renotify_at) WHERE renotify_at IS NOT NULL;
                    """)
        }
        migrator.registerMigration("v11-unpriced-tokens") { db in
            // The rollups count the tokens of unpriced calls too; rows that already count unpriced calls
            // are filled in from their events (grain 0 = hour, 1 = day; dims as RollupDimension).
            try db.execute(
                sql: """
                    ALTER TABLE usage_rollups ADD COLUMN unpriced_tokens INTEGER NOT NULL DEFAULT 0;
                    UPDATE usage_rollups SET unpriced_tokens = (
                        SELECT COALESCE(SUM(e.input_tokens + e.output_tokens), 0) FROM usage_events e
                        WHERE e.org = usage_rollups.org AND e.cost_nanos IS NULL
                            AND e.ts >= usage_rollups.bucket
                            AND e.ts < usage_rollups.bucket + (CASE usage_rollups.grain WHEN 0 THEN 3600000 ELSE 86400000 END)
                            AND (CASE usage_rollups.dim
                                WHEN 0 THEN ''
                                WHEN 1 THEN e.provider
                                WHEN 2 THEN e.provider || '/' || e.model
                                WHEN 3 THEN COALESCE(e.team, '')
                                WHEN 4 THEN COALESCE(e.user, '')
                                WHEN 5 THEN COALESCE(e.project, '')
                                ELSE COALESCE(e.key_id, '') END) = usage_rollups.value)
                    WHERE unpriced_requests > 0;
                    """)
        }
        migrator.registerMigration("v12-alert-details") { db in
            // An alert's structured facts (budget name, limit, spent, model…), for webhook payloads.
            try db.execute(sql: "ALTER TABLE alerts ADD COLUMN details TEXT")
        }
        migrator.registerMigration("v13-routes") { db in
            // Virtual models an organisation defines through /api/routes (the router's own JSON form).
            try db.execute(
                sql: """
                    CREATE TABLE routes (
                        org_id TEXT NOT NULL REFERENCES organisations(id),
                        name TEXT NOT NULL,
                        definition TEXT NOT NULL,
                        updated_at INTEGER NOT NULL,
                        PRIMARY KEY (org_id, name)
                    ) WITHOUT ROWID
                    """)
        }
        migrator.registerMigration("v14-cache-hits") { db in
            // Calls meterr's response cache answered, and what they would have cost.
            try db.execute(
                sql: """
                    ALTER TABLE usage_events ADD COLUMN cache_hit INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE usage_events ADD COLUMN saved_nanos INTEGER;
                    """)
        }
        migrator.registerMigration("v15-call-shapes") { db in
            // What the savings report reads of each call's request: hashes and counts, never its text.
            try db.execute(
                sql: """
                    CREATE TABLE call_shapes (
                        org TEXT NOT NULL,
                        event_id TEXT NOT NULL,
                        ts INTEGER NOT NULL,
                        request_hash TEXT NOT NULL,
                        prompt_tokens INTEGER NOT NULL,
                        prefixes TEXT NOT NULL,
                        tools INTEGER NOT NULL,
                        max_tokens INTEGER,
                        PRIMARY KEY (org, event_id)
                    ) WITHOUT ROWID;
                    CREATE INDEX call_shapes_org_ts ON call_shapes(org, ts);
                    """)
        }
        migrator.registerMigration("v16-call-health") { db in
            // Each model's calls, failures, refusals and latency buckets per day, for the overview's health.
            try db.execute(
                sql: """
                    CREATE TABLE call_health (
                        org TEXT NOT NULL,
                        day INTEGER NOT NULL,
                        model TEXT NOT NULL,
                        calls INTEGER NOT NULL,
                        errors INTEGER NOT NULL,
                        refusals INTEGER NOT NULL,
                        PRIMARY KEY (org, day, model)
                    ) WITHOUT ROWID;
                    CREATE TABLE latency_buckets (
                        org TEXT NOT NULL,
                        day INTEGER NOT NULL,
                        model TEXT NOT NULL,
                        kind INTEGER NOT NULL,
                        bucket INTEGER NOT NULL,
                        count INTEGER NOT NULL,
                        PRIMARY KEY (org, day, model, kind, bucket)
                    ) WITHOUT ROWID;
                    """)
            // The events already stored, read once.
            var health = HealthDeltas()
            let rows = try Row.fetchCursor(
                db.cachedStatement(
                    sql: """
                        SELECT org, ts, provider, model, status, latency_ms, ttft_ms, stream, route, cache_hit
                        FROM usage_events
                        """))
            while let row = try rows.next() {
                guard let provider = Provider(rawValue: row[2]) else { continue }
                var event = UsageEvent(
                    id: "", ts: Timestamp(milliseconds: row[1]), org: row[0], provider: provider, model: row[3],
                    usage: Usage(), stream: row[7], status: row[4], latencyMs: row[5], ttftMs: row[6], route: row[8])
                event.cacheHit = row[9]
                health.add(event)
            }
            try SQLiteStore.write(health, in: db)
        }
        migrator.registerMigration("v17-team-rollups") { db in
            // A team's users, hourly and daily, from the events still stored (the team drill-down reads
            // these instead of raw events).
            for (grain, width) in [(0, 3_600_000), (1, 86_400_000)] {
                for (dimension, value) in [(7, "COALESCE(team, '') || char(31) || COALESCE(user, '')")] {
                    try db.execute(
                        sql: """
                            INSERT INTO usage_rollups (org, grain, dim, bucket, value, requests, input_tokens,
                                cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, output_tokens,
                                reasoning_tokens, cost_nanos, unpriced_requests, unpriced_tokens)
                            SELECT org, \(grain), \(dimension), ts - ts % \(width), \(value), COUNT(*), SUM(input_tokens),
                                SUM(cache_read_tokens), SUM(cache_write_tokens), SUM(cache_write_1h_tokens),
                                SUM(output_tokens), SUM(reasoning_tokens), COALESCE(SUM(cost_nanos), 0),
                                SUM(cost_nanos IS NULL),
                                COALESCE(SUM(CASE WHEN cost_nanos IS NULL THEN input_tokens + output_tokens END), 0)
                            FROM usage_events GROUP BY org, ts - ts % \(width), \(value)
                            """)
                }
            }
        }
        return migrator
    }
}
