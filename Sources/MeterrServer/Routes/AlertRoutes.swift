import Hummingbird
import MeterrCore
import MeterrStore

/// `/api/alerts`: the alert log, and acknowledging alerts.
struct AlertRoutes: Sendable {
    let store: any AlertStore

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.get("alerts", use: list)
        group.post("alerts/:id/acknowledge", use: acknowledge)
        group.post("alerts/acknowledge", use: acknowledgeAll)
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.read)
        let query = request.uri.queryParameters
        var limit = 100
        if let text = query.get("limit") {
            guard let value = Int(text), (1...1000).contains(value) else {
                throw MeterrError.invalid("limit", "must be an integer from 1 to 1000")
            }
            limit = value
        }
        let open = query.get("unacknowledged") == "true"
        let alerts = try await store.alerts(org: context.principal.orgId, limit: limit, unacknowledgedOnly: open)
        return try jsonResponse(AlertList(alerts: alerts.map(\.alert)))
    }

    @Sendable func acknowledge(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.read)
        let id = try context.parameters.require("id")
        guard try await store.acknowledge(org: context.principal.orgId, id: id, actor: context.principal.keyId) else {
            throw MeterrError(.notFound, "no such alert")
        }
        return Response(status: .noContent)
    }

    /// Acknowledges every open alert, or those of `?kind=` and `?severity=`; answers how many.
    @Sendable func acknowledgeAll(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.read)
        let query = request.uri.queryParameters
        let severity = query.get("severity")
        if let severity, !["info", "warning", "critical"].contains(severity) {
            throw MeterrError.invalid("severity", "must be info, warning or critical")
        }
        let count = try await store.acknowledgeAll(
            org: context.principal.orgId, kind: query.get("kind"), severity: severity, actor: context.principal.keyId)
        return jsonResponse(bytes: Array("{\"acknowledged\":\(count)}".utf8))
    }
}
