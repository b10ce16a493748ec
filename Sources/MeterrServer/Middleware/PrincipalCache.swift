import MeterrCore
import MeterrStore
import Synchronization

/// Principals of recently seen keys, by key hash; also notes which keys were used, for
/// `last_used_at` (written by `KeyUsageService`, never on the request path).
final class PrincipalCache: Sendable {
    let accounts: any AccountStore
    let lifetimeMilliseconds: Int64
    let clock: WallClock
    let entries = Mutex([String: (Principal, Int64)]())
    let used = Mutex(Set<String>())

    init(accounts: any AccountStore, lifetimeMilliseconds: Int64 = 10_000, clock: WallClock = .system) {
        self.accounts = accounts
        self.clock = clock
        self.lifetimeMilliseconds = lifetimeMilliseconds
    }

    func principal(forKey key: String) async throws -> Principal? {
        let hash = APIKey.hash(key)
        let now = clock.now().milliseconds
        if let (principal, expiry) = entries.withLock({ $0[hash] }), expiry > now {
            used.withLock { _ = $0.insert(principal.keyId) }
            return principal
        }
        guard let principal = try await accounts.principal(forKey: key) else { return nil }
        used.withLock { _ = $0.insert(principal.keyId) }
        // Cached a few seconds, never past the moment the key stops working.
        let expiry = min(now + lifetimeMilliseconds, principal.validUntil?.milliseconds ?? .max)
        entries.withLock { entries in
            if entries.count > 10_000 { entries.removeAll() }
            entries[hash] = (principal, expiry)
        }
        return principal
    }

    /// Forgets every cached key, so the next call of each reads its attribution anew.
    func evictAll() { entries.withLock { $0.removeAll() } }

    /// Forgets a key at once (revoked, rotated), so this node stops accepting it now.
    func evict(hash: String) {
        _ = entries.withLock { $0.removeValue(forKey: hash) }
    }

    /// The keys used since the last call.
    func takeUsed() -> [String] {
        used.withLock { used in
            defer { used.removeAll() }; return Array(used)
        }
    }
}
