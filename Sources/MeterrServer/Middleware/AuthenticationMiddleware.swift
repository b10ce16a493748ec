import Foundation
import Hummingbird
import MeterrCore
import MeterrStore
import Synchronization

/// Finds the principal of the request's meterr key (`Authorization: Bearer mk_…`).
///
/// Keys are looked up by their SHA-256, never compared as text; recent lookups are cached for a
/// few seconds so the hot path does not touch the database.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = MeterrRequestContext

    let cache: PrincipalCache
    let throttle: AuthenticationThrottle

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        if let wait = throttle.blocked(context.remoteAddress) {
            var response = MeterrError(.rateLimited, "too many failed authentications from this address").response()
            response.headers[.retryAfter] = String(wait)
            return response
        }
        guard let key = request.headers[.authorization].flatMap(PresentedKey.bearer) else {
            throttle.failed(context.remoteAddress)
            throw APIError(.unauthenticated, "send a meterr key as Authorization: Bearer mk_…")
        }
        guard APIKey.isWellFormed(key), let principal = try await cache.principal(forKey: key) else {
            throttle.failed(context.remoteAddress)
            throw APIError(.unauthenticated, "the meterr key is not valid")
        }
        var context = context
        context.principal = principal
        return try await next(request, context)
    }
}

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
