extension PostgresMigrations {
    /// Organisations, keys, teams and projects, the audit log, people and sessions, provider credentials.
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
        ] + tenantTables(["audit_log"])
}
