import Foundation
import MeterrCore
import MeterrStore
import PostgresNIO
import Synchronization
import Testing

@testable import MeterrPostgres

/// Organisations, keys, groups, people, sessions and credentials, the same on every database: each
/// test runs on SQLite and on PostgreSQL.
@Suite("Accounts, people and credentials on SQLite and PostgreSQL")
struct AccountConformanceTests {
    /// A clock the test moves by hand.
    final class Clock: Sendable {
        private let now = Mutex(Timestamp(rfc3339: "2026-12-15T12:00:00Z")!)
        var wall: WallClock { WallClock { self.now.withLock { $0 } } }
        var time: Timestamp { now.withLock { $0 } }
        func advance(seconds: Int64) { now.withLock { $0 = $0.adding(milliseconds: seconds * 1000) } }
    }

    typealias Accounts = any AccountStore & CredentialStore & UserStore

    /// Throws unless `body` throws a `MeterrError` of `code` (and `field`, when given).
    func expectError(
        _ code: MeterrError.Code, field: String? = nil, sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () async throws -> Void
    ) async {
        do {
            try await body()
            Issue.record("expected a \(code) error", sourceLocation: sourceLocation)
        } catch let error as MeterrError {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            if let field { #expect(error.field == field, "\(error)", sourceLocation: sourceLocation) }
        } catch {
            Issue.record("expected a \(code) error, got \(String(reflecting: error))", sourceLocation: sourceLocation)
        }
    }

    @Test(
        "The first start makes one default organisation and one operator key; later starts make none",
        arguments: StoreDatabase.available)
    func bootstrap(_ database: StoreDatabase) async throws {
        let clock = Clock()
        try await database.withStore(as: Accounts.self, clock: clock.wall) { store in
            let first = try await store.bootstrap(adminKey: nil)
            #expect(first.organisation.name == "Default")
            let key = try #require(first.createdAdminKey)
            let principal = try #require(try await store.principal(forKey: key))
            #expect(principal.orgId == first.organisation.id && principal.scopes == [.all, .operator])
            #expect(principal.validUntil == nil && principal.limits == RateLimits())
            clock.advance(seconds: 60)
            let again = try await store.bootstrap(adminKey: nil)
            #expect(again.organisation == first.organisation && again.createdAdminKey == nil)
            #expect(try await store.organisations() == [first.organisation])
            #expect(try await store.keys(org: first.organisation.id).map(\.name) == ["admin"])

            // METERR_ADMIN_KEY is installed once, as an operator key, beside the printed one.
            await expectError(.configuration) { _ = try await store.bootstrap(adminKey: "mk_short") }
            let installed = "mk_" + String(repeating: "A1b2", count: 10)
            #expect(try await store.bootstrap(adminKey: installed).createdAdminKey == nil)
            #expect(try await store.bootstrap(adminKey: installed).organisation == first.organisation)
            let keys = try await store.keys(org: first.organisation.id)
            #expect(keys.map(\.name) == ["METERR_ADMIN_KEY", "admin"])
            #expect(keys[0].displayPrefix == "mk_A1b2A1" && keys[0].scopes == [.all, .operator])
            #expect(try await store.principal(forKey: installed)?.keyId == keys[0].id)

            // Once revoked it stays revoked: the start refuses it rather than installing it again.
            _ = try await store.revokeKey(
                org: first.organisation.id, id: keys[0].id, actor: "cli", actorScopes: [.all, .operator])
            await expectError(.configuration) { _ = try await store.bootstrap(adminKey: installed) }
            #expect(try await store.principal(forKey: installed) == nil)
        }
    }

    @Test(
        "Keys are found by prefix and hash with their attribution and limits; revoked, expired and unknown keys are not",
        arguments: StoreDatabase.available)
    func principals(_ database: StoreDatabase) async throws {
        let clock = Clock()
        try await database.withStore(as: Accounts.self, clock: clock.wall) { store in
            let (org, _) = try await store.createOrganisation(name: "Acme", actor: "cli")
            let (other, otherAdmin) = try await store.createOrganisation(name: "Other", actor: "cli")
            _ = try await store.createGroup(kind: .team, org: org.id, name: "ml", team: nil, actor: "key_x")
            _ = try await store.createGroup(kind: .project, org: org.id, name: "search", team: "ml", actor: "key_x")
            try await store.setTier(org: org.id, tier: .pro, actor: "cli")
            let expiry = clock.time.adding(milliseconds: 3_600_000)
            let (record, key) = try await store.createKey(
                org: org.id,
                KeyRequest(
                    name: "ci", scopes: [.gateway, .read], team: "ml", user: "ana", project: "search",
                    expiresAt: expiry, requestsPerMinute: 60),
                actor: "key_x")
            #expect(record.orgId == org.id && record.name == "ci" && record.displayPrefix == APIKey.displayPrefix(key))
            #expect(record.team == "ml" && record.user == "ana" && record.project == "search")
            #expect(record.createdAt == clock.time && record.expiresAt == expiry && record.tier == nil)
            #expect(record.requestsPerMinute == 60 && record.tokensPerMinute == nil)

            let principal = try #require(try await store.principal(forKey: key))
            #expect(
                principal
                    == Principal(
                        orgId: org.id, keyId: record.id, scopes: [.gateway, .read], team: "ml", user: "ana",
                        project: "search", validUntil: expiry,
                        limits: RateLimits(tier: .pro, requestsPerMinute: 60)))
            // A key's own tier wins over its organisation's.
            let (_, enterprise) = try await store.createKey(
                org: org.id, KeyRequest(name: "big", scopes: .all, tier: .enterprise, tokensPerMinute: 5000),
                actor: "key_x")
            #expect(
                try await store.principal(forKey: enterprise)?.limits
                    == RateLimits(tier: .enterprise, tokensPerMinute: 5000))
            #expect(try await store.principal(forKey: otherAdmin)?.orgId == other.id)

            // The same display prefix with another secret is no key.
            let forged = APIKey.displayPrefix(key) + String(repeating: "z", count: key.count - 9)
            #expect(try await store.principal(forKey: forged) == nil)
            #expect(try await store.principal(forKey: APIKey.generate()) == nil)

            // Requests that make no sense are refused before anything is stored.
            await expectError(.invalidRequest, field: "team") {
                _ = try await store.createKey(
                    org: org.id, KeyRequest(name: "x", scopes: .all, team: "nope"), actor: "key_x")
            }
            await expectError(.invalidRequest, field: "project") {
                _ = try await store.createKey(
                    org: other.id, KeyRequest(name: "x", scopes: .all, project: "search"), actor: "key_x")
            }
            await expectError(.invalidRequest, field: "scopes") {
                _ = try await store.createKey(org: org.id, KeyRequest(name: "x", scopes: []), actor: "key_x")
            }
            await expectError(.invalidRequest, field: "rpm") {
                _ = try await store.createKey(
                    org: org.id, KeyRequest(name: "x", scopes: .all, requestsPerMinute: 0), actor: "key_x")
            }
            await expectError(.invalidRequest, field: "expires_at") {
                _ = try await store.createKey(
                    org: org.id, KeyRequest(name: "x", scopes: .all, expiresAt: clock.time), actor: "key_x")
            }
            await expectError(.invalidRequest, field: "name") {
                _ = try await store.createKey(org: org.id, KeyRequest(name: "", scopes: .all), actor: "key_x")
            }
            await expectError(.notFound, field: "org") {
                _ = try await store.createKey(org: "org_nope", KeyRequest(name: "x", scopes: .all), actor: "key_x")
            }

            // Revoking: another organisation's id is no key; the hash comes back to evict caches.
            #expect(try await store.revokeKey(org: other.id, id: record.id, actor: "key_y", actorScopes: .all) == nil)
            #expect(try await store.principal(forKey: key) != nil)
            let hash = try await store.revokeKey(org: org.id, id: record.id, actor: "key_x", actorScopes: .all)
            #expect(hash == APIKey.hash(key))
            #expect(try await store.principal(forKey: key) == nil)
            #expect(try await store.keys(org: org.id).first { $0.id == record.id }?.revokedAt == clock.time)
            #expect(try await store.revokeKey(org: org.id, id: "key_nope", actor: "key_x", actorScopes: .all) == nil)

            // An expired key stops working at its expiry.
            let (_, short) = try await store.createKey(
                org: org.id, KeyRequest(name: "short", scopes: .all, expiresAt: clock.time.adding(milliseconds: 1000)),
                actor: "key_x")
            #expect(try await store.principal(forKey: short) != nil)
            clock.advance(seconds: 1)
            #expect(try await store.principal(forKey: short) == nil)
        }
    }

    @Test(
        "Only an operator revokes the installation's operator key; revoking and rotating are audited",
        arguments: StoreDatabase.available)
    func operatorKey(_ database: StoreDatabase) async throws {
        let clock = Clock()
        try await database.withStore(as: Accounts.self, clock: clock.wall) { store in
            let boot = try await store.bootstrap(adminKey: nil)
            let org = boot.organisation.id
            let id = try #require(try await store.keys(org: org).first?.id)
            await expectError(.forbidden) {
                _ = try await store.revokeKey(org: org, id: id, actor: "key_admin", actorScopes: .all)
            }
            #expect(try await store.principal(forKey: try #require(boot.createdAdminKey)) != nil)
            #expect(try await store.audit(org: org, limit: 10).isEmpty)
            clock.advance(seconds: 5)
            #expect(try await store.revokeKey(org: org, id: id, actor: "cli", actorScopes: .operator) != nil)
            #expect(try await store.principal(forKey: try #require(boot.createdAdminKey)) == nil)
            #expect(
                try await store.audit(org: org, limit: 10)
                    == [AuditEntry(at: clock.time, actor: "cli", action: "key.revoke", target: id, detail: nil)])
        }
    }

    @Test(
        "A rotated key works until its grace ends and its successor keeps its scopes and limits; a revoked key is not rotated",
        arguments: StoreDatabase.available)
    func rotation(_ database: StoreDatabase) async throws {
        let clock = Clock()
        try await database.withStore(as: Accounts.self, clock: clock.wall) { store in
            let (org, _) = try await store.createOrganisation(name: "Acme", actor: "cli")
            let (other, _) = try await store.createOrganisation(name: "Other", actor: "cli")
            clock.advance(seconds: 1)
            let (old, oldKey) = try await store.createKey(
                org: org.id,
                KeyRequest(name: "ci", scopes: [.ingest], user: "bo", tier: .free, requestsPerMinute: 5), actor: "key_x"
            )
            clock.advance(seconds: 10)
            let grace = clock.time.adding(milliseconds: 60_000)
            #expect(try await store.rotateKey(org: other.id, id: old.id, graceUntil: grace, actor: "key_y") == nil)
            let (new, newKey, oldHash) = try #require(
                try await store.rotateKey(org: org.id, id: old.id, graceUntil: grace, actor: "key_x"))
            #expect(oldHash == APIKey.hash(oldKey) && newKey != oldKey && new.id != old.id)
            #expect(new.name == "ci" && new.scopes == [.ingest] && new.user == "bo" && new.tier == .free)
            #expect(new.requestsPerMinute == 5 && new.createdAt == clock.time && new.revokedAt == nil)
            #expect(try await store.principal(forKey: oldKey)?.validUntil == grace)
            #expect(try await store.principal(forKey: newKey)?.keyId == new.id)
            #expect(try await store.keys(org: org.id).map(\.id).prefix(2) == [new.id, old.id])
            let entry = try #require(try await store.audit(org: org.id, limit: 1).first)
            #expect(entry.action == "key.rotate" && entry.target == old.id)
            #expect(entry.detail == "replaced by \(new.id); old key valid until \(grace.rfc3339)")

            clock.advance(seconds: 60)
            #expect(try await store.principal(forKey: oldKey) == nil)
            await expectError(.conflict) {
                _ = try await store.rotateKey(org: org.id, id: old.id, graceUntil: grace, actor: "key_x")
            }
            #expect(try await store.rotateKey(org: org.id, id: "key_nope", graceUntil: grace, actor: "key_x") == nil)
        }
    }

    @Test(
        "Use is noted on keys of several organisations at once; keys are listed newest first",
        arguments: StoreDatabase.available)
    func usedAndListed(_ database: StoreDatabase) async throws {
        let clock = Clock()
        try await database.withStore(as: Accounts.self, clock: clock.wall) { store in
            let (org, _) = try await store.createOrganisation(name: "Acme", actor: "cli")
            clock.advance(seconds: 1)
            let (other, _) = try await store.createOrganisation(name: "Other", actor: "cli")
            var made: [KeyRecord] = []
            for name in ["a", "b", "c"] {
                clock.advance(seconds: 1)
                made.append(try await store.createKey(org: org.id, KeyRequest(name: name, scopes: .read), actor: "x").0)
            }
            let theirs = try await store.createKey(org: other.id, KeyRequest(name: "d", scopes: .read), actor: "x").0
            let used = clock.time.adding(milliseconds: 30_000)
            try await store.markUsed(keyIds: [made[1].id, theirs.id, "key_nope"], at: used)
            try await store.markUsed(keyIds: [], at: used)
            let listed = try await store.keys(org: org.id)
            #expect(listed.map(\.name) == ["c", "b", "a", "admin"])
            #expect(listed.map(\.lastUsedAt) == [nil, used, nil, nil])
            #expect(try await store.keys(org: other.id).first { $0.id == theirs.id }?.lastUsedAt == used)
            #expect(try await store.keys(org: "org_nope").isEmpty)
        }
    }

    @Test(
        "Organisations have unique names, are listed oldest first, and keep their tier; the audit log is newest first",
        arguments: StoreDatabase.available)
    func organisations(_ database: StoreDatabase) async throws {
        let clock = Clock()
        try await database.withStore(as: Accounts.self, clock: clock.wall) { store in
            let (acme, key) = try await store.createOrganisation(name: "Acme", actor: "cli")
            #expect(acme.name == "Acme" && acme.id.hasPrefix("org_"))
            #expect(try await store.principal(forKey: key)?.scopes == .all)
            clock.advance(seconds: 1)
            let (beta, _) = try await store.createOrganisation(name: "beta", actor: "cli")
            clock.advance(seconds: 1)
            let (zeta, _) = try await store.createOrganisation(name: "Zeta", actor: "cli")
            #expect(try await store.organisations() == [acme, beta, zeta])
            await expectError(.conflict, field: "name") {
                _ = try await store.createOrganisation(name: "Acme", actor: "cli")
            }
            await expectError(.invalidRequest, field: "name") {
                _ = try await store.createOrganisation(name: "bad\nname", actor: "cli")
            }
            await expectError(.notFound, field: "org") {
                try await store.setTier(org: "org_nope", tier: .pro, actor: "cli")
            }

            clock.advance(seconds: 1)
            try await store.setTier(org: acme.id, tier: .free, actor: "key_x")
            #expect(try await store.principal(forKey: key)?.limits.tier == .free)
            #expect(try await store.principal(forKey: key)?.limits.requestsPerMinute == nil)
            let log = try await store.audit(org: acme.id, limit: 10)
            #expect(
                log == [
                    AuditEntry(at: clock.time, actor: "key_x", action: "org.tier", target: acme.id, detail: "free"),
                    AuditEntry(
                        at: clock.time.adding(milliseconds: -3000), actor: "cli", action: "org.create", target: acme.id,
                        detail: "Acme"),
                ])
            #expect(try await store.audit(org: acme.id, limit: 1).map(\.action) == ["org.tier"])
            #expect(try await store.audit(org: beta.id, limit: 10).map(\.target) == [beta.id])
        }
    }

    @Test(
        "Teams and projects: names unique per organisation, listed by name, removed only when nothing names them",
        arguments: StoreDatabase.available)
    func groups(_ database: StoreDatabase) async throws {
        let clock = Clock()
        try await database.withStore(as: Accounts.self, clock: clock.wall) { store in
            let (org, _) = try await store.createOrganisation(name: "Acme", actor: "cli")
            let (other, _) = try await store.createOrganisation(name: "Other", actor: "cli")
            let ml = try await store.createGroup(kind: .team, org: org.id, name: "ml", team: nil, actor: "key_x")
            #expect(ml.orgId == org.id && ml.name == "ml" && ml.team == nil && ml.createdAt == clock.time)
            #expect(ml.id.hasPrefix("team_"))
            let web = try await store.createGroup(kind: .team, org: org.id, name: "Web", team: nil, actor: "key_x")
            // The same name in another organisation is another team.
            let theirs = try await store.createGroup(kind: .team, org: other.id, name: "ml", team: nil, actor: "key_y")
            await expectError(.conflict, field: "name") {
                _ = try await store.createGroup(kind: .team, org: org.id, name: "ml", team: nil, actor: "key_x")
            }
            await expectError(.invalidRequest, field: "team") {
                _ = try await store.createGroup(kind: .project, org: org.id, name: "p", team: "nope", actor: "key_x")
            }
            await expectError(.notFound, field: "org") {
                _ = try await store.createGroup(kind: .team, org: "org_nope", name: "ml", team: nil, actor: "key_x")
            }
            let search = try await store.createGroup(
                kind: .project, org: org.id, name: "search", team: "ml", actor: "key_x")
            #expect(search.team == "ml" && search.id.hasPrefix("prj_"))
            let alone = try await store.createGroup(
                kind: .project, org: org.id, name: "Alone", team: nil, actor: "key_x")
            // Byte order, as SQLite: capitals first.
            #expect(try await store.groups(kind: .team, org: org.id) == [web, ml])
            #expect(try await store.groups(kind: .project, org: org.id) == [alone, search])
            #expect(try await store.groups(kind: .team, org: other.id) == [theirs])

            // Another organisation's id, or none at all, removes nothing.
            #expect(try await store.deleteGroup(kind: .team, org: other.id, id: ml.id, actor: "key_y") == false)
            #expect(try await store.deleteGroup(kind: .project, org: org.id, id: ml.id, actor: "key_x") == false)
            // A team that a project, a key, a person or a credential names is kept.
            await expectError(.conflict) {
                _ = try await store.deleteGroup(kind: .team, org: org.id, id: ml.id, actor: "key_x")
            }
            #expect(try await store.deleteGroup(kind: .project, org: org.id, id: search.id, actor: "key_x"))
            let (key, _) = try await store.createKey(
                org: org.id, KeyRequest(name: "k", scopes: .read, team: "ml"), actor: "key_x")
            await expectError(.conflict) {
                _ = try await store.deleteGroup(kind: .team, org: org.id, id: ml.id, actor: "key_x")
            }
            _ = try await store.revokeKey(org: org.id, id: key.id, actor: "key_x", actorScopes: .all)
            let person = try await store.createUser(
                org: org.id, email: "ana@example.com", name: nil, role: .member, team: "ml", passwordHash: nil,
                actor: "key_x")
            await expectError(.conflict) {
                _ = try await store.deleteGroup(kind: .team, org: org.id, id: ml.id, actor: "key_x")
            }
            #expect(try await store.deleteUser(org: org.id, id: person.id, actor: "key_x"))
            let vault = try CredentialVault(keyBytes: Array(repeating: 7, count: 32))
            _ = try await store.setCredential(
                org: org.id, team: "ml", provider: .openai, secret: "sk-team-secret-1234", baseURL: nil, vault: vault,
                actor: "key_x")
            await expectError(.conflict) {
                _ = try await store.deleteGroup(kind: .team, org: org.id, id: ml.id, actor: "key_x")
            }
            #expect(try await store.deleteCredential(org: org.id, team: "ml", provider: .openai, actor: "key_x"))
            #expect(try await store.deleteGroup(kind: .team, org: org.id, id: ml.id, actor: "key_x"))
            #expect(try await store.groups(kind: .team, org: org.id) == [web])
            #expect(try await store.groups(kind: .team, org: other.id) == [theirs])
            let entry = try #require(try await store.audit(org: org.id, limit: 1).first)
            #expect(entry.action == "team.delete" && entry.target == ml.id && entry.detail == "ml")
            // Its name is free again.
            _ = try await store.createGroup(kind: .team, org: org.id, name: "ml", team: nil, actor: "key_x")
        }
    }

    @Test(
        "People: one account per email in an organisation, at least one owner kept, sessions end with their person",
        arguments: StoreDatabase.available)
    func people(_ database: StoreDatabase) async throws {
        let clock = Clock()
        try await database.withStore(as: Accounts.self, clock: clock.wall) { store in
            let (org, _) = try await store.createOrganisation(name: "Acme", actor: "cli")
            let (other, _) = try await store.createOrganisation(name: "Other", actor: "cli")
            _ = try await store.createGroup(kind: .team, org: org.id, name: "ml", team: nil, actor: "key_x")
            let owner = try await store.createUser(
                org: org.id, email: "  Zoe@Example.COM ", name: "Zoë", role: .owner, team: nil, passwordHash: "$2b$zoe",
                actor: "key_x")
            #expect(owner.email == "zoe@example.com" && owner.name == "Zoë" && owner.hasPassword)
            #expect(owner.orgId == org.id && owner.role == .owner && owner.createdAt == clock.time)
            let ana = try await store.createUser(
                org: org.id, email: "ana@example.com", name: nil, role: .member, team: "ml", passwordHash: nil,
                actor: "key_x")
            #expect(!ana.hasPassword && ana.team == "ml")
            // The same person may be in another organisation too.
            let elsewhere = try await store.createUser(
                org: other.id, email: "zoe@example.com", name: nil, role: .owner, team: nil, passwordHash: "$2b$other",
                actor: "key_y")
            await expectError(.conflict, field: "email") {
                _ = try await store.createUser(
                    org: org.id, email: "ZOE@example.com", name: nil, role: .viewer, team: nil, passwordHash: nil,
                    actor: "key_x")
            }
            await expectError(.invalidRequest, field: "email") {
                _ = try await store.createUser(
                    org: org.id, email: "nobody", name: nil, role: .viewer, team: nil, passwordHash: nil, actor: "key_x"
                )
            }
            await expectError(.invalidRequest, field: "team") {
                _ = try await store.createUser(
                    org: org.id, email: "bo@example.com", name: nil, role: .viewer, team: "web", passwordHash: nil,
                    actor: "key_x")
            }
            await expectError(.notFound, field: "org") {
                _ = try await store.createUser(
                    org: "org_nope", email: "bo@example.com", name: nil, role: .viewer, team: nil, passwordHash: nil,
                    actor: "key_x")
            }
            #expect(try await store.users(org: org.id) == [ana, owner])
            #expect(try await store.users(org: other.id) == [elsewhere])

            // Signing in finds the email in every organisation, only where it has a password.
            let candidates = try await store.userForSignIn(email: " ZOE@example.com")
            #expect(Set(candidates.map { "\($0.0.orgId) \($0.1)" }) == ["\(org.id) $2b$zoe", "\(other.id) $2b$other"])
            #expect(try await store.userForSignIn(email: "ana@example.com").isEmpty)

            // The last owner stays an owner.
            await expectError(.conflict, field: "role") {
                _ = try await store.setRole(org: org.id, id: owner.id, role: .admin, actor: "key_x")
            }
            await expectError(.conflict) { _ = try await store.deleteUser(org: org.id, id: owner.id, actor: "key_x") }
            #expect(try await store.setRole(org: other.id, id: ana.id, role: .owner, actor: "key_y") == nil)
            #expect(try await store.setRole(org: org.id, id: ana.id, role: .owner, actor: "key_x")?.role == .owner)
            let demoted = try await store.setRole(org: org.id, id: owner.id, role: .viewer, actor: "key_x")
            #expect(demoted?.role == .viewer && demoted?.email == "zoe@example.com")
            let entry = try #require(try await store.audit(org: org.id, limit: 1).first)
            #expect(entry.action == "user.role" && entry.target == owner.id && entry.detail == "owner → viewer")

            // Sessions: found by their token's hash until they expire; gone with their person.
            let expires = clock.time.adding(milliseconds: 60_000)
            try await store.createSession(tokenHash: "h1", user: owner, csrfToken: "c1", expiresAt: expires)
            try await store.createSession(tokenHash: "h2", user: owner, csrfToken: "c2", expiresAt: expires)
            try await store.createSession(tokenHash: "h3", user: elsewhere, csrfToken: "c3", expiresAt: expires)
            let session = try #require(try await store.session(tokenHash: "h1"))
            #expect(session.0.id == owner.id && session.0.role == .viewer && session.1 == "c1")
            #expect(try await store.session(tokenHash: "h3")?.0.orgId == other.id)
            #expect(try await store.session(tokenHash: "nope") == nil)
            try await store.deleteSession(tokenHash: "h1")
            #expect(try await store.session(tokenHash: "h1") == nil)
            #expect(try await store.deleteUser(org: other.id, id: owner.id, actor: "key_y") == false)
            #expect(try await store.session(tokenHash: "h2") != nil)
            #expect(try await store.deleteUser(org: org.id, id: owner.id, actor: "key_x"))
            #expect(try await store.session(tokenHash: "h2") == nil)
            #expect(try await store.users(org: org.id).map(\.email) == ["ana@example.com"])
            #expect(try await store.audit(org: org.id, limit: 1).first?.detail == "zoe@example.com")
            clock.advance(seconds: 60)
            #expect(try await store.session(tokenHash: "h3") == nil)
        }
    }

    @Test(
        "Credentials are sealed and masked, a team's is chosen before its organisation's, and all are re-sealed at once",
        arguments: StoreDatabase.available)
    func credentials(_ database: StoreDatabase) async throws {
        let clock = Clock()
        try await database.withStore(as: Accounts.self, clock: clock.wall) { store in
            let (org, _) = try await store.createOrganisation(name: "Acme", actor: "cli")
            let (other, _) = try await store.createOrganisation(name: "Other", actor: "cli")
            _ = try await store.createGroup(kind: .team, org: org.id, name: "ml", team: nil, actor: "key_x")
            let vault = try CredentialVault(keyBytes: Array(repeating: 1, count: 32))
            let record = try await store.setCredential(
                org: org.id, team: nil, provider: .openai, secret: "sk-org-secret-0001", baseURL: nil, vault: vault,
                actor: "key_x")
            #expect(
                record == CredentialRecord(provider: .openai, team: nil, masked: "sk-…0001", updatedAt: clock.time))
            clock.advance(seconds: 1)
            _ = try await store.setCredential(
                org: org.id, team: "ml", provider: .openai, secret: "sk-team-secret-0002",
                baseURL: "https://llm.internal/v1", vault: vault, actor: "key_x")
            _ = try await store.setCredential(
                org: org.id, team: nil, provider: .anthropic, secret: "sk-ant-secret-0003", baseURL: nil, vault: vault,
                actor: "key_x")
            _ = try await store.setCredential(
                org: other.id, team: nil, provider: .openai, secret: "sk-their-secret-0004", baseURL: nil, vault: vault,
                actor: "key_y")
            await expectError(.invalidRequest, field: "team") {
                _ = try await store.setCredential(
                    org: org.id, team: "web", provider: .openai, secret: "sk-x-secret", baseURL: nil, vault: vault,
                    actor: "key_x")
            }
            await expectError(.invalidRequest, field: "key") {
                _ = try await store.setCredential(
                    org: org.id, team: nil, provider: .openai, secret: "", baseURL: nil, vault: vault, actor: "key_x")
            }
            await expectError(.notFound, field: "org") {
                _ = try await store.setCredential(
                    org: "org_nope", team: nil, provider: .openai, secret: "sk-x-secret", baseURL: nil, vault: vault,
                    actor: "key_x")
            }
            #expect(
                try await store.credentials(org: org.id) == [
                    CredentialRecord(provider: .anthropic, team: nil, masked: "sk-…0003", updatedAt: clock.time),
                    CredentialRecord(
                        provider: .openai, team: nil, masked: "sk-…0001",
                        updatedAt: clock.time.adding(milliseconds: -1000)
                    ),
                    CredentialRecord(
                        provider: .openai, team: "ml", masked: "sk-…0002", updatedAt: clock.time,
                        baseURL: "https://llm.internal/v1"),
                ])
            #expect(try await store.credentials(org: other.id).map(\.masked) == ["sk-…0004"])
            let entry = try #require(try await store.audit(org: org.id, limit: 2).last)
            #expect(entry.action == "credential.set" && entry.detail == "team ml: sk-…0002 at https://llm.internal/v1")

            // A team's own credential, else the organisation's.
            #expect(
                try await store.credentialSecret(org: org.id, team: "ml", provider: .openai, vault: vault)
                    == StoredCredential(secret: "sk-team-secret-0002", baseURL: "https://llm.internal/v1"))
            #expect(
                try await store.credentialSecret(org: org.id, team: "web", provider: .openai, vault: vault)?.secret
                    == "sk-org-secret-0001")
            #expect(
                try await store.credentialSecret(org: org.id, team: "ml", provider: .anthropic, vault: vault)?.secret
                    == "sk-ant-secret-0003")
            #expect(try await store.credentialSecret(org: org.id, team: nil, provider: .gemini, vault: vault) == nil)
            // Replacing keeps one credential per organisation, team and provider.
            _ = try await store.setCredential(
                org: org.id, team: "ml", provider: .openai, secret: "sk-team-secret-0005", baseURL: nil, vault: vault,
                actor: "key_x")
            #expect(
                try await store.credentialSecret(org: org.id, team: "ml", provider: .openai, vault: vault)
                    == StoredCredential(secret: "sk-team-secret-0005", baseURL: nil))
            #expect(try await store.credentials(org: org.id).count == 3)

            // Another master key opens nothing; re-sealing moves every organisation's credentials to it.
            let next = try CredentialVault(keyBytes: Array(repeating: 2, count: 32))
            await expectError(.configuration) {
                _ = try await store.credentialSecret(org: org.id, team: nil, provider: .openai, vault: next)
            }
            #expect(try await store.credentialFingerprints() == [vault.fingerprint])
            await expectError(.configuration) { _ = try await store.resealCredentials(from: next, to: vault) }
            #expect(try await store.credentialFingerprints() == [vault.fingerprint])
            #expect(try await store.resealCredentials(from: vault, to: next) == 4)
            #expect(try await store.credentialFingerprints() == [next.fingerprint])
            #expect(
                try await store.credentialSecret(org: other.id, team: nil, provider: .openai, vault: next)?.secret
                    == "sk-their-secret-0004")

            #expect(
                try await store.deleteCredential(org: other.id, team: "ml", provider: .openai, actor: "key_y") == false)
            #expect(try await store.deleteCredential(org: org.id, team: nil, provider: .openai, actor: "key_x"))
            #expect(
                try await store.deleteCredential(org: org.id, team: nil, provider: .openai, actor: "key_x") == false)
            #expect(try await store.credentialSecret(org: org.id, team: "web", provider: .openai, vault: next) == nil)
            #expect(
                try await store.audit(org: org.id, limit: 1)
                    == [
                        AuditEntry(
                            at: clock.time, actor: "key_x", action: "credential.delete", target: "openai", detail: nil)
                    ])
        }
    }
}

/// What only PostgreSQL needs showing: several nodes at once, and tenancy by the database.
@Suite("PostgreSQL: accounts across nodes and organisations", .enabled(if: TestCluster.unavailable == nil))
struct PostgresAccountTests {
    /// `count` stores on one fresh database, as separate nodes.
    func withNodes(_ count: Int, _ body: ([PostgresStore]) async throws -> Void) async throws {
        try await TestCluster.withDatabase { ownerURL in
            let url = try DatabaseURL(ownerURL)
            var nodes: [PostgresStore] = []
            for _ in 0..<count { nodes.append(try await PostgresStore(url: url, logger: TestCluster.logger)) }
            defer { nodes.forEach { $0.close() } }
            try await body(nodes)
        }
    }

    @Test("Nodes starting together on an empty database make one default organisation and one admin key")
    func concurrentBootstrap() async throws {
        try await withNodes(4) { nodes in
            let results = try await withThrowingTaskGroup(of: BootstrapResult.self) { group in
                for node in nodes { group.addTask { try await node.bootstrap(adminKey: nil) } }
                var results: [BootstrapResult] = []
                for try await result in group { results.append(result) }
                return results
            }
            #expect(Set(results.map(\.organisation)).count == 1)
            #expect(results.compactMap(\.createdAdminKey).count == 1)
            #expect(try await nodes[0].organisations().count == 1)
            #expect(try await nodes[1].keys(org: results[0].organisation.id).count == 1)
        }
    }

    @Test("Nodes making a team, an organisation or a person of one name at once: one succeeds, the others conflict")
    func concurrentNames() async throws {
        try await withNodes(4) { nodes in
            let (org, _) = try await nodes[0].createOrganisation(name: "Acme", actor: "cli")
            func race(_ attempt: @escaping @Sendable (PostgresStore) async throws -> Void) async throws -> [String] {
                try await withThrowingTaskGroup(of: String.self) { group in
                    for node in nodes + nodes {
                        group.addTask {
                            do {
                                try await attempt(node)
                                return "made"
                            } catch let error as MeterrError {
                                return error.code.rawValue
                            }
                        }
                    }
                    var outcomes: [String] = []
                    for try await outcome in group { outcomes.append(outcome) }
                    return outcomes.sorted()
                }
            }
            let conflicts = Array(repeating: "conflict", count: 7)
            #expect(
                try await race {
                    _ = try await $0.createGroup(kind: .team, org: org.id, name: "ml", team: nil, actor: "x")
                } == conflicts + ["made"])
            #expect(
                try await race { _ = try await $0.createOrganisation(name: "Beta", actor: "cli") } == conflicts + [
                    "made"
                ])
            #expect(
                try await race {
                    _ = try await $0.createUser(
                        org: org.id, email: "ana@example.com", name: nil, role: .owner, team: nil, passwordHash: nil,
                        actor: "x")
                } == conflicts + ["made"])
            #expect(try await nodes[2].groups(kind: .team, org: org.id).count == 1)
            #expect(try await nodes[3].organisations().count == 2)
        }
    }

    /// Runs `attempt` while a transaction of `org` that ran `hold` is still open, and commits that
    /// transaction only once the attempt waits for its locks (or has finished without waiting).
    func whileHeld<Value: Sendable>(
        _ store: PostgresStore, org: String, hold: PostgresQuery,
        _ attempt: @escaping @Sendable () async throws -> Value
    ) async throws -> Result<Value, any Error> {
        let task = try await store.tenant(org) { connection in
            try await connection.query(hold, logger: TestCluster.logger)
            let task = Task { try await attempt() }
            for _ in 0..<500 {
                var waiting: Int64 = 0
                for try await count in try await store.client.query(
                    """
                    SELECT count(*) FROM pg_stat_activity
                    WHERE datname = current_database() AND wait_event_type = 'Lock'
                    """, logger: TestCluster.logger
                ).decode(Int64.self) {
                    waiting = count
                }
                if waiting > 0 { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            return task
        }
        return await task.result
    }

    func expectConflict<Value>(_ result: Result<Value, any Error>, sourceLocation: SourceLocation = #_sourceLocation) {
        switch result {
        case .success: Issue.record("expected a conflict", sourceLocation: sourceLocation)
        case .failure(let error):
            #expect((error as? MeterrError)?.code == .conflict, "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("A team or person another node adds between the check and the insert is the same conflict as SQLite's")
    func uniqueViolations() async throws {
        try await TestCluster.withStore { store, _ in
            let (org, _) = try await store.createOrganisation(name: "Acme", actor: "cli")
            // The other node's row is not committed yet, so the check passes and the insert waits for it.
            expectConflict(
                try await whileHeld(
                    store, org: org.id,
                    hold: "INSERT INTO teams (id, org, name, created_at) VALUES ('team_elsewhere', \(org.id), 'ml', 0)"
                ) {
                    try await store.createGroup(kind: .team, org: org.id, name: "ml", team: nil, actor: "x")
                })
            expectConflict(
                try await whileHeld(
                    store, org: org.id,
                    hold: """
                        INSERT INTO users (id, org, email, role, created_at)
                        VALUES ('usr_elsewhere', \(org.id), 'ana@example.com', 'owner', 0)
                        """
                ) {
                    try await store.createUser(
                        org: org.id, email: "ana@example.com", name: nil, role: .member, team: nil, passwordHash: nil,
                        actor: "x")
                })
            #expect(try await store.groups(kind: .team, org: org.id).map(\.id) == ["team_elsewhere"])
            #expect(try await store.users(org: org.id).map(\.id) == ["usr_elsewhere"])
        }
    }

    @Test("An owner demoted on another node while this one demotes the other owner leaves one owner")
    func lastOwner() async throws {
        try await TestCluster.withStore { store, _ in
            let (org, _) = try await store.createOrganisation(name: "Acme", actor: "cli")
            var owners: [UserRecord] = []
            for email in ["ana@example.com", "bo@example.com"] {
                owners.append(
                    try await store.createUser(
                        org: org.id, email: email, name: nil, role: .owner, team: nil, passwordHash: nil, actor: "x"))
            }
            let (first, second) = (owners[0], owners[1])
            expectConflict(
                try await whileHeld(
                    store, org: org.id, hold: "UPDATE users SET role = 'admin' WHERE id = \(first.id)"
                ) {
                    try await store.setRole(org: org.id, id: second.id, role: .admin, actor: "x")
                })
            _ = try await store.setRole(org: org.id, id: first.id, role: .owner, actor: "x")
            expectConflict(
                try await whileHeld(store, org: org.id, hold: "DELETE FROM users WHERE id = \(first.id)") {
                    try await store.deleteUser(org: org.id, id: second.id, actor: "x")
                })
            #expect(try await store.users(org: org.id).map(\.role) == [.owner])
        }
    }

    @Test("A team deleted on another node while a key is made for it: the key is refused")
    func groupDeletedMeanwhile() async throws {
        try await TestCluster.withStore { store, _ in
            let (org, _) = try await store.createOrganisation(name: "Acme", actor: "cli")
            let team = try await store.createGroup(kind: .team, org: org.id, name: "ml", team: nil, actor: "x")
            let result = try await whileHeld(store, org: org.id, hold: "DELETE FROM teams WHERE id = \(team.id)") {
                try await store.createKey(org: org.id, KeyRequest(name: "k", scopes: .read, team: "ml"), actor: "x")
            }
            if case .failure(let error) = result {
                #expect((error as? MeterrError)?.field == "team", "\(error)")
            } else {
                Issue.record("a key was made for a deleted team")
            }
        }
    }

    @Test("Every accounts table is held to row-level security: one organisation's rows are invisible to another")
    func rowLevelSecurity() async throws {
        try await TestCluster.withStore { store, _ in
            let vault = try CredentialVault(keyBytes: Array(repeating: 3, count: 32))
            var orgs: [String] = []
            for name in ["A", "B"] {
                let (org, _) = try await store.createOrganisation(name: name, actor: "cli")
                orgs.append(org.id)
                _ = try await store.createGroup(kind: .team, org: org.id, name: "ml", team: nil, actor: "x")
                _ = try await store.createGroup(kind: .project, org: org.id, name: "p", team: "ml", actor: "x")
                let user = try await store.createUser(
                    org: org.id, email: "ana@example.com", name: nil, role: .owner, team: nil, passwordHash: "h",
                    actor: "x")
                try await store.createSession(
                    tokenHash: "s_" + name, user: user, csrfToken: "c", expiresAt: Timestamp(milliseconds: Int64.max))
                _ = try await store.setCredential(
                    org: org.id, team: nil, provider: .openai, secret: "sk-secret-\(name)000", baseURL: nil,
                    vault: vault, actor: "x")
            }
            let tables = [
                "audit_log", "organisations", "api_keys", "teams", "projects", "users", "sessions",
                "provider_credentials",
            ]
            var other = PostgresBindings()
            try other.append(orgs[1])
            for table in tables {
                let query = PostgresQuery(
                    unsafeSQL: """
                        SELECT (SELECT count(*) FROM \(table)), (SELECT count(*) FROM \(table) WHERE org = $1),
                            (SELECT relforcerowsecurity FROM pg_class WHERE relname = '\(table)')
                        """, binds: other)
                let (mine, theirs, forced) = try await store.tenant(orgs[0]) { connection in
                    let rows = try await connection.query(query, logger: TestCluster.logger)
                    var counts: (Int64, Int64, Bool) = (0, 0, false)
                    for try await row in rows.decode((Int64, Int64, Bool).self) { counts = row }
                    return counts
                }
                #expect(mine > 0 && theirs == 0 && forced, "\(table)")
            }
            // Writing another organisation's row is refused.
            await #expect(throws: (any Error).self) {
                try await store.tenant(orgs[0]) { connection in
                    _ = try await connection.query(
                        "UPDATE api_keys SET org = \(orgs[1]) WHERE org = \(orgs[0])", logger: TestCluster.logger)
                }
            }
        }
    }
}
