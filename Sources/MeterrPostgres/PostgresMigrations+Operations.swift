extension PostgresMigrations {
    /// Alerts, webhooks and their delivery outbox, policies and anomaly blocks, keys' models, routes.
    static let operations: [String] =
        [
            // An alert is recorded once per organisation and dedupe key, whichever node raises it.
            """
            CREATE TABLE alerts (
                id text PRIMARY KEY,
                org text NOT NULL, kind text NOT NULL, subject text, severity text NOT NULL, message text NOT NULL,
                dedupe_key text NOT NULL, created_at bigint NOT NULL, acknowledged_at bigint, acknowledged_by text,
                renotify_at bigint, notifications bigint NOT NULL DEFAULT 1, details text,
                UNIQUE (org, dedupe_key)
            )
            """,
            "CREATE INDEX alerts_org ON alerts (org, created_at)",
            "CREATE INDEX alerts_renotify ON alerts (renotify_at) WHERE renotify_at IS NOT NULL",
            """
            CREATE TABLE webhooks (
                id text PRIMARY KEY,
                org text NOT NULL REFERENCES organisations (org),
                url text NOT NULL, format text NOT NULL, sealed_secret bytea NOT NULL, created_at bigint NOT NULL
            )
            """,
            "CREATE INDEX webhooks_org ON webhooks (org, created_at)",
            // The outbox: each row is claimed by one node at a time (`next_attempt_at` moved to the
            // end of the claim's lease), delivered once.
            """
            CREATE TABLE webhook_deliveries (
                seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                org text NOT NULL, webhook_id text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
                alert_id text NOT NULL, payload text NOT NULL, attempts integer NOT NULL DEFAULT 0,
                next_attempt_at bigint NOT NULL, delivered_at bigint, last_error text,
                UNIQUE (webhook_id, alert_id)
            )
            """,
            "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE delivered_at IS NULL",
            """
            CREATE TABLE org_policies (
                org text PRIMARY KEY REFERENCES organisations (org), policy text NOT NULL, updated_at bigint NOT NULL
            )
            """,
            """
            CREATE TABLE anomaly_blocks (
                id text PRIMARY KEY,
                org text NOT NULL, entity text NOT NULL, level text NOT NULL, reason text NOT NULL,
                created_at bigint NOT NULL, until bigint, lifted_at bigint, lifted_by text
            )
            """,
            "CREATE INDEX anomaly_blocks_org ON anomaly_blocks (org, created_at)",
            """
            CREATE TABLE key_models (
                org text NOT NULL, key_id text NOT NULL, model text NOT NULL, first_seen bigint NOT NULL,
                PRIMARY KEY (org, key_id, model)
            )
            """,
            """
            CREATE TABLE routes (
                org text NOT NULL REFERENCES organisations (org),
                name text NOT NULL, definition text NOT NULL, updated_at bigint NOT NULL,
                PRIMARY KEY (org, name)
            )
            """,
        ]
        + tenantTables([
            "alerts", "webhooks", "webhook_deliveries", "org_policies", "anomaly_blocks", "key_models", "routes",
        ])
}
