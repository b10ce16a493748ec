import Foundation
import GRDB
import MeterrCore

extension SQLiteStore: CredentialStore {
    public func setCredential(
        org: String, team: String?, provider: Provider, secret: String, baseURL: String?, vault: CredentialVault,
        actor: String
    ) async throws -> CredentialRecord {
        let secret = try Self.checkedSecret(secret)
        let sealed = try vault.seal(secret)
        let masked = CredentialVault.mask(secret)
        let now = self.clock.now()
        return try await write { db in
            try Self.requireOrganisation(db, org)
            if let team { try Self.requireGroup(db, kind: .team, org: org, name: team, field: "team") }
            try db.execute(
                sql: """
                    INSERT INTO provider_credentials (org_id, team, provider, sealed, key_fingerprint, masked, updated_at,
                        base_url)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (org_id, team, provider) DO UPDATE SET sealed = excluded.sealed,
                        key_fingerprint = excluded.key_fingerprint, masked = excluded.masked,
                        updated_at = excluded.updated_at, base_url = excluded.base_url
                    """,
                arguments: [
                    org, team ?? "", provider.rawValue, Data(sealed), vault.fingerprint, masked, now.milliseconds,
                    baseURL,
                ])
            try self.log(
                db, org: org, actor: actor, action: "credential.set", target: provider.rawValue,
                detail: "\(team.map { "team \($0): " } ?? "")\(masked)\(baseURL.map { " at \($0)" } ?? "")")
            return CredentialRecord(provider: provider, team: team, masked: masked, updatedAt: now, baseURL: baseURL)
        }
    }

    public func credentials(org: String) async throws -> [CredentialRecord] {
        try await read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT provider, team, masked, updated_at, base_url FROM provider_credentials WHERE org_id = ?
                        ORDER BY provider, team
                        """),
                arguments: [org]
            ).compactMap { row in
                let team: String = row[1]
                return Provider(rawValue: row[0]).map {
                    CredentialRecord(
                        provider: $0, team: team.isEmpty ? nil : team, masked: row[2],
                        updatedAt: Timestamp(milliseconds: row[3]), baseURL: row[4])
                }
            }
        }
    }

    public func deleteCredential(org: String, team: String?, provider: Provider, actor: String) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: "DELETE FROM provider_credentials WHERE org_id = ? AND team = ? AND provider = ?",
                arguments: [org, team ?? "", provider.rawValue])
            guard db.changesCount > 0 else { return false }
            try self.log(
                db, org: org, actor: actor, action: "credential.delete", target: provider.rawValue,
                detail: team.map { "team \($0)" })
            return true
        }
    }

    public func credentialSecret(org: String, team: String?, provider: Provider, vault: CredentialVault) async throws
        -> StoredCredential?
    {
        let stored = try await read { db -> ([UInt8], String?)? in
            let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT sealed, base_url FROM provider_credentials
                        WHERE org_id = ? AND provider = ? AND team IN (?, '')
                        ORDER BY team DESC LIMIT 1
                        """),
                arguments: [org, provider.rawValue, team ?? ""])
            return row.map { (Array($0[0] as Data), $0[1]) }
        }
        guard let (sealed, baseURL) = stored else { return nil }
        return StoredCredential(secret: try vault.open(sealed), baseURL: baseURL)
    }

    public func credentialFingerprints() async throws -> Set<String> {
        try await read { db in
            Set(
                try String.fetchAll(
                    db.cachedStatement(sql: "SELECT DISTINCT key_fingerprint FROM provider_credentials")))
        }
    }

    public func resealCredentials(from old: CredentialVault, to new: CredentialVault) async throws -> Int {
        try await write { db in
            let rows = try Row.fetchAll(
                db.cachedStatement(sql: "SELECT org_id, team, provider, sealed FROM provider_credentials"))
            for row in rows {
                let secret = try old.open(Array(row[3] as Data))
                try db.execute(
                    sql: """
                        UPDATE provider_credentials SET sealed = ?, key_fingerprint = ?
                        WHERE org_id = ? AND team = ? AND provider = ?
                        """,
                    arguments: [
                        Data(try new.seal(secret)), new.fingerprint, row[0] as String, row[1] as String,
                        row[2] as String,
                    ])
            }
            return rows.count
        }
    }
}
