import Logging
import MeterrCore
import MeterrStore
import PostgresNIO

extension PostgresStore: AccountStore {
    /// The advisory lock under which organisations are made (`'meterr'` then `'a'`): nodes starting
    /// together make one default organisation and one admin key, as SQLite's single writer does.
    static let organisationsLockKey: Int64 = PostgresMigrations.lockKey << 8 | 0x61

    public func bootstrap(adminKey: String?) async throws -> BootstrapResult {
        if let adminKey, !APIKey.isWellFormed(adminKey) {
            throw MeterrError(
                .configuration, "METERR_ADMIN_KEY must start with mk_ and be 20 to 128 printable characters")
        }
        return try await acrossOrganisations { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.organisationsLockKey))", logger: logger)
            let now = clock.now().milliseconds
            let organisation: Organisation
            let first = try await collect(
                "SELECT org, name FROM organisations ORDER BY created_at, org COLLATE \"C\" LIMIT 1", on: connection
            ) { try $0.decode((String, String).self) }.first
            if let first {
                organisation = Organisation(id: first.0, name: first.1)
            } else {
                organisation = Organisation(id: Identifier.make("org", length: 16), name: "Default")
                try await connection.query(
                    """
                    INSERT INTO organisations (org, name, created_at) VALUES (\(organisation.id), \(organisation.name), \(now))
                    """, logger: logger)
            }
            let hasAdmin = try await exists(
                """
                SELECT EXISTS (SELECT 1 FROM api_keys
                    WHERE scopes & \(Int64(KeyScopes.admin.rawValue)) <> 0 AND revoked_at IS NULL)
                """, on: connection)
            var created: String?
            if let adminKey {
                let known = try await collect(
                    "SELECT revoked_at FROM api_keys WHERE hash = \(APIKey.hash(adminKey))", on: connection
                ) { try $0.decode(Int64?.self) }
                if let revoked = known.first ?? nil, revoked <= now {
                    throw MeterrError(
                        .configuration,
                        "METERR_ADMIN_KEY was revoked on \(Timestamp(milliseconds: revoked).rfc3339): set a new key, "
                            + "or unset METERR_ADMIN_KEY to sign in with another admin key")
                }
                if known.isEmpty {
                    try await insertKey(
                        on: connection, key: adminKey, name: "METERR_ADMIN_KEY", org: organisation.id,
                        scopes: [.all, .operator])
                }
            } else if !hasAdmin {
                let key = APIKey.generate()
                try await insertKey(
                    on: connection, key: key, name: "admin", org: organisation.id, scopes: [.all, .operator])
                created = key
            }
            return BootstrapResult(organisation: organisation, createdAdminKey: created)
        }
    }

    public func principal(forKey key: String) async throws -> Principal? {
        let now = clock.now().milliseconds
        let hash = Array(APIKey.hash(key).utf8)
        let prefix = APIKey.displayPrefix(key)
        // Before the key is known its organisation is not: the lookup crosses organisations.
        let candidates = try await acrossOrganisations { connection in
            try await collect(
                """
                SELECT k.id, k.org, k.scopes, k.team, k."user", k.project, k.expires_at, k.revoked_at,
                    COALESCE(k.tier, o.tier), k.rpm, k.tpm, k.hash
                FROM api_keys k JOIN organisations o ON o.org = k.org
                WHERE k.display_prefix = \(prefix) AND (k.revoked_at IS NULL OR k.revoked_at > \(now))
                    AND (k.expires_at IS NULL OR k.expires_at > \(now))
                """, on: connection
            ) {
                try $0.decode(
                    (String, String, Int64, String?, String?, String?, Int64?, Int64?, String, Int64?, Int64?, String)
                        .self)
            }
        }
        guard let row = candidates.first(where: { APIKey.constantTimeEqual(Array($0.11.utf8), hash) }) else {
            return nil
        }
        let ends = [row.6, row.7].compactMap { $0 }.min()
        return Principal(
            orgId: row.1, keyId: row.0, scopes: KeyScopes(rawValue: Int(row.2)), team: row.3, user: row.4,
            project: row.5, validUntil: ends.map(Timestamp.init(milliseconds:)),
            limits: RateLimits(
                tier: RateTier(rawValue: row.8) ?? .unlimited, requestsPerMinute: row.9.map(Int.init),
                tokensPerMinute: row.10.map(Int.init)))
    }

    public func markUsed(keyIds: [String], at: Timestamp) async throws {
        if keyIds.isEmpty { return }
        // A batch holds keys of several organisations; rows are locked in id order, so two nodes'
        // batches never deadlock.
        try await acrossOrganisations { connection in
            _ = try await connection.query(
                """
                UPDATE api_keys SET last_used_at = \(at.milliseconds)
                WHERE id IN (SELECT id FROM api_keys WHERE id = ANY(\(keyIds)) ORDER BY id FOR UPDATE)
                """, logger: logger)
        }
    }

    public func createOrganisation(name: String, actor: String) async throws -> (Organisation, String) {
        let name = try SQLiteStore.checkedName(name, field: "name")
        return try await acrossOrganisations { connection in
            // One at a time, so two nodes never both make an organisation of the same name.
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.organisationsLockKey))", logger: logger)
            if try await exists("SELECT EXISTS (SELECT 1 FROM organisations WHERE name = \(name))", on: connection) {
                throw MeterrError(.conflict, "an organisation named \(name) exists", field: "name")
            }
            let organisation = Organisation(id: Identifier.make("org", length: 16), name: name)
            try await connection.query(
                """
                INSERT INTO organisations (org, name, created_at)
                VALUES (\(organisation.id), \(name), \(clock.now().milliseconds))
                """, logger: logger)
            let key = APIKey.generate()
            try await insertKey(on: connection, key: key, name: "admin", org: organisation.id)
            try await log(
                on: connection, org: organisation.id, actor: actor, action: "org.create", target: organisation.id,
                detail: name)
            return (organisation, key)
        }
    }

    public func organisations() async throws -> [Organisation] {
        try await acrossOrganisations { connection in
            try await collect(
                "SELECT org, name FROM organisations ORDER BY created_at, org COLLATE \"C\"", on: connection
            ) {
                let (id, name) = try $0.decode((String, String).self)
                return Organisation(id: id, name: name)
            }
        }
    }

    public func setTier(org: String, tier: RateTier, actor: String) async throws {
        try await tenant(org) { connection in
            try await requireOrganisation(org, on: connection)
            try await connection.query(
                "UPDATE organisations SET tier = \(tier.rawValue) WHERE org = \(org)", logger: logger)
            try await log(
                on: connection, org: org, actor: actor, action: "org.tier", target: org, detail: tier.rawValue)
        }
    }

    public func createKey(org: String, _ request: KeyRequest, actor: String) async throws -> (KeyRecord, String) {
        let name = try SQLiteStore.checkedName(request.name, field: "name")
        for (field, value) in [("rpm", request.requestsPerMinute), ("tpm", request.tokensPerMinute)] {
            if let value, value < 1 { throw MeterrError.invalid(field, "must be at least 1") }
        }
        if request.scopes.isEmpty { throw MeterrError.invalid("scopes", "must name at least one scope") }
        if let expiry = request.expiresAt, expiry <= clock.now() {
            throw MeterrError.invalid("expires_at", "must be in the future")
        }
        return try await tenant(org) { connection in
            try await requireOrganisation(org, on: connection)
            if let team = request.team {
                try await requireGroup(.team, org: org, name: team, field: "team", on: connection)
            }
            if let project = request.project {
                try await requireGroup(.project, org: org, name: project, field: "project", on: connection)
            }
            let key = APIKey.generate()
            let id = try await insertKey(
                on: connection, key: key, name: name, org: org, scopes: request.scopes, team: request.team,
                user: request.user, project: request.project, expiresAt: request.expiresAt, tier: request.tier,
                requestsPerMinute: request.requestsPerMinute, tokensPerMinute: request.tokensPerMinute)
            try await log(
                on: connection, org: org, actor: actor, action: "key.create", target: id,
                detail: "\(name) [\(request.scopes.nameList.joined(separator: ","))]")
            guard let record = try await keyRecord(org: org, id: id, on: connection) else {
                throw MeterrError(.internal, "a key just made was not found")
            }
            return (record, key)
        }
    }

    public func keys(org: String) async throws -> [KeyRecord] {
        try await tenant(org) { connection in
            try await collect(
                """
                SELECT \(unescaped: Self.keyColumns) FROM api_keys WHERE org = \(org)
                ORDER BY created_at DESC, id COLLATE "C"
                """, on: connection, Self.keyRecord)
        }
    }

    public func revokeKey(org: String, id: String, actor: String, actorScopes: KeyScopes) async throws -> String? {
        try await tenant(org) { connection in
            // Locked, so a rotation at the same moment on another node waits for this revocation.
            guard
                let row = try await collect(
                    "SELECT hash, scopes FROM api_keys WHERE org = \(org) AND id = \(id) FOR UPDATE", on: connection,
                    { try $0.decode((String, Int64).self) }
                ).first
            else { return nil }
            let (hash, scopes) = row
            // The installation's operator key (METERR_ADMIN_KEY, or the key the first start printed)
            // is revoked only by an operator: an organisation's admin cannot lock the operators out.
            if KeyScopes(rawValue: Int(scopes)).contains(.operator) && !actorScopes.contains(.operator) {
                throw MeterrError(
                    .forbidden,
                    "this is the installation's operator key (METERR_ADMIN_KEY or the first admin key): only an "
                        + "operator key, or meterr keys revoke on the server, can revoke it")
            }
            let now = clock.now().milliseconds
            try await connection.query(
                """
                UPDATE api_keys SET revoked_at = \(now)
                WHERE org = \(org) AND id = \(id) AND (revoked_at IS NULL OR revoked_at > \(now))
                """, logger: logger)
            try await log(on: connection, org: org, actor: actor, action: "key.revoke", target: id, detail: nil)
            return hash
        }
    }

    public func rotateKey(org: String, id: String, graceUntil: Timestamp, actor: String) async throws
        -> (KeyRecord, String, String)?
    {
        try await tenant(org) { connection in
            guard let old = try await keyRecord(org: org, id: id, on: connection, locking: true),
                let hash = try await collect(
                    "SELECT hash FROM api_keys WHERE org = \(org) AND id = \(id)", on: connection,
                    { try $0.decode(String.self) }
                ).first
            else { return nil }
            if let revoked = old.revokedAt, revoked <= clock.now() {
                throw MeterrError(.conflict, "the key is revoked; create a new one")
            }
            let key = APIKey.generate()
            let newId = try await insertKey(
                on: connection, key: key, name: old.name, org: org, scopes: old.scopes, team: old.team,
                user: old.user, project: old.project, expiresAt: old.expiresAt, tier: old.tier,
                requestsPerMinute: old.requestsPerMinute, tokensPerMinute: old.tokensPerMinute)
            try await connection.query(
                "UPDATE api_keys SET revoked_at = \(graceUntil.milliseconds) WHERE org = \(org) AND id = \(id)",
                logger: logger)
            try await log(
                on: connection, org: org, actor: actor, action: "key.rotate", target: id,
                detail: "replaced by \(newId); old key valid until \(graceUntil.rfc3339)")
            guard let record = try await keyRecord(org: org, id: newId, on: connection) else {
                throw MeterrError(.internal, "a key just made was not found")
            }
            return (record, key, hash)
        }
    }

    public func createGroup(kind: GroupKind, org: String, name: String, team: String?, actor: String) async throws
        -> NamedGroup
    {
        let name = try SQLiteStore.checkedName(name, field: "name")
        let duplicate = MeterrError(.conflict, "a \(kind.rawValue) named \(name) exists", field: "name")
        return try await tenant(org) { connection in
            try await requireOrganisation(org, on: connection)
            if let team { try await requireGroup(.team, org: org, name: team, field: "team", on: connection) }
            if try await exists(
                "SELECT EXISTS (SELECT 1 FROM \(unescaped: Self.table(kind)) WHERE org = \(org) AND name = \(name))",
                on: connection)
            {
                throw duplicate
            }
            let group = NamedGroup(
                id: Identifier.make(kind == .team ? "team" : "prj", length: 16), orgId: org, name: name,
                team: kind == .project ? team : nil, createdAt: clock.now())
            let insert: PostgresQuery =
                kind == .team
                ? """
                INSERT INTO teams (id, org, name, created_at)
                VALUES (\(group.id), \(org), \(name), \(group.createdAt.milliseconds))
                """
                : """
                INSERT INTO projects (id, org, name, team, created_at)
                VALUES (\(group.id), \(org), \(name), \(team), \(group.createdAt.milliseconds))
                """
            do {
                try await connection.query(insert, logger: logger)
            } catch  where Self.sqlState(of: error) == "23505" {
                // Another node made a group of this name since the check above.
                throw duplicate
            }
            try await log(
                on: connection, org: org, actor: actor, action: "\(kind.rawValue).create", target: group.id,
                detail: name)
            return group
        }
    }

    public func deleteGroup(kind: GroupKind, org: String, id: String, actor: String) async throws -> Bool {
        let column = kind == .team ? "team" : "project"
        return try await tenant(org) { connection in
            // The group's row stays locked to the end: a key or person naming it meanwhile waits, then
            // finds it gone (requireGroup reads it FOR SHARE).
            guard
                let name = try await collect(
                    "SELECT name FROM \(unescaped: Self.table(kind)) WHERE org = \(org) AND id = \(id) FOR UPDATE",
                    on: connection, { try $0.decode(String.self) }
                ).first
            else { return false }
            var users: [(String, PostgresQuery)] = [
                (
                    "api_keys",
                    """
                    SELECT count(*) FROM api_keys
                    WHERE org = \(org) AND \(unescaped: column) = \(name) AND revoked_at IS NULL
                    """
                )
            ]
            if kind == .team {
                users.append(("users", "SELECT count(*) FROM users WHERE org = \(org) AND team = \(name)"))
                users.append(("projects", "SELECT count(*) FROM projects WHERE org = \(org) AND team = \(name)"))
                users.append(
                    ("credentials", "SELECT count(*) FROM provider_credentials WHERE org = \(org) AND team = \(name)"))
            }
            for (what, query) in users {
                let count = try await collect(query, on: connection) { try $0.decode(Int64.self) }.first ?? 0
                if count > 0 {
                    throw MeterrError(.conflict, "\(what) still name this \(kind.rawValue); change them first")
                }
            }
            try await connection.query(
                "DELETE FROM \(unescaped: Self.table(kind)) WHERE org = \(org) AND id = \(id)", logger: logger)
            try await log(
                on: connection, org: org, actor: actor, action: "\(kind.rawValue).delete", target: id, detail: name)
            return true
        }
    }

    public func groups(kind: GroupKind, org: String) async throws -> [NamedGroup] {
        try await tenant(org) { connection in
            try await collect(
                """
                SELECT id, org, name, \(unescaped: kind == .team ? "NULL::text" : "team"), created_at
                FROM \(unescaped: Self.table(kind)) WHERE org = \(org) ORDER BY name COLLATE "C"
                """, on: connection
            ) {
                let (id, org, name, team, createdAt) = try $0.decode((String, String, String, String?, Int64).self)
                return NamedGroup(
                    id: id, orgId: org, name: name, team: team, createdAt: Timestamp(milliseconds: createdAt))
            }
        }
    }

    public func audit(org: String, limit: Int) async throws -> [AuditEntry] {
        // SQLite reads a negative limit as none.
        let limit = limit < 0 ? nil : Int64(limit)
        return try await tenant(org) { connection in
            try await collect(
                """
                SELECT at, actor, action, target, detail FROM audit_log WHERE org = \(org)
                ORDER BY seq DESC LIMIT \(limit)
                """, on: connection
            ) {
                let (at, actor, action, target, detail) = try $0.decode((Int64, String, String, String?, String?).self)
                return AuditEntry(
                    at: Timestamp(milliseconds: at), actor: actor, action: action, target: target, detail: detail)
            }
        }
    }
}

extension PostgresStore {
    static let keyColumns = """
        id, org, name, display_prefix, scopes, team, "user", project, created_at, expires_at, last_used_at, \
        revoked_at, tier, rpm, tpm
        """

    static func keyRecord(_ row: PostgresRow) throws -> KeyRecord {
        let (id, org, name, prefix, scopes, team, user, project, created, expires, lastUsed, revoked, tier, rpm, tpm) =
            try row.decode(
                (
                    String, String, String, String, Int64, String?, String?, String?, Int64, Int64?, Int64?, Int64?,
                    String?, Int64?, Int64?
                ).self)
        return KeyRecord(
            id: id, orgId: org, name: name, displayPrefix: prefix, scopes: KeyScopes(rawValue: Int(scopes)),
            team: team, user: user, project: project, createdAt: Timestamp(milliseconds: created),
            expiresAt: expires.map(Timestamp.init(milliseconds:)),
            lastUsedAt: lastUsed.map(Timestamp.init(milliseconds:)),
            revokedAt: revoked.map(Timestamp.init(milliseconds:)), tier: tier.flatMap(RateTier.init(rawValue:)),
            requestsPerMinute: rpm.map(Int.init), tokensPerMinute: tpm.map(Int.init))
    }

    /// A key of `org`; `locking` holds its row to the transaction's end.
    func keyRecord(org: String, id: String, on connection: PostgresConnection, locking: Bool = false) async throws
        -> KeyRecord?
    {
        try await collect(
            """
            SELECT \(unescaped: Self.keyColumns) FROM api_keys WHERE org = \(org) AND id = \(id)
            \(unescaped: locking ? "FOR UPDATE" : "")
            """, on: connection, Self.keyRecord
        ).first
    }

    static func table(_ kind: GroupKind) -> String { kind == .team ? "teams" : "projects" }

    /// Throws `notFound` unless `org` exists (the caller's transaction sees only `org`, or all).
    func requireOrganisation(_ org: String, on connection: PostgresConnection) async throws {
        guard try await exists("SELECT EXISTS (SELECT 1 FROM organisations WHERE org = \(org))", on: connection)
        else { throw MeterrError(.notFound, "no such organisation", field: "org") }
    }

    /// Throws `invalidRequest` on `field` unless `org` has a team or project named `name`. The row is
    /// read `FOR SHARE`, so the group cannot be deleted before the caller's transaction ends.
    func requireGroup(
        _ kind: GroupKind, org: String, name: String, field: String, on connection: PostgresConnection
    ) async throws {
        let found = try await collect(
            "SELECT 1::bigint FROM \(unescaped: Self.table(kind)) WHERE org = \(org) AND name = \(name) FOR SHARE",
            on: connection, { try $0.decode(Int64.self) })
        if found.isEmpty {
            throw MeterrError.invalid(field, "no \(kind.rawValue) named \(name) in this organisation")
        }
    }

    /// Stores a key as SQLite's `insertKey` does (its display prefix and SHA-256, never the key); returns its id.
    @discardableResult
    func insertKey(
        on connection: PostgresConnection, key: String, name: String, org: String, scopes: KeyScopes = .all,
        team: String? = nil, user: String? = nil, project: String? = nil, expiresAt: Timestamp? = nil,
        tier: RateTier? = nil, requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil
    ) async throws -> String {
        let id = Identifier.make("key", length: 16)
        try await connection.query(
            """
            INSERT INTO api_keys (id, org, name, display_prefix, hash, scopes, created_at, team, "user", project,
                expires_at, tier, rpm, tpm)
            VALUES (\(id), \(org), \(name), \(APIKey.displayPrefix(key)), \(APIKey.hash(key)), \(Int64(scopes.rawValue)),
                \(clock.now().milliseconds), \(team), \(user), \(project), \(expiresAt?.milliseconds),
                \(tier?.rawValue), \(requestsPerMinute.map(Int64.init)), \(tokensPerMinute.map(Int64.init)))
            """, logger: logger)
        return id
    }

    /// The rows of `query`, each decoded by `decode`.
    func collect<Row>(
        _ query: PostgresQuery, on connection: PostgresConnection, _ decode: (PostgresRow) throws -> Row
    ) async throws -> [Row] {
        var rows: [Row] = []
        for try await row in try await connection.query(query, logger: logger) { rows.append(try decode(row)) }
        return rows
    }

    /// The one boolean `query` selects.
    func exists(_ query: PostgresQuery, on connection: PostgresConnection) async throws -> Bool {
        try await collect(query, on: connection) { try $0.decode(Bool.self) }.first ?? false
    }
}
