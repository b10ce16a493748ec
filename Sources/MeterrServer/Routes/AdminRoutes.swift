import Foundation
import Hummingbird
import MeterrCore
import MeterrStore

/// `/api/orgs`, `/api/teams`, `/api/projects`, `/api/keys`, `/api/audit`: an organisation's own
/// management. Every call acts for the key's organisation; another organisation's ids answer 404.
struct AdminRoutes: Sendable {
    let accounts: any AccountStore
    let principals: PrincipalCache
    let maxBodyBytes: Int
    let clock: WallClock

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.get("orgs", use: listOrganisations)
        group.post("orgs", use: createOrganisation)
        group.put("orgs/:id/tier", use: setTier)
        group.get("teams") { request, context in try await self.listGroups(.team, context) }
        group.post("teams") { request, context in try await self.createGroup(.team, request, context) }
        group.get("projects") { request, context in try await self.listGroups(.project, context) }
        group.delete("teams/:id") { request, context in try await self.deleteGroup(.team, context) }
        group.delete("projects/:id") { request, context in try await self.deleteGroup(.project, context) }
        group.post("projects") { request, context in try await self.createGroup(.project, request, context) }
        group.get("keys", use: listKeys)
        group.post("keys", use: createKey)
        group.delete("keys/:id", use: revokeKey)
        group.post("keys/:id/rotate", use: rotateKey)
        group.get("audit", use: audit)
    }

    func object(_ request: Request) async throws -> [String: JSONValue] {
        try await collectJSONObject(request, limit: maxBodyBytes)
    }

    func optionalString(_ members: [String: JSONValue], _ key: String) throws -> String? {
        guard let value = members[key], !value.isNull else { return nil }
        guard let text = value.string else { throw MeterrError.invalid(key, "must be a string") }
        return text
    }

    func actor(_ context: AuthenticatedContext) -> String { context.principal.keyId }

    // MARK: organisations

    @Sendable func listOrganisations(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let all = try await accounts.organisations()
        let visible =
            context.principal.scopes.contains(.operator) ? all : all.filter { $0.id == context.principal.orgId }
        var json = JSONWriter()
        json.beginObject()
        json.beginArray("orgs")
        for organisation in visible {
            json.beginObject()
            json.string("id", organisation.id)
            json.string("name", organisation.name)
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return jsonResponse(bytes: json.bytes)
    }

    @Sendable func createOrganisation(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.operator)
        let members = try await object(request)
        guard let name = try optionalString(members, "name") else { throw MeterrError.invalid("name", "is required") }
        let (organisation, key) = try await accounts.createOrganisation(name: name, actor: actor(context))
        var json = JSONWriter()
        json.beginObject()
        json.string("id", organisation.id)
        json.string("name", organisation.name)
        json.string("admin_key", key)
        json.endObject()
        return jsonResponse(bytes: json.bytes, status: .created)
    }

    @Sendable func setTier(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.operator)
        let id = try context.parameters.require("id")
        let members = try await object(request)
        guard let name = try optionalString(members, "tier"), let tier = RateTier(rawValue: name) else {
            let names = RateTier.allCases.map(\.rawValue).joined(separator: ", ")
            throw MeterrError.invalid("tier", "must be one of \(names)")
        }
        try await accounts.setTier(org: id, tier: tier, actor: actor(context))
        return try jsonResponse(["id": id, "tier": tier.rawValue])
    }

    // MARK: teams and projects

    func listGroups(_ kind: GroupKind, _ context: AuthenticatedContext) async throws -> Response {
        try context.require(.read)
        let groups = try await accounts.groups(kind: kind, org: context.principal.orgId)
        var json = JSONWriter()
        json.beginObject()
        json.beginArray(kind == .team ? "teams" : "projects")
        for group in groups { write(group, kind, to: &json) }
        json.endArray()
        json.endObject()
        return jsonResponse(bytes: json.bytes)
    }

    func createGroup(_ kind: GroupKind, _ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let members = try await object(request)
        guard let name = try optionalString(members, "name") else { throw MeterrError.invalid("name", "is required") }
        let team = kind == .project ? try optionalString(members, "team") : nil
        let group = try await accounts.createGroup(
            kind: kind, org: context.principal.orgId, name: name, team: team, actor: actor(context))
        var json = JSONWriter()
        write(group, kind, to: &json)
        return jsonResponse(bytes: json.bytes, status: .created)
    }

    func deleteGroup(_ kind: GroupKind, _ context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let id = try context.parameters.require("id")
        guard try await accounts.deleteGroup(kind: kind, org: context.principal.orgId, id: id, actor: actor(context))
        else { throw MeterrError(.notFound, "no such \(kind.rawValue)") }
        return Response(status: .noContent)
    }

    func write(_ group: NamedGroup, _ kind: GroupKind, to json: inout JSONWriter) {
        json.beginObject()
        json.string("id", group.id)
        json.string("name", group.name)
        if kind == .project { json.string("team", group.team) }
        json.string("created_at", group.createdAt.rfc3339)
        json.endObject()
    }

    // MARK: keys

    @Sendable func listKeys(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let keys = try await accounts.keys(org: context.principal.orgId)
        var json = JSONWriter()
        json.beginObject()
        json.beginArray("keys")
        for key in keys { write(key, to: &json) }
        json.endArray()
        json.endObject()
        return jsonResponse(bytes: json.bytes)
    }

    @Sendable func createKey(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let members = try await object(request)
        guard let name = try optionalString(members, "name") else { throw MeterrError.invalid("name", "is required") }
        var scopes: KeyScopes = [.gateway]
        if let list = members["scopes"], !list.isNull {
            guard let names = list.array?.compactMap(\.string), names.count == list.array?.count,
                let parsed = KeyScopes(names: names)
            else {
                let known = KeyScopes.names.map(\.0).joined(separator: ", ")
                throw MeterrError.invalid("scopes", "must be a list of scope names (\(known))")
            }
            scopes = parsed
        }
        // A key can hand out no more than it holds.
        guard context.principal.scopes.isSuperset(of: scopes) else {
            throw MeterrError(.forbidden, "a key cannot grant scopes it does not hold", field: "scopes")
        }
        var expiresAt: Timestamp?
        if let text = try optionalString(members, "expires_at") {
            guard let time = Timestamp(rfc3339: text) else {
                throw MeterrError.invalid("expires_at", "must be an RFC 3339 time")
            }
            expiresAt = time
        }
        var tier: RateTier?
        if let text = try optionalString(members, "tier") {
            guard let value = RateTier(rawValue: text) else {
                let names = RateTier.allCases.map(\.rawValue).joined(separator: ", ")
                throw MeterrError.invalid("tier", "must be one of \(names)")
            }
            tier = value
        }
        func limit(_ key: String) throws -> Int? {
            guard let value = members[key], !value.isNull else { return nil }
            guard let count = value.int, count >= 1 else {
                throw MeterrError.invalid(key, "must be a whole number of at least 1")
            }
            return count
        }
        let keyRequest = KeyRequest(
            name: name, scopes: scopes, team: try optionalString(members, "team"),
            user: try optionalString(members, "user"), project: try optionalString(members, "project"),
            expiresAt: expiresAt, tier: tier, requestsPerMinute: try limit("rpm"), tokensPerMinute: try limit("tpm"))
        let (record, key) = try await accounts.createKey(
            org: context.principal.orgId, keyRequest, actor: actor(context))
        var json = JSONWriter()
        write(record, secret: key, to: &json)
        return jsonResponse(bytes: json.bytes, status: .created)
    }

    @Sendable func revokeKey(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let id = try context.parameters.require("id")
        guard let hash = try await accounts.revokeKey(org: context.principal.orgId, id: id, actor: actor(context))
        else {
            throw MeterrError(.notFound, "no such key")
        }
        principals.evict(hash: hash)
        return Response(status: .noContent)
    }

    @Sendable func rotateKey(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let id = try context.parameters.require("id")
        var grace = 86_400
        if request.headers[.contentLength].map({ $0 != "0" }) ?? false || request.headers[.contentType] != nil {
            let members = try await object(request)
            if let value = members["grace_seconds"], !value.isNull {
                guard let seconds = value.int, (0...30 * 86_400).contains(seconds) else {
                    throw MeterrError.invalid("grace_seconds", "must be a whole number of seconds from 0 to 2592000")
                }
                grace = seconds
            }
        }
        let until = clock.now().adding(milliseconds: Int64(grace) * 1000)
        guard
            let (record, key, oldHash) = try await accounts.rotateKey(
                org: context.principal.orgId, id: id, graceUntil: until, actor: actor(context))
        else { throw MeterrError(.notFound, "no such key") }
        if grace == 0 { principals.evict(hash: oldHash) }
        var json = JSONWriter()
        write(record, secret: key, to: &json)
        return jsonResponse(bytes: json.bytes, status: .created)
    }

    func write(_ key: KeyRecord, secret: String? = nil, to json: inout JSONWriter) {
        let now = clock.now()
        let status: String
        if let revoked = key.revokedAt, revoked <= now {
            status = "revoked"
        } else if let expiry = key.expiresAt, expiry <= now {
            status = "expired"
        } else if key.revokedAt != nil {
            status = "rotating"
        } else {
            status = "active"
        }
        json.beginObject()
        json.string("id", key.id)
        json.string("name", key.name)
        if let secret { json.string("key", secret) }
        json.string("prefix", key.displayPrefix + "…")
        json.beginArray("scopes")
        for name in key.scopes.nameList { json.string(nil, name) }
        json.endArray()
        json.string("team", key.team)
        json.string("user", key.user)
        json.string("project", key.project)
        json.string("tier", key.tier?.rawValue)
        json.int("rpm", key.requestsPerMinute)
        json.int("tpm", key.tokensPerMinute)
        json.string("status", status)
        json.string("created_at", key.createdAt.rfc3339)
        json.string("expires_at", key.expiresAt?.rfc3339)
        json.string("last_used_at", key.lastUsedAt?.rfc3339)
        json.string("revoked_at", key.revokedAt?.rfc3339)
        json.endObject()
    }

    // MARK: audit

    @Sendable func audit(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        var limit = 100
        if let text = request.uri.queryParameters.get("limit") {
            guard let value = Int(text), (1...1000).contains(value) else {
                throw MeterrError.invalid("limit", "must be an integer from 1 to 1000")
            }
            limit = value
        }
        let entries = try await accounts.audit(org: context.principal.orgId, limit: limit)
        var json = JSONWriter()
        json.beginObject()
        json.beginArray("entries")
        for entry in entries {
            json.beginObject()
            json.string("at", entry.at.rfc3339)
            json.string("actor", entry.actor)
            json.string("action", entry.action)
            json.string("target", entry.target)
            json.string("detail", entry.detail)
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return jsonResponse(bytes: json.bytes)
    }
}
