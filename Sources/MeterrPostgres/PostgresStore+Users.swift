import Foundation
import Logging
import MeterrCore
import MeterrStore
import PostgresNIO

/// People and their sessions. Signing in by email and reading a session by its token's hash happen
/// before the organisation is known, so those cross organisations.
extension PostgresStore {
    static let userColumns = "id, org, email, name, role, team, password_hash IS NOT NULL, created_at"

    static func user(_ row: PostgresRow) throws -> UserRecord {
        let (id, org, email, name, role, team, hasPassword, createdAt) = try row.decode(
            (String, String, String, String?, String, String?, Bool, Int64).self)
        return UserRecord(
            id: id, orgId: org, email: email, name: name, role: Role(rawValue: role) ?? .viewer, team: team,
            hasPassword: hasPassword, createdAt: Timestamp(milliseconds: createdAt))
    }

    public func createUser(
        org: String, email: String, name: String?, role: Role, team: String?, passwordHash: String?, actor: String
    ) async throws -> UserRecord {
        let email = try SQLiteStore.checkedEmail(email)
        if let name { _ = try SQLiteStore.checkedName(name, field: "name") }
        let member = MeterrError(.conflict, "\(email) is already a member", field: "email")
        return try await tenant(org) { connection in
            try await requireOrganisation(org, on: connection)
            if let team { try await requireGroup(.team, org: org, name: team, field: "team", on: connection) }
            if try await exists(
                "SELECT EXISTS (SELECT 1 FROM users WHERE org = \(org) AND email = \(email))", on: connection)
            {
                throw member
            }
            let record = UserRecord(
                id: Identifier.make("usr", length: 16), orgId: org, email: email, name: name, role: role, team: team,
                hasPassword: passwordHash != nil, createdAt: clock.now())
            do {
                try await connection.query(
                    """
                    INSERT INTO users (id, org, email, name, role, team, password_hash, created_at)
                    VALUES (\(record.id), \(org), \(email), \(name), \(role.rawValue), \(team), \(passwordHash),
                        \(record.createdAt.milliseconds))
                    """, logger: logger)
            } catch  where Self.sqlState(of: error) == "23505" {
                // Another node added this email since the check above.
                throw member
            }
            try await log(
                on: connection, org: org, actor: actor, action: "user.create", target: record.id,
                detail: "\(email) as \(role.rawValue)")
            return record
        }
    }

    public func users(org: String) async throws -> [UserRecord] {
        try await tenant(org) { connection in
            try await collect(
                """
                SELECT \(unescaped: Self.userColumns) FROM users WHERE org = \(org) ORDER BY email COLLATE "C"
                """, on: connection, Self.user)
        }
    }

    public func setRole(org: String, id: String, role: Role, actor: String) async throws -> UserRecord? {
        try await tenant(org) { connection in
            guard var user = try await userRecord(org: org, id: id, on: connection) else { return nil }
            if user.role == .owner && role != .owner {
                if try await lockOwners(org: org, on: connection) <= 1 {
                    throw MeterrError(.conflict, "an organisation keeps at least one owner", field: "role")
                }
            }
            try await connection.query(
                "UPDATE users SET role = \(role.rawValue) WHERE org = \(org) AND id = \(id)", logger: logger)
            try await log(
                on: connection, org: org, actor: actor, action: "user.role", target: id,
                detail: "\(user.role.rawValue) → \(role.rawValue)")
            user.role = role
            return user
        }
    }

    public func deleteUser(org: String, id: String, actor: String) async throws -> Bool {
        try await tenant(org) { connection in
            guard let user = try await userRecord(org: org, id: id, on: connection) else { return false }
            if user.role == .owner {
                if try await lockOwners(org: org, on: connection) <= 1 {
                    throw MeterrError(.conflict, "an organisation keeps at least one owner")
                }
            }
            try await connection.query("DELETE FROM sessions WHERE org = \(org) AND user_id = \(id)", logger: logger)
            try await connection.query("DELETE FROM users WHERE org = \(org) AND id = \(id)", logger: logger)
            try await log(on: connection, org: org, actor: actor, action: "user.delete", target: id, detail: user.email)
            return true
        }
    }

    public func userForSignIn(email: String) async throws -> [(UserRecord, String)] {
        let email = SQLiteStore.normalEmail(email)
        return try await acrossOrganisations { connection in
            try await collect(
                """
                SELECT \(unescaped: Self.userColumns), password_hash FROM users
                WHERE email = \(email) AND password_hash IS NOT NULL ORDER BY created_at, id COLLATE "C"
                """, on: connection
            ) { row in
                let columns = Array(row)
                return (try Self.user(row), try columns[8].decode(String.self))
            }
        }
    }

    public func createSession(tokenHash: String, user: UserRecord, csrfToken: String, expiresAt: Timestamp) async throws
    {
        try await tenant(user.orgId) { connection in
            try await connection.query(
                """
                INSERT INTO sessions (hash, user_id, org, csrf_token, created_at, expires_at)
                VALUES (\(tokenHash), \(user.id), \(user.orgId), \(csrfToken), \(clock.now().milliseconds),
                    \(expiresAt.milliseconds))
                """, logger: logger)
        }
    }

    public func session(tokenHash: String) async throws -> (UserRecord, String)? {
        let now = clock.now().milliseconds
        return try await acrossOrganisations { connection in
            try await collect(
                """
                SELECT u.id, u.org, u.email, u.name, u.role, u.team, u.password_hash IS NOT NULL, u.created_at,
                    s.csrf_token
                FROM sessions s JOIN users u ON u.id = s.user_id
                WHERE s.hash = \(tokenHash) AND s.expires_at > \(now)
                """, on: connection
            ) { row in
                let columns = Array(row)
                return (try Self.user(row), try columns[8].decode(String.self))
            }.first
        }
    }

    public func deleteSession(tokenHash: String) async throws {
        try await acrossOrganisations { connection in
            _ = try await connection.query("DELETE FROM sessions WHERE hash = \(tokenHash)", logger: logger)
        }
    }

    func userRecord(org: String, id: String, on connection: PostgresConnection) async throws -> UserRecord? {
        try await collect(
            "SELECT \(unescaped: Self.userColumns) FROM users WHERE org = \(org) AND id = \(id)", on: connection,
            Self.user
        ).first
    }

    /// Locks the organisation's owners (in id order, so concurrent changes never deadlock) and counts
    /// them: two nodes demoting or removing the last two owners at once cannot leave none.
    func lockOwners(org: String, on connection: PostgresConnection) async throws -> Int {
        try await collect(
            "SELECT id FROM users WHERE org = \(org) AND role = 'owner' ORDER BY id FOR UPDATE", on: connection,
            { try $0.decode(String.self) }
        ).count
    }
}
