extension PostgresMigrations {
    /// Budgets and their closed periods, call shapes, call health.
    static let budgetsAndShapes: [String] =
        [
            // `seq` keeps the order budgets were made in, which SQLite's rowid gives it: budgets made in
            // the same millisecond list in that order.
            """
            CREATE TABLE budgets (
                id text PRIMARY KEY,
                org text NOT NULL REFERENCES organisations (org), name text NOT NULL, scope text NOT NULL, scope_value text NOT NULL DEFAULT '',
                period text NOT NULL, time_zone text NOT NULL, limit_nanos bigint NOT NULL, hard boolean NOT NULL,
                thresholds text NOT NULL, created_at bigint NOT NULL, baseline_at bigint,
                seq bigint GENERATED ALWAYS AS IDENTITY
            )
            """,
            "CREATE INDEX budgets_org ON budgets (org, created_at, seq)",
            // A budget's history goes with it (the cascade is the database's own, past row-level security).
            """
            CREATE TABLE budget_history (
                org text NOT NULL,
                budget_id text NOT NULL REFERENCES budgets (id) ON DELETE CASCADE,
                period_start bigint NOT NULL, period_end bigint NOT NULL, period text NOT NULL,
                limit_nanos bigint NOT NULL, spent_nanos bigint NOT NULL, reason text NOT NULL,
                PRIMARY KEY (budget_id, period_start, period_end)
            )
            """,
            // What the savings report reads of each call's request: hashes and counts, never its text.
            """
            CREATE TABLE call_shapes (
                org text NOT NULL, event_id text NOT NULL, ts bigint NOT NULL, request_hash text NOT NULL,
                prompt_tokens bigint NOT NULL, prefixes text NOT NULL, tools boolean NOT NULL, max_tokens bigint,
                PRIMARY KEY (org, event_id)
            )
            """,
            "CREATE INDEX call_shapes_org_ts ON call_shapes (org, ts)",
            // Each model's calls, failures, refusals and latency buckets per UTC day.
            """
            CREATE TABLE call_health (
                org text NOT NULL, day bigint NOT NULL, model text NOT NULL,
                calls bigint NOT NULL, errors bigint NOT NULL, refusals bigint NOT NULL,
                PRIMARY KEY (org, day, model)
            )
            """,
            """
            CREATE TABLE latency_buckets (
                org text NOT NULL, day bigint NOT NULL, model text NOT NULL, kind integer NOT NULL,
                bucket integer NOT NULL, count bigint NOT NULL,
                PRIMARY KEY (org, day, model, kind, bucket)
            )
            """,
        ] + tenantTables(["budgets", "budget_history", "call_shapes", "call_health", "latency_buckets"])
}
