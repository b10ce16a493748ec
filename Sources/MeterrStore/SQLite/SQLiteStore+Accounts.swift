import GRDB
import MeterrCore

extension SQLiteStore: AccountStore {
    public func bootstrap(adminKey: String?) async throws -> BootstrapResult {
        if let adminKey, !APIKey.isWellFormed(adminKey) {
            throw MeterrError(
                .configuration, "METERR_ADMIN_KEY must start with mk_ and be 20 to 128 printable characters")
        }
        return try await write { db in
            let now = self.clock.now().milliseconds
            let organisation: Organisation
            if let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT id, name FROM organisations ORDER BY created_at LIMIT 1"))
            {
                organisation = Organisation(id: row[0], name: row[1])
            } else {
                organisation = Organisation(id: Identifier.make("org", length: 16), name: "Default")
                try db.execute(
                    sql: "INSERT INTO organisations (id, name, created_at) VALUES (?, ?, ?)",
                    arguments: [organisation.id, organisation.name, now])
            }
            let hasAdmin =
                try Bool.fetchOne(
                    db.cachedStatement(
                        sql: "SELECT EXISTS (SELECT 1 FROM api_keys WHERE scopes & ? != 0 AND revoked_at IS NULL)"),
                    arguments: [KeyScopes.admin.rawValue]) ?? false
            var created: String?
            if let adminKey {
                let hash = APIKey.hash(adminKey)
                let known = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT revoked_at FROM api_keys WHERE hash = ?"), arguments: [hash])
                if let known, let revoked = known[0] as Int64?, revoked <= now {
                    throw MeterrError(
                        .configuration,
                        "METERR_ADMIN_KEY was revoked on \(Timestamp(milliseconds: revoked).rfc3339): set a new key, "
                            + "or unset METERR_ADMIN_KEY to sign in with another admin key")
                }
                if known == nil {
                    try self.insertKey(
                        db, key: adminKey, name: "METERR_ADMIN_KEY", org: organisation.id, scopes: [.all, .operator])
                }
            } else if !hasAdmin {
                let key = APIKey.generate()
                try self.insertKey(db, key: key, name: "admin", org: organisation.id, scopes: [.all, .operator])
                created = key
            }
            return BootstrapResult(organisation: organisation, createdAdminKey: created)
        }
    }

    public func principal(forKey key: String) async throws -> Principal? {
        let now = self.clock.now().milliseconds
        let hash = Array(APIKey.hash(key).utf8)
        let prefix = APIKey.displayPrefix(key)
        return try await read { db in
            let candidates = try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT k.id, k.org_id, k.scopes, k.team, k.user, k.project, k.expires_at, k.revoked_at,
                            COALESCE(k.tier, o.tier), k.rpm, k.tpm, k.hash
                        FROM api_keys k JOIN organisations o ON o.id = k.org_id
                        WHERE k.display_prefix = ? AND (k.revoked_at IS NULL OR k.revoked_at > ?)
                            AND (k.expires_at IS NULL OR k.expires_at > ?)
                        """),
                arguments: [prefix, now, now])
            guard let row = candidates.first(where: { APIKey.constantTimeEqual(Array(($0[11] as String).utf8), hash) })
            else { return nil }
            let ends = [row[6] as Int64?, row[7] as Int64?].compactMap { $0 }.min()
            return Principal(
                orgId: row[1], keyId: row[0], scopes: KeyScopes(rawValue: row[2]), team: row[3], user: row[4],
                project: row[5], validUntil: ends.map(Timestamp.init(milliseconds:)),
                limits: RateLimits(
                    tier: RateTier(rawValue: row[8]) ?? .unlimited, requestsPerMinute: row[9], tokensPerMinute: row[10])
            )
        }
    }

    public func markUsed(keyIds: [String], at: Timestamp) async throws {
        if keyIds.isEmpty { return }
        try await write { db in
            for id in keyIds {
                try db.execute(
                    sql: "UPDATE api_keys SET last_used_at = ? WHERE id = ?", arguments: [at.milliseconds, id])
            }
        }
    }

    public func createOrganisation(name: String, actor: String) async throws -> (Organisation, String) {
        let name = try Self.checkedName(name, field: "name")
        return try await write { db in
            if try Bool.fetchOne(
                db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM organisations WHERE name = ?)"), arguments: [name]
            )
                ?? false
            {
                throw MeterrError(.conflict, "an organisation named \(name) exists", field: "name")
            }
            let organisation = Organisation(id: Identifier.make("org", length: 16), name: name)
            try db.execute(
                sql: "INSERT INTO organisations (id, name, created_at) VALUES (?, ?, ?)",
                arguments: [organisation.id, name, self.clock.now().milliseconds])
            let key = APIKey.generate()
            try self.insertKey(db, key: key, name: "admin", org: organisation.id)
            try self.log(
                db, org: organisation.id, actor: actor, action: "org.create", target: organisation.id, detail: name)
            return (organisation, key)
        }
    }

    public func organisations() async throws -> [Organisation] {
        try await read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT id, name FROM organisations ORDER BY created_at")).map {
                Organisation(id: $0[0], name: $0[1])
            }
        }
    }

    public func setTier(org: String, tier: RateTier, actor: String) async throws {
        try await write { db in
            try Self.requireOrganisation(db, org)
            try db.execute(sql: "UPDATE organisations SET tier = ? WHERE id = ?", arguments: [tier.rawValue, org])
            try self.log(db, org: org, actor: actor, action: "org.tier", target: org, detail: tier.rawValue)
        }
    }

    public func createKey(org: String, _ request: KeyRequest, actor: String) async throws -> (KeyRecord, String) {
        let name = try Self.checkedName(request.name, field: "name")
        for (field, value) in [("rpm", request.requestsPerMinute), ("tpm", request.tokensPerMinute)] {
            if let value, value < 1 { throw MeterrError.invalid(field, "must be at least 1") }
        }
        if request.scopes.isEmpty { throw MeterrError.invalid("scopes", "must name at least one scope") }
        if let expiry = request.expiresAt, expiry <= self.clock.now() {
            throw MeterrError.invalid("expires_at", "must be in the future")
        }
        return try await write { db in
            try Self.requireOrganisation(db, org)
            if let team = request.team { try Self.requireGroup(db, kind: .team, org: org, name: team, field: "team") }
            if let project = request.project {
                try Self.requireGroup(db, kind: .project, org: org, name: project, field: "project")
            }
            let key = APIKey.generate()
            let id = try self.insertKey(
                db, key: key, name: name, org: org, scopes: request.scopes, team: request.team, user: request.user,
                project: request.project, expiresAt: request.expiresAt)
            try db.execute(
                sql: "UPDATE api_keys SET tier = ?, rpm = ?, tpm = ? WHERE id = ?",
                arguments: [request.tier?.rawValue, request.requestsPerMinute, request.tokensPerMinute, id])
            try self.log(
                db, org: org, actor: actor, action: "key.create", target: id,
                detail: "\(name) [\(request.scopes.nameList.joined(separator: ","))]")
            return (try Self.keyRecord(db, org: org, id: id)!, key)
        }
    }

    public func keys(org: String) async throws -> [KeyRecord] {
        try await read { db in
            try Array(
                Row.fetchCursor(
                    db.cachedStatement(
                        sql: "SELECT \(Self.keyColumns) FROM api_keys WHERE org_id = ? ORDER BY created_at DESC, id"),
                    arguments: [org]
                ).map(Self.keyRecord))
        }
    }

    public func revokeKey(org: String, id: String, actor: String, actorScopes: KeyScopes) async throws -> String? {
        try await write { db in
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT hash, scopes FROM api_keys WHERE org_id = ? AND id = ?"),
                    arguments: [org, id])
            else { return nil }
            let hash: String = row[0]
            // The installation's operator key (METERR_ADMIN_KEY, or the key the first start printed)
            // is revoked only by an operator: an organisation's admin cannot lock the operators out.
            if KeyScopes(rawValue: row[1]).contains(.operator) && !actorScopes.contains(.operator) {
                throw MeterrError(
                    .forbidden,
                    "this is the installation's operator key (METERR_ADMIN_KEY or the first admin key): only an "
                        + "operator key, or meterr keys revoke on the server, can revoke it")
            }
            let now = self.clock.now().milliseconds
            try db.execute(
                sql: "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND (revoked_at IS NULL OR revoked_at > ?)",
                arguments: [now, id, now])
            try self.log(db, org: org, actor: actor, action: "key.revoke", target: id, detail: nil)
            return hash
        }
    }

    public func rotateKey(org: String, id: String, graceUntil: Timestamp, actor: String) async throws
        -> (KeyRecord, String, String)?
    {
        try await write { db in
            guard let old = try Self.keyRecord(db, org: org, id: id),
                let hash = try String.fetchOne(
                    db.cachedStatement(sql: "SELECT hash FROM api_keys WHERE id = ?"), arguments: [id])
            else { return nil }
            if let revoked = old.revokedAt, revoked <= self.clock.now() {
                throw MeterrError(.conflict, "the key is revoked; create a new one")
            }
            let key = APIKey.generate()
            let newId = try self.insertKey(
                db, key: key, name: old.name, org: org, scopes: old.scopes, team: old.team, user: old.user,
                project: old.project, expiresAt: old.expiresAt)
            try db.execute(
                sql: "UPDATE api_keys SET tier = ?, rpm = ?, tpm = ? WHERE id = ?",
                arguments: [old.tier?.rawValue, old.requestsPerMinute, old.tokensPerMinute, newId])
            try db.execute(
                sql: "UPDATE api_keys SET revoked_at = ? WHERE id = ?", arguments: [graceUntil.milliseconds, id])
            try self.log(
                db, org: org, actor: actor, action: "key.rotate", target: id,
                detail: "replaced by \(newId); old key valid until \(graceUntil.rfc3339)")
            return (try Self.keyRecord(db, org: org, id: newId)!, key, hash)
        }
    }

    public func createGroup(kind: GroupKind, org: String, name: String, team: String?, actor: String) async throws
        -> NamedGroup
    {
        let name = try Self.checkedName(name, field: "name")
        return try await write { db in
            try Self.requireOrganisation(db, org)
            if let team { try Self.requireGroup(db, kind: .team, org: org, name: team, field: "team") }
            let table = kind == .team ? "teams" : "projects"
            if try Bool.fetchOne(
                db, sql: "SELECT EXISTS (SELECT 1 FROM \(table) WHERE org_id = ? AND name = ?)", arguments: [org, name])
                ?? false
            {
                throw MeterrError(.conflict, "a \(kind.rawValue) named \(name) exists", field: "name")
            }
            let group = NamedGroup(
                id: Identifier.make(kind == .team ? "team" : "prj", length: 16), orgId: org, name: name,
                team: kind == .project ? team : nil, createdAt: self.clock.now())
            if kind == .team {
                try db.execute(
                    sql: "INSERT INTO teams (id, org_id, name, created_at) VALUES (?, ?, ?, ?)",
                    arguments: [group.id, org, name, group.createdAt.milliseconds])
            } else {
                try db.execute(
                    sql: "INSERT INTO projects (id, org_id, name, team, created_at) VALUES (?, ?, ?, ?, ?)",
                    arguments: [group.id, org, name, team, group.createdAt.milliseconds])
            }
            try self.log(db, org: org, actor: actor, action: "\(kind.rawValue).create", target: group.id, detail: name)
            return group
        }
    }

    public func deleteGroup(kind: GroupKind, org: String, id: String, actor: String) async throws -> Bool {
        let table = kind == .team ? "teams" : "projects"
        return try await write { db in
            guard
                let name = try String.fetchOne(
                    db, sql: "SELECT name FROM \(table) WHERE org_id = ? AND id = ?", arguments: [org, id])
            else { return false }
            let column = kind == .team ? "team" : "project"
            var users = [(String, String)]()
            users.append(
                ("api_keys", "SELECT COUNT(*) FROM api_keys WHERE org_id = ? AND \(column) = ? AND revoked_at IS NULL"))
            if kind == .team {
                users.append(("users", "SELECT COUNT(*) FROM users WHERE org_id = ? AND team = ?"))
                users.append(("projects", "SELECT COUNT(*) FROM projects WHERE org_id = ? AND team = ?"))
                users.append(("credentials", "SELECT COUNT(*) FROM provider_credentials WHERE org_id = ? AND team = ?"))
            }
            for (what, sql) in users where (try Int.fetchOne(db, sql: sql, arguments: [org, name]) ?? 0) > 0 {
                throw MeterrError(.conflict, "\(what) still name this \(kind.rawValue); change them first")
            }
            try db.execute(sql: "DELETE FROM \(table) WHERE id = ?", arguments: [id])
            try self.log(db, org: org, actor: actor, action: "\(kind.rawValue).delete", target: id, detail: name)
            return true
        }
    }

    public func groups(kind: GroupKind, org: String) async throws -> [NamedGroup] {
        try await read { db in
            let sql =
                kind == .team
                ? "SELECT id, org_id, name, NULL, created_at FROM teams WHERE org_id = ? ORDER BY name"
                : "SELECT id, org_id, name, team, created_at FROM projects WHERE org_id = ? ORDER BY name"
            return try Row.fetchAll(db, sql: sql, arguments: [org]).map {
                NamedGroup(id: $0[0], orgId: $0[1], name: $0[2], team: $0[3], createdAt: Timestamp(milliseconds: $0[4]))
            }
        }
    }

    public func audit(org: String, limit: Int) async throws -> [AuditEntry] {
        try await read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql:
                        "SELECT at, actor, action, target, detail FROM audit_log WHERE org_id = ? ORDER BY seq DESC LIMIT ?"
                ),
                arguments: [org, limit]
            ).map {
                AuditEntry(
                    at: Timestamp(milliseconds: $0[0]), actor: $0[1], action: $0[2], target: $0[3], detail: $0[4])
            }
        }
    }

    static let keyColumns =
        "id, org_id, name, display_prefix, scopes, team, user, project, created_at, expires_at, last_used_at, revoked_at, "
        + "tier, rpm, tpm"

    static func keyRecord(_ row: Row) -> KeyRecord {
        KeyRecord(
            id: row[0], orgId: row[1], name: row[2], displayPrefix: row[3], scopes: KeyScopes(rawValue: row[4]),
            team: row[5], user: row[6], project: row[7], createdAt: Timestamp(milliseconds: row[8]),
            expiresAt: (row[9] as Int64?).map(Timestamp.init(milliseconds:)),
            lastUsedAt: (row[10] as Int64?).map(Timestamp.init(milliseconds:)),
            revokedAt: (row[11] as Int64?).map(Timestamp.init(milliseconds:)),
            tier: (row[12] as String?).flatMap(RateTier.init(rawValue:)), requestsPerMinute: row[13],
            tokensPerMinute: row[14])
    }

    static func keyRecord(_ db: Database, org: String, id: String) throws -> KeyRecord? {
        try Row.fetchOne(
            db, sql: "SELECT \(keyColumns) FROM api_keys WHERE org_id = ? AND id = ?", arguments: [org, id]
        ).map(keyRecord)
    }

    static func requireOrganisation(_ db: Database, _ org: String) throws {
        guard
            try Bool.fetchOne(
                db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM organisations WHERE id = ?)"), arguments: [org])
                ?? false
        else { throw MeterrError(.notFound, "no such organisation", field: "org") }
    }

    static func requireGroup(_ db: Database, kind: GroupKind, org: String, name: String, field: String) throws {
        let table = kind == .team ? "teams" : "projects"
        guard
            try Bool.fetchOne(
                db, sql: "SELECT EXISTS (SELECT 1 FROM \(table) WHERE org_id = ? AND name = ?)", arguments: [org, name])
                ?? false
        else { throw MeterrError.invalid(field, "no \(kind.rawValue) named \(name) in this organisation") }
    }

    /// Names are 1 to 128 characters without control characters; stored as given otherwise.
    package static func checkedName(_ name: String, field: String) throws -> String {
        guard !name.isEmpty, name.utf8.count <= 128,
            !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else { throw MeterrError.invalid(field, "must be 1 to 128 characters without control characters") }
        return name
    }

    /// A provider key as it may be stored: 1 to 4096 characters, none of them control characters (it
    /// goes into a header as it is).
    package static func checkedSecret(_ secret: String) throws -> String {
        guard !secret.isEmpty, secret.utf8.count <= 4096, !secret.unicodeScalars.contains(where: { $0.value < 0x20 })
        else { throw MeterrError.invalid("key", "must be 1 to 4096 printable characters") }
        return secret
    }

    /// A person's email in its stored form: trimmed, lower case.
    package static func normalEmail(_ email: String) -> String {
        email.trimmingCharacters(in: .whitespaces).lowercased()
    }

    /// A person's email in its stored form, if it looks like an address.
    package static func checkedEmail(_ email: String) throws -> String {
        let email = normalEmail(email)
        guard email.utf8.count <= 254, let at = email.firstIndex(of: "@"), at != email.startIndex,
            email[email.index(after: at)...].contains("."), !email.contains(where: { $0 == " " || $0 == "\n" })
        else { throw MeterrError.invalid("email", "must be an email address") }
        return email
    }

    func log(_ db: Database, org: String, actor: String, action: String, target: String?, detail: String?) throws {
        try db.execute(
            sql: "INSERT INTO audit_log (org_id, at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [org, self.clock.now().milliseconds, actor, action, target, detail])
    }

    @discardableResult
    func insertKey(
        _ db: Database, key: String, name: String, org: String, scopes: KeyScopes = .all, team: String? = nil,
        user: String? = nil, project: String? = nil, expiresAt: Timestamp? = nil
    ) throws -> String {
        let id = Identifier.make("key", length: 16)
        try db.execute(
            sql: """
                INSERT INTO api_keys (id, org_id, name, display_prefix, hash, scopes, created_at, team, user, project,
                    expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                id, org, name, APIKey.displayPrefix(key), APIKey.hash(key), scopes.rawValue,
                self.clock.now().milliseconds, team, user, project, expiresAt?.milliseconds,
            ])
        return id
    }
}
