extension PostgresMigrations {
    /// Organisations, keys, teams and projects, the audit log, people and sessions, provider credentials.
    ///
    /// The columns are SQLite's after all its migrations, an organisation's column named `org` in
    /// every table (the organisations table's id too), so row-level security reads one column everywhere.
    static let accounts: [String] =
        [
            """
            CREATE TABLE audit_log (
                seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                org text NOT NULL, at bigint NOT NULL, actor text NOT NULL, action text NOT NULL,
                target text, detail text
            )
            """,
            "CREATE INDEX audit_log_org ON audit_log (org, at)",
            """
            CREATE TABLE organisations (
                org text PRIMARY KEY,
                name text NOT NULL,
                created_at bigint NOT NULL,
                tier text NOT NULL DEFAULT 'unlimited'
            )
            """,
            // `scopes` is KeyScopes' bits: the keys the first start makes carry the operator bit (16).
            """
            CREATE TABLE api_keys (
                id text PRIMARY KEY,
                org text NOT NULL REFERENCES organisations (org),
                name text NOT NULL,
                display_prefix text NOT NULL,
                hash text NOT NULL UNIQUE,
                scopes bigint NOT NULL,
                created_at bigint NOT NULL,
                revoked_at bigint,
                team text, "user" text, project text,
                expires_at bigint, last_used_at bigint,
                tier text, rpm bigint, tpm bigint
            )
            """,
            "CREATE INDEX api_keys_org ON api_keys (org, created_at)",
            "CREATE INDEX api_keys_prefix ON api_keys (display_prefix)",
            """
            CREATE TABLE teams (
                id text PRIMARY KEY,
                org text NOT NULL REFERENCES organisations (org),
                name text NOT NULL,
                created_at bigint NOT NULL,
                UNIQUE (org, name)
            )
            """,
            """
            CREATE TABLE projects (
                id text PRIMARY KEY,
                org text NOT NULL REFERENCES organisations (org),
                name text NOT NULL,
                team text,
                created_at bigint NOT NULL,
                UNIQUE (org, name)
            )
            """,
            """
            CREATE TABLE users (
                id text PRIMARY KEY,
                org text NOT NULL REFERENCES organisations (org),
                email text NOT NULL,
                name text,
                role text NOT NULL,
                team text,
                password_hash text,
                created_at bigint NOT NULL,
                UNIQUE (org, email)
            )
            """,
            "CREATE INDEX users_email ON users (email)",
            """
            CREATE TABLE sessions (
                hash text PRIMARY KEY,
                user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                org text NOT NULL,
                csrf_token text NOT NULL,
                created_at bigint NOT NULL,
                expires_at bigint NOT NULL
            )
            """,
            "CREATE INDEX sessions_user ON sessions (user_id)",
            // `team` is '' for the organisation's own credential, so it can be part of the key.
            """
            CREATE TABLE provider_credentials (
                org text NOT NULL REFERENCES organisations (org),
                team text NOT NULL DEFAULT '',
                provider text NOT NULL,
                sealed bytea NOT NULL,
                key_fingerprint text NOT NULL,
                masked text NOT NULL,
                updated_at bigint NOT NULL,
                base_url text,
                PRIMARY KEY (org, team, provider)
            )
            """,
        ]
        + tenantTables([
            "audit_log", "organisations", "api_keys", "teams", "projects", "users", "sessions", "provider_credentials",
        ])
}
