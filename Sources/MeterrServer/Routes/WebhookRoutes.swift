import Hummingbird
import MeterrCore
import MeterrStore

/// `/api/webhooks`: where an organisation's alerts are posted (meterr's signed JSON, or Slack).
struct WebhookRoutes: Sendable {
    let store: any WebhookStore
    let vault: CredentialVault
    let policy: UpstreamURLPolicy
    let maxBodyBytes: Int
    let clock: WallClock

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.get("webhooks", use: list)
        group.post("webhooks", use: create)
        group.delete("webhooks/:id", use: remove)
    }

    /// A webhook as the API shows it; the secret only in the answer that added it.
    func info(_ webhook: Webhook, secret: String? = nil) -> WebhookInfo {
        WebhookInfo(
            id: webhook.id, url: webhook.url, format: webhook.format, secret: secret, createdAt: webhook.createdAt)
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let webhooks = try await store.webhooks(org: context.principal.orgId)
        return try jsonResponse(WebhookList(webhooks: webhooks.map { info($0) }))
    }

    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let members = try await collectJSONObject(request, limit: maxBodyBytes, expecting: "a JSON object with url")
        guard let url = members["url"]?.string else { throw MeterrError.invalid("url", "is required") }
        let (webhook, secret) = try await add(
            org: context.principal.orgId, url: url, format: members["format"]?.string ?? "json",
            actor: context.principal.keyId)
        return try jsonResponse(info(webhook, secret: secret), status: .created)
    }

    /// Checks and stores a webhook (the API and the dashboard alike); returns it and its new secret.
    func add(org: String, url: String, format: String, actor: String) async throws -> (Webhook, String) {
        let checked: String
        do {
            checked = try policy.check(url)
        } catch let error as MeterrError {
            throw MeterrError.invalid("url", error.message)
        }
        guard format == "json" || format == "slack" else {
            throw MeterrError.invalid("format", "must be json or slack")
        }
        let webhook = Webhook(
            id: Identifier.make("whk", length: 16), orgId: org, url: checked, format: format, createdAt: clock.now())
        let secret = "whsec_" + Identifier.random(length: 32)
        try await store.createWebhook(webhook, secret: secret, vault: vault, actor: actor)
        return (webhook, secret)
    }

    @Sendable func remove(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.admin)
        let id = try context.parameters.require("id")
        guard try await store.deleteWebhook(org: context.principal.orgId, id: id, actor: context.principal.keyId) else {
            throw MeterrError(.notFound, "no such webhook")
        }
        return Response(status: .noContent)
    }
}
