import GRDB
import MeterrCore

extension SQLiteStore: AccountStore {
    public func bootstrap(adminKey: String?) async throws -> BootstrapResult {
        if let adminKey, !APIKey.isWellFormed(adminKey) {
            throw MeterrError(
                .configuration, "METERR_ADMIN_KEY must start with mk_ and be 20 to 128 printable characters")
        }
        return try await write { db in
            let now = Timestamp.now().milliseconds
            let organisation: Organisation
            if let row = try Row.fetchOne(db, sql: "SELECT id, name FROM organisations ORDER BY created_at LIMIT 1") {
                organisation = Organisation(id: row[0], name: row[1])
            } else {
                organisation = Organisation(id: Identifier.make("org", length: 16), name: "Default")
                try db.execute(
                    sql: "INSERT INTO organisations (id, name, created_at) VALUES (?, ?, ?)",
                    arguments: [organisation.id, organisation.name, now])
            }
            let hasAdmin =
                try Bool.fetchOne(
                    db, sql: "SELECT EXISTS (SELECT 1 FROM api_keys WHERE scopes & ? != 0 AND revoked_at IS NULL)",
                    arguments: [KeyScopes.admin.rawValue]) ?? false
            var created: String?
            if let adminKey {
                let hash = APIKey.hash(adminKey)
                let known =
                    try Bool.fetchOne(
                        db, sql: "SELECT EXISTS (SELECT 1 FROM api_keys WHERE hash = ?)", arguments: [hash]) ?? false
                if !known { try Self.insertKey(db, key: adminKey, name: "METERR_ADMIN_KEY", org: organisation.id) }
            } else if !hasAdmin {
                let key = APIKey.generate()
                try Self.insertKey(db, key: key, name: "admin", org: organisation.id)
                created = key
            }
            return BootstrapResult(organisation: organisation, createdAdminKey: created)
        }
    }

    public func principal(forKeyHash hash: String) async throws -> Principal? {
        try await read { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT id, org_id, scopes FROM api_keys WHERE hash = ? AND revoked_at IS NULL",
                    arguments: [hash])
            else { return nil }
            return Principal(orgId: row[1], keyId: row[0], scopes: KeyScopes(rawValue: row[2]))
        }
    }

    static func insertKey(_ db: Database, key: String, name: String, org: String) throws {
        try db.execute(
            sql: """
                INSERT INTO api_keys (id, org_id, name, display_prefix, hash, scopes, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                Identifier.make("key", length: 16), org, name, APIKey.displayPrefix(key), APIKey.hash(key),
                KeyScopes.all.rawValue, Timestamp.now().milliseconds,
            ])
    }
}
