import Hummingbird
import MeterrCore
import MeterrStore

/// `GET /api/cache`: how many answers the response cache holds for the organisation and their size;
/// `DELETE /api/cache`: drops them all (owners and admins).
struct CacheRoutes: Sendable {
    let answers: any ResponseCacheStore

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.get("cache", use: stats)
        group.delete("cache", use: purge)
    }

    @Sendable func stats(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.read)
        return try jsonResponse(try await answers.stats(org: context.principal.orgId))
    }

    @Sendable func purge(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let dropped = try await answers.purge(org: context.principal.orgId)
        return try jsonResponse(["deleted": dropped])
    }
}
