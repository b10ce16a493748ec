import Hummingbird
import MeterrCore
import MeterrStore

/// `GET /api/usage/health`: each model's calls over a window (this month by default, whole UTC days):
/// failures, meterr's refusals, and latency and time-to-first-token percentiles.
struct ModelHealthRoutes: Sendable {
    let health: any CallHealthStore
    let clock: WallClock

    /// The answer: one entry per provider and model, most calls first.
    struct Answer: Encodable {
        var from: Timestamp
        var to: Timestamp
        var models: [ModelHealth]
    }

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.get("usage/health", use: report)
    }

    @Sendable func report(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.read)
        let query = request.uri.queryParameters
        let now = clock.now()
        let to = try query.timestamp("to") ?? now
        let from = (try query.timestamp("from") ?? now.monthStart).dayStart
        guard from < to else { throw MeterrError.invalid("from", "must be before to") }
        let models = try await health.modelHealth(org: context.principal.orgId, from: from, to: to)
        return try jsonResponse(Answer(from: from, to: to, models: models))
    }
}
