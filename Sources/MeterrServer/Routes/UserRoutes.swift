import Foundation
import Hummingbird
import HummingbirdBcrypt
import MeterrCore
import MeterrStore

/// `/api/users`: the people of an organisation and their roles (owner, admin, member, viewer).
struct UserRoutes: Sendable {
    let users: any UserStore
    let principals: PrincipalCache
    /// The response cache: forgetting a person forgets the answers their calls stored.
    let answers: any ResponseCacheStore
    let maxBodyBytes: Int

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.get("users", use: list)
        group.post("users", use: create)
        group.put("users/:id/role", use: setRole)
        group.delete("users/:id", use: remove)
        group.post("users/:id/forget", use: forget)
        group.get("users/:id/export", use: export)
    }

    func body(_ request: Request) async throws -> [String: JSONValue] {
        try await collectJSONObject(request, limit: maxBodyBytes)
    }

    static func role(_ value: JSONValue?) throws -> Role {
        guard let name = value?.string, let role = Role(rawValue: name) else {
            throw MeterrError.invalid("role", "must be owner, admin, member or viewer")
        }
        return role
    }

    /// A person as the API shows them.
    static func user(_ record: UserRecord) -> User {
        User(
            id: record.id, email: record.email, name: record.name, role: record.role.rawValue, team: record.team,
            canSignIn: record.hasPassword, createdAt: record.createdAt)
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.read)
        let records = try await users.users(org: context.principal.orgId)
        return try jsonResponse(UserList(users: records.map(Self.user)))
    }

    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let members = try await body(request)
        guard let email = members["email"]?.string else { throw MeterrError.invalid("email", "is required") }
        let role = try Self.role(members["role"] ?? .string("member"))
        var passwordHash: String?
        if let password = members["password"], !password.isNull {
            guard let text = password.string, text.count >= 12, text.utf8.count <= 72 else {
                throw MeterrError.invalid("password", "must be 12 to 72 characters")
            }
            passwordHash = await offCooperativePool { Bcrypt.hash(text, cost: 12) }
        }
        let user = try await users.createUser(
            org: context.principal.orgId, email: email, name: members["name"]?.string, role: role,
            team: members["team"]?.string, passwordHash: passwordHash, actor: context.principal.keyId)
        return try jsonResponse(Self.user(user), status: .created)
    }

    @Sendable func setRole(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let id = try context.parameters.require("id")
        let role = try Self.role(try await body(request)["role"])
        guard
            let user = try await users.setRole(
                org: context.principal.orgId, id: id, role: role, actor: context.principal.keyId)
        else { throw MeterrError(.notFound, "no such user") }
        return try jsonResponse(Self.user(user))
    }

    /// GDPR erasure: `:id` is an account's id or email, or an attribution value of the ledger.
    @Sendable func forget(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let person = try context.parameters.require("id")
        var result = try await users.forgetPerson(
            org: context.principal.orgId, person: person, actor: context.principal.keyId)
        // Answers the person's calls left in the response cache go too.
        result.cachedAnswers = try await answers.forget(org: context.principal.orgId, users: [person])
        // Keys bound to the person carry the token from the next call on.
        principals.evictAll()
        return try jsonResponse(result)
    }

    /// GDPR access: everything meterr holds about the person, as one JSON document.
    @Sendable func export(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let person = try context.parameters.require("id")
        return jsonResponse(
            bytes: try await users.exportPerson(
                org: context.principal.orgId, person: person, actor: context.principal.keyId))
    }

    @Sendable func remove(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let id = try context.parameters.require("id")
        guard try await users.deleteUser(org: context.principal.orgId, id: id, actor: context.principal.keyId) else {
            throw MeterrError(.notFound, "no such user")
        }
        return Response(status: .noContent)
    }
}
