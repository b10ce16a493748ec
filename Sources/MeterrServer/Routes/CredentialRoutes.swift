import Hummingbird
import MeterrCore
import MeterrStore
import Synchronization

/// `/api/credentials`: an organisation's provider keys, sealed at rest and only ever shown masked.
struct CredentialRoutes: Sendable {
    let store: any CredentialStore
    let cache: CredentialCache
    let policy: UpstreamURLPolicy
    let maxBodyBytes: Int

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.get("credentials", use: list)
        group.put("credentials/:provider", use: set)
        group.delete("credentials/:provider", use: remove)
    }

    func provider(_ context: AuthenticatedContext) throws -> Provider {
        let name = try context.parameters.require("provider")
        guard let provider = Provider(rawValue: name) else {
            throw MeterrError(.notFound, "unknown provider \(name)", field: "provider")
        }
        return provider
    }

    /// A credential as the API shows it: masked.
    func credential(_ record: CredentialRecord) -> Credential {
        Credential(
            provider: record.provider, team: record.team, key: record.masked, baseURL: record.baseURL,
            updatedAt: record.updatedAt)
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let records = try await store.credentials(org: context.principal.orgId)
        return try jsonResponse(CredentialList(credentials: records.map(credential)))
    }

    @Sendable func set(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let provider = try provider(context)
        let members = try await collectJSONObject(request, limit: maxBodyBytes, expecting: "a JSON object with key")
        guard let secret = members["key"]?.string else { throw MeterrError.invalid("key", "is required") }
        let team = members["team"]?.string
        var baseURL: String?
        if let value = members["base_url"], !value.isNull {
            guard let text = value.string else { throw MeterrError.invalid("base_url", "must be a string") }
            baseURL = try policy.check(text)
        }
        let record = try await store.setCredential(
            org: context.principal.orgId, team: team, provider: provider, secret: secret, baseURL: baseURL,
            vault: cache.vault, actor: context.principal.keyId)
        cache.forget(org: context.principal.orgId)
        return try jsonResponse(credential(record))
    }

    @Sendable func remove(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let provider = try provider(context)
        let team = request.uri.queryParameters.get("team")
        guard
            try await store.deleteCredential(
                org: context.principal.orgId, team: team, provider: provider, actor: context.principal.keyId)
        else { throw MeterrError(.notFound, "no such credential") }
        cache.forget(org: context.principal.orgId)
        return Response(status: .noContent)
    }
}
