import Logging
import MeterrCore
import MeterrStore
import NIOCore
import PostgresNIO

extension PostgresStore: CredentialStore {
    public func setCredential(
        org: String, team: String?, provider: Provider, secret: String, baseURL: String?, vault: CredentialVault,
        actor: String
    ) async throws -> CredentialRecord {
        let secret = try SQLiteStore.checkedSecret(secret)
        let sealed = ByteBuffer(bytes: try vault.seal(secret))
        let masked = CredentialVault.mask(secret)
        let now = clock.now()
        return try await tenant(org) { connection in
            try await requireOrganisation(org, on: connection)
            if let team { try await requireGroup(.team, org: org, name: team, field: "team", on: connection) }
            try await connection.query(
                """
                INSERT INTO provider_credentials (org, team, provider, sealed, key_fingerprint, masked, updated_at,
                    base_url)
                VALUES (\(org), \(team ?? ""), \(provider.rawValue), \(sealed), \(vault.fingerprint), \(masked),
                    \(now.milliseconds), \(baseURL))
                ON CONFLICT (org, team, provider) DO UPDATE SET sealed = excluded.sealed,
                    key_fingerprint = excluded.key_fingerprint, masked = excluded.masked,
                    updated_at = excluded.updated_at, base_url = excluded.base_url
                """, logger: logger)
            try await log(
                on: connection, org: org, actor: actor, action: "credential.set", target: provider.rawValue,
                detail: "\(team.map { "team \($0): " } ?? "")\(masked)\(baseURL.map { " at \($0)" } ?? "")")
            return CredentialRecord(provider: provider, team: team, masked: masked, updatedAt: now, baseURL: baseURL)
        }
    }

    public func credentials(org: String) async throws -> [CredentialRecord] {
        let rows = try await tenant(org) { connection in
            try await collect(
                """
                SELECT provider, team, masked, updated_at, base_url FROM provider_credentials WHERE org = \(org)
                ORDER BY provider COLLATE "C", team COLLATE "C"
                """, on: connection
            ) { try $0.decode((String, String, String, Int64, String?).self) }
        }
        return rows.compactMap { provider, team, masked, updatedAt, baseURL in
            Provider(rawValue: provider).map {
                CredentialRecord(
                    provider: $0, team: team.isEmpty ? nil : team, masked: masked,
                    updatedAt: Timestamp(milliseconds: updatedAt), baseURL: baseURL)
            }
        }
    }

    public func deleteCredential(org: String, team: String?, provider: Provider, actor: String) async throws -> Bool {
        try await tenant(org) { connection in
            let deleted = try await collect(
                """
                DELETE FROM provider_credentials WHERE org = \(org) AND team = \(team ?? "")
                    AND provider = \(provider.rawValue)
                RETURNING provider
                """, on: connection, { try $0.decode(String.self) })
            guard !deleted.isEmpty else { return false }
            try await log(
                on: connection, org: org, actor: actor, action: "credential.delete", target: provider.rawValue,
                detail: team.map { "team \($0)" })
            return true
        }
    }

    public func credentialSecret(org: String, team: String?, provider: Provider, vault: CredentialVault) async throws
        -> StoredCredential?
    {
        let stored = try await tenant(org) { connection in
            try await collect(
                """
                SELECT sealed, base_url FROM provider_credentials
                WHERE org = \(org) AND provider = \(provider.rawValue) AND team IN (\(team ?? ""), '')
                ORDER BY team DESC LIMIT 1
                """, on: connection
            ) { try $0.decode((ByteBuffer, String?).self) }.first
        }
        guard let stored else { return nil }
        return StoredCredential(secret: try vault.open(Array(stored.0.readableBytesView)), baseURL: stored.1)
    }

    public func credentialFingerprints() async throws -> Set<String> {
        try await acrossOrganisations { connection in
            Set(
                try await collect("SELECT DISTINCT key_fingerprint FROM provider_credentials", on: connection) {
                    try $0.decode(String.self)
                })
        }
    }

    public func resealCredentials(from old: CredentialVault, to new: CredentialVault) async throws -> Int {
        // Every organisation's credentials in one transaction: all are re-sealed, or none.
        try await acrossOrganisations { connection in
            let rows = try await collect(
                "SELECT org, team, provider, sealed FROM provider_credentials ORDER BY org, team, provider FOR UPDATE",
                on: connection
            ) { try $0.decode((String, String, String, ByteBuffer).self) }
            for (org, team, provider, sealed) in rows {
                let resealed = ByteBuffer(bytes: try new.seal(try old.open(Array(sealed.readableBytesView))))
                try await connection.query(
                    """
                    UPDATE provider_credentials SET sealed = \(resealed), key_fingerprint = \(new.fingerprint)
                    WHERE org = \(org) AND team = \(team) AND provider = \(provider)
                    """, logger: logger)
            }
            return rows.count
        }
    }
}
