import Hummingbird
import MeterrCore
import MeterrStore
import Synchronization

/// Decrypted provider credentials of recent calls, for a few seconds, so the gateway does not open
/// the database on every call. Changed credentials are forgotten at once.
final class CredentialCache: Sendable {
    let store: any CredentialStore
    let vault: CredentialVault
    struct Key: Hashable {
        var org: String
        var team: String?
        var provider: Provider
    }
    let entries = Mutex([Key: (StoredCredential?, Int64)]())
    let clock: WallClock

    init(store: any CredentialStore, vault: CredentialVault, clock: WallClock) {
        self.clock = clock
        self.store = store
        self.vault = vault
    }

    /// The stored credential for a call, or `nil` (the gateway then uses the configured one).
    func secret(org: String, team: String?, provider: Provider) async throws -> StoredCredential? {
        let key = Key(org: org, team: team, provider: provider)
        let now = clock.now().milliseconds
        if let (secret, expiry) = entries.withLock({ $0[key] }), expiry > now { return secret }
        let secret = try await store.credentialSecret(org: org, team: team, provider: provider, vault: vault)
        entries.withLock { entries in
            if entries.count > 10_000 { entries.removeAll() }
            entries[key] = (secret, now + 10_000)
        }
        return secret
    }

    /// Forgets an organisation's cached credentials.
    func forget(org: String) { entries.withLock { $0 = $0.filter { $0.key.org != org } } }
}

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

    func write(_ record: CredentialRecord, to json: inout JSONWriter) {
        json.beginObject()
        json.string("provider", record.provider.rawValue)
        json.string("team", record.team)
        json.string("key", record.masked)
        json.string("base_url", record.baseURL)
        json.string("updated_at", record.updatedAt.rfc3339)
        json.endObject()
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        var json = JSONWriter()
        json.beginObject()
        json.beginArray("credentials")
        for record in try await store.credentials(org: context.principal.orgId) { write(record, to: &json) }
        json.endArray()
        json.endObject()
        return jsonResponse(bytes: json.bytes)
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
        var out = JSONWriter()
        write(record, to: &out)
        return jsonResponse(bytes: out.bytes)
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
