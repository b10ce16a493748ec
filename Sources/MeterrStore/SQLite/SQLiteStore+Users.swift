import Foundation
import GRDB
import MeterrCore

extension SQLiteStore: UserStore {
    static let userColumns = "id, org_id, email, name, role, team, password_hash IS NOT NULL, created_at"

    static func user(_ row: Row) -> UserRecord {
        UserRecord(
            id: row[0], orgId: row[1], email: row[2], name: row[3], role: Role(rawValue: row[4]) ?? .viewer,
            team: row[5], hasPassword: row[6], createdAt: Timestamp(milliseconds: row[7]))
    }

    public func createUser(
        org: String, email: String, name: String?, role: Role, team: String?, passwordHash: String?, actor: String
    ) async throws -> UserRecord {
        let email = try Self.checkedEmail(email)
        if let name { _ = try Self.checkedName(name, field: "name") }
        return try await write { db in
            try Self.requireOrganisation(db, org)
            if let team { try Self.requireGroup(db, kind: .team, org: org, name: team, field: "team") }
            if try Bool.fetchOne(
                db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM users WHERE org_id = ? AND email = ?)"),
                arguments: [org, email])
                ?? false
            {
                throw MeterrError(.conflict, "\(email) is already a member", field: "email")
            }
            let record = UserRecord(
                id: Identifier.make("usr", length: 16), orgId: org, email: email, name: name, role: role, team: team,
                hasPassword: passwordHash != nil, createdAt: self.clock.now())
            try db.execute(
                sql: """
                    INSERT INTO users (id, org_id, email, name, role, team, password_hash, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    record.id, org, email, name, role.rawValue, team, passwordHash, record.createdAt.milliseconds,
                ])
            try self.log(
                db, org: org, actor: actor, action: "user.create", target: record.id,
                detail: "\(email) as \(role.rawValue)")
            return record
        }
    }

    public func users(org: String) async throws -> [UserRecord] {
        try await read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: "SELECT \(Self.userColumns) FROM users WHERE org_id = ? ORDER BY email"),
                arguments: [org]
            ).map(Self.user)
        }
    }

    public func setRole(org: String, id: String, role: Role, actor: String) async throws -> UserRecord? {
        try await write { db in
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT \(Self.userColumns) FROM users WHERE org_id = ? AND id = ?"),
                    arguments: [org, id])
            else { return nil }
            var user = Self.user(row)
            if user.role == .owner && role != .owner {
                let owners =
                    try Int.fetchOne(
                        db.cachedStatement(sql: "SELECT COUNT(*) FROM users WHERE org_id = ? AND role = 'owner'"),
                        arguments: [org])
                    ?? 0
                if owners <= 1 {
                    throw MeterrError(.conflict, "an organisation keeps at least one owner", field: "role")
                }
            }
            try db.execute(sql: "UPDATE users SET role = ? WHERE id = ?", arguments: [role.rawValue, id])
            try self.log(
                db, org: org, actor: actor, action: "user.role", target: id,
                detail: "\(user.role.rawValue) → \(role.rawValue)")
            user.role = role
            return user
        }
    }

    public func deleteUser(org: String, id: String, actor: String) async throws -> Bool {
        try await write { db in
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT \(Self.userColumns) FROM users WHERE org_id = ? AND id = ?"),
                    arguments: [org, id])
            else { return false }
            let user = Self.user(row)
            if user.role == .owner {
                let owners =
                    try Int.fetchOne(
                        db.cachedStatement(sql: "SELECT COUNT(*) FROM users WHERE org_id = ? AND role = 'owner'"),
                        arguments: [org])
                    ?? 0
                if owners <= 1 { throw MeterrError(.conflict, "an organisation keeps at least one owner") }
            }
            try db.execute(sql: "DELETE FROM sessions WHERE user_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM users WHERE id = ?", arguments: [id])
            try self.log(db, org: org, actor: actor, action: "user.delete", target: id, detail: user.email)
            return true
        }
    }

    public func userForSignIn(email: String) async throws -> [(UserRecord, String)] {
        let email = Self.normalEmail(email)
        return try await read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql:
                        "SELECT \(Self.userColumns), password_hash FROM users WHERE email = ? AND password_hash IS NOT NULL"
                ),
                arguments: [email]
            ).map { (Self.user($0), $0[8]) }
        }
    }

    public func createSession(tokenHash: String, user: UserRecord, csrfToken: String, expiresAt: Timestamp) async throws
    {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO sessions (hash, user_id, org_id, csrf_token, created_at, expires_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    tokenHash, user.id, user.orgId, csrfToken, self.clock.now().milliseconds, expiresAt.milliseconds,
                ])
        }
    }

    public func session(tokenHash: String) async throws -> (UserRecord, String)? {
        let now = self.clock.now().milliseconds
        return try await read { db in
            try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT u.id, u.org_id, u.email, u.name, u.role, u.team, u.password_hash IS NOT NULL, u.created_at,
                            s.csrf_token
                        FROM sessions s JOIN users u ON u.id = s.user_id
                        WHERE s.hash = ? AND s.expires_at > ?
                        """),
                arguments: [tokenHash, now]
            ).map { (Self.user($0), $0[8]) }
        }
    }

    public func deleteSession(tokenHash: String) async throws {
        try await write { db in try db.execute(sql: "DELETE FROM sessions WHERE hash = ?", arguments: [tokenHash]) }
    }
}
