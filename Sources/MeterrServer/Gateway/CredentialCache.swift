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
