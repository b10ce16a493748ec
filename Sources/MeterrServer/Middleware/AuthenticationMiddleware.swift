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
