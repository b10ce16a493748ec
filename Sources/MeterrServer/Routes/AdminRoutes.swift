import Foundation
import Hummingbird
import MeterrCore
import MeterrStore

/// `/api/orgs`, `/api/teams`, `/api/projects`, `/api/keys`, `/api/audit`: an organisation's own
/// management. Every call acts for the key's organisation; another organisation's ids answer 404.
struct AdminRoutes: Sendable {
    let accounts: any AccountStore
    let principals: PrincipalCache
    let teams: TeamDirectory
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
        return try jsonResponse(OrganisationList(orgs: visible))
    }

    @Sendable func createOrganisation(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.operator)
        let members = try await object(request)
        guard let name = try optionalString(members, "name") else { throw MeterrError.invalid("name", "is required") }
        let (organisation, key) = try await accounts.createOrganisation(name: name, actor: actor(context))
        return try jsonResponse(
            CreatedOrganisation(id: organisation.id, name: organisation.name, adminKey: key), status: .created)
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
        return try jsonResponse(OrganisationTier(id: id, tier: tier.rawValue))
    }

    // MARK: teams and projects

    func listGroups(_ kind: GroupKind, _ context: AuthenticatedContext) async throws -> Response {
        try context.require(.read)
        let groups = try await accounts.groups(kind: kind, org: context.principal.orgId)
        switch kind {
        case .team: return try jsonResponse(TeamList(teams: groups.map(Team.init)))
        case .project: return try jsonResponse(ProjectList(projects: groups.map(Project.init)))
        }
    }

    func createGroup(_ kind: GroupKind, _ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let members = try await object(request)
        guard let name = try optionalString(members, "name") else { throw MeterrError.invalid("name", "is required") }
        let team = kind == .project ? try optionalString(members, "team") : nil
        let group = try await accounts.createGroup(
            kind: kind, org: context.principal.orgId, name: name, team: team, actor: actor(context))
        if kind == .team { teams.invalidate(org: context.principal.orgId) }
        switch kind {
        case .team: return try jsonResponse(Team(group), status: .created)
        case .project: return try jsonResponse(Project(group), status: .created)
        }
    }

    func deleteGroup(_ kind: GroupKind, _ context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let id = try context.parameters.require("id")
        guard try await accounts.deleteGroup(kind: kind, org: context.principal.orgId, id: id, actor: actor(context))
        else { throw MeterrError(.notFound, "no such \(kind.rawValue)") }
        if kind == .team { teams.invalidate(org: context.principal.orgId) }
        return Response(status: .noContent)
    }

    // MARK: keys

    @Sendable func listKeys(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let keys = try await accounts.keys(org: context.principal.orgId)
        return try jsonResponse(KeyList(keys: keys.map { info($0) }))
    }

    @Sendable func createKey(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let wanted = try NewKey(members: try await object(request))
        guard let scopes = KeyScopes(names: wanted.scopes) else {
            let known = KeyScopes.names.map(\.0).joined(separator: ", ")
            throw MeterrError.invalid("scopes", "must be a list of scope names (\(known))")
        }
        // A key can hand out no more than it holds.
        guard context.principal.scopes.isSuperset(of: scopes) else {
            throw MeterrError(.forbidden, "a key cannot grant scopes it does not hold", field: "scopes")
        }
        var tier: RateTier?
        if let text = wanted.tier {
            guard let value = RateTier(rawValue: text) else {
                let names = RateTier.allCases.map(\.rawValue).joined(separator: ", ")
                throw MeterrError.invalid("tier", "must be one of \(names)")
            }
            tier = value
        }
        let keyRequest = KeyRequest(
            name: wanted.name, scopes: scopes, team: wanted.team, user: wanted.user, project: wanted.project,
            expiresAt: wanted.expiresAt, tier: tier, requestsPerMinute: wanted.rpm, tokensPerMinute: wanted.tpm)
        let (record, key) = try await accounts.createKey(
            org: context.principal.orgId, keyRequest, actor: actor(context))
        return try jsonResponse(info(record, secret: key), status: .created)
    }

    @Sendable func revokeKey(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let id = try context.parameters.require("id")
        guard
            let hash = try await accounts.revokeKey(
                org: context.principal.orgId, id: id, actor: actor(context), actorScopes: context.principal.scopes)
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
        return try jsonResponse(info(record, secret: key), status: .created)
    }

    /// A key as the API shows it: its status at this moment, the secret only when just made.
    func info(_ key: KeyRecord, secret: String? = nil) -> KeyInfo {
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
        return KeyInfo(
            id: key.id, name: key.name, key: secret, prefix: key.displayPrefix + "…", scopes: key.scopes.nameList,
            team: key.team, user: key.user, project: key.project, tier: key.tier?.rawValue,
            rpm: key.requestsPerMinute, tpm: key.tokensPerMinute, status: status, createdAt: key.createdAt,
            expiresAt: key.expiresAt, lastUsedAt: key.lastUsedAt, revokedAt: key.revokedAt)
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
        return try jsonResponse(AuditLog(entries: entries))
    }
}
