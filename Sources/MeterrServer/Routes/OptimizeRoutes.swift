import Hummingbird
import MeterrCore
import MeterrStore

/// `GET /api/optimize`: the savings report over a window (`from`, `to`; the last 30 days by default),
/// for the organisation, one team (`team`) or one model or virtual model (`route`).
struct OptimizeRoutes: Sendable {
    let shapes: any CallShapeStore
    let prices: PriceBook
    let cacheSettings: ResponseCacheSettings
    let clock: WallClock

    /// Calls one report reads; a longer window is reported on its first calls, and says so.
    static let maxCalls = 250_000

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.get("optimize", use: report)
    }

    @Sendable func report(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.read)
        let query = request.uri.queryParameters
        let now = clock.now()
        let to = try query.timestamp("to") ?? now
        let from = try query.timestamp("from") ?? to.adding(milliseconds: -30 * 86_400_000)
        guard from < to else { throw MeterrError.invalid("from", "must be before to") }
        let report = try await Self.report(
            org: context.principal.orgId, from: from, to: to, team: query.get("team").flatMap { $0.isEmpty ? nil : $0 },
            route: query.get("route").flatMap { $0.isEmpty ? nil : $0 }, shapes: shapes, prices: prices,
            cacheTTL: cacheSettings.ttl, now: now)
        return try jsonResponse(report)
    }

    /// Builds the report from the ledger's calls and their shapes.
    static func report(
        org: String, from: Timestamp, to: Timestamp, team: String?, route: String?, shapes: any CallShapeStore,
        prices: PriceBook, cacheTTL: Duration, now: Timestamp
    ) async throws -> SavingsReport {
        var calls = try await shapes.shapedCalls(org: org, from: from, to: to, team: team, limit: maxCalls + 1)
        let truncated = calls.count > maxCalls
        if truncated { calls.removeLast() }
        if let route {
            let bare = route.hasPrefix("meterr/") ? String(route.dropFirst(7)) : route
            calls = calls.filter { call in
                let event = call.event
                return event.modelRequested == route || event.model == route
                    || (event.route ?? "").hasPrefix(bare + ":")
            }
        }
        let analysis = SavingsAnalysis(
            engine: prices.engine, from: from, to: to, responseCacheTTL: Int64(cacheTTL.components.seconds) * 1000,
            org: org)
        let findings = analysis.findings(calls)
        let metered = calls.filter { !($0.event.route ?? "").hasPrefix("refused:") }
        let hits = metered.filter(\.event.cacheHit)
        return SavingsReport(
            org: org, team: team, route: route, from: from, to: to, calls: metered.count,
            spendUSD: Money(nanos: metered.reduce(0) { $0 + ($1.event.cost?.nanos ?? 0) }),
            analysedCalls: metered.filter { $0.shape != nil }.count, truncated: truncated, cacheHits: hits.count,
            cacheSavedUSD: Money(nanos: hits.reduce(0) { $0 + ($1.event.saved?.nanos ?? 0) }), findings: findings,
            monthlySavingUSD: Money(nanos: findings.reduce(0) { $0 + $1.monthlySavingUSD.nanos }), generatedAt: now)
    }
}
