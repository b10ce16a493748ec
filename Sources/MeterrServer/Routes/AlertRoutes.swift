import Hummingbird
import MeterrCore
import MeterrStore

/// `/api/alerts`: the alert log, and acknowledging alerts.
struct AlertRoutes: Sendable {
    let store: any AlertStore

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.get("alerts", use: list)
        group.post("alerts/:id/acknowledge", use: acknowledge)
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
        var json = JSONWriter()
        json.beginObject()
        json.beginArray("alerts")
        for alert in try await store.alerts(org: context.principal.orgId, limit: limit, unacknowledgedOnly: open) {
            json.beginObject()
            json.string("id", alert.id)
            json.string("kind", alert.kind)
            json.string("subject", alert.subject)
            json.string("severity", alert.severity)
            json.string("message", alert.message)
            json.string("created_at", alert.createdAt.rfc3339)
            json.string("acknowledged_at", alert.acknowledgedAt?.rfc3339)
            json.string("acknowledged_by", alert.acknowledgedBy)
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return jsonResponse(bytes: json.bytes)
    }

    @Sendable func acknowledge(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.read)
        let id = try context.parameters.require("id")
        guard try await store.acknowledge(org: context.principal.orgId, id: id, actor: context.principal.keyId) else {
            throw MeterrError(.notFound, "no such alert")
        }
        return Response(status: .noContent)
    }
}
