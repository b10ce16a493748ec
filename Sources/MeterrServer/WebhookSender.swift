import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import MeterrCore
import MeterrStore
import MeterrUpstream
import NIOCore
import ServiceLifecycle

/// Posts queued alerts to their webhooks, signed, retrying failures with exponential back-off. The
/// queue lives in the database, so a restart resumes where it stopped; each delivery carries the
/// alert id as its dedupe key.
final class WebhookSender: Service, Sendable {
    let store: any WebhookStore
    let vault: CredentialVault
    let clients: WebhookClients
    let retryBase: Duration
    let maxAttempts = 12
    let clock: WallClock
    let logger: Logger

    init(
        store: any WebhookStore, vault: CredentialVault, clients: WebhookClients, retryBase: Duration,
        clock: WallClock, logger: Logger
    ) {
        self.clock = clock
        self.store = store
        self.vault = vault
        self.clients = clients
        self.retryBase = retryBase
        self.logger = logger
    }

    /// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the webhook's secret>`.
    static func signature(secret: String, timestamp: Int64, body: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(
            for: Array("\(timestamp).\(body)".utf8), using: SymmetricKey(data: Array(secret.utf8)))
        return "t=\(timestamp),v1=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    /// The body posted for an alert; `renotification` counts how often it was sent before.
    static func payload(_ alert: AlertRecord, format: String, renotification: Int = 0, publicURL: String? = nil)
        -> String
    {
        var json = JSONWriter()
        json.beginObject()
        let link = publicURL.map { $0 + (alert.details["page"] ?? "/alerts") }
        if format == "slack" {
            let reminder = renotification > 0 ? " (reminder \(renotification), unacknowledged)" : ""
            json.string(
                "text", "[meterr] \(alert.severity): \(alert.message)\(reminder)" + (link.map { " <\($0)>" } ?? ""))
        } else {
            json.string("id", alert.id)
            json.string("kind", alert.kind)
            json.string("severity", alert.severity)
            json.string("message", alert.message)
            json.string("org", alert.orgId)
            json.string("subject", alert.subject)
            json.string("created_at", alert.createdAt.rfc3339)
            if renotification > 0 { json.int("renotification", renotification) }
            // The alert's facts as fields (budget name, limit, spent, period, model…), and where to look.
            json.stringMap("details", alert.details.filter { $0.key != "page" })
            if let link { json.string("url", link) }
        }
        json.endObject()
        return String(decoding: json.bytes, as: UTF8.self)
    }

    func run() async throws {
        // The queue is polled (an indexed query); a graceful shutdown ends the wait at once.
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await deliverDue()
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(250)) }
        }
    }

    func deliverDue() async {
        let due: [Delivery]
        do {
            due = try await store.dueDeliveries(now: clock.now(), limit: 50, vault: vault)
        } catch {
            logger.error("webhook queue could not be read")
            return
        }
        for delivery in due { await deliver(delivery) }
    }

    func deliver(_ delivery: Delivery) async {
        let timestamp = clock.now().milliseconds / 1000
        var request = HTTPClientRequest(url: delivery.webhook.url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: "meterr-webhooks")
        request.headers.add(name: "x-meterr-delivery", value: delivery.alertId)
        request.headers.add(
            name: "x-meterr-signature",
            value: Self.signature(secret: delivery.secret, timestamp: timestamp, body: delivery.payload))
        request.body = .bytes(ByteBuffer(string: delivery.payload))
        var failure: String?
        do {
            let response = try await clients.client(for: delivery.webhook.url).execute(
                request, timeout: .seconds(10), logger: logger)
            if (200..<300).contains(response.status.code) {
                try await store.markDelivered(seq: delivery.seq, at: clock.now())
                return
            }
            failure = "HTTP \(response.status.code)"
        } catch {
            failure = "\(type(of: error))"
        }
        let attempts = delivery.attempts + 1
        // Exponential back-off with a little jitter; after the last attempt the delivery stays failed.
        let factor = Int64(1) << min(attempts - 1, 16)
        let base = retryBase.components.seconds * 1000 + retryBase.components.attoseconds / 1_000_000_000_000_000
        let delay = min(base * factor, 3_600_000) + Int64.random(in: 0...max(1, base / 10))
        let next = attempts >= maxAttempts ? Timestamp(milliseconds: .max) : clock.now().adding(milliseconds: delay)
        try? await store.markFailed(
            seq: delivery.seq, attempts: attempts, nextAttempt: next, error: failure ?? "failed")
        logger.warning(
            "webhook delivery failed",
            metadata: ["webhook": "\(delivery.webhook.id)", "attempt": "\(attempts)", "error": "\(failure ?? "")"])
    }
}

/// The webhooks' HTTP clients: a direct one, and one per proxy that provider calls use
/// (`upstream_proxy`), chosen per URL by the same rules (`upstream_no_proxy`, loopback direct).
struct WebhookClients: Sendable {
    let direct: HTTPClient
    private let proxied: [UpstreamProxy: HTTPClient]
    private let proxies: UpstreamProxies

    init(configuration: HTTPClient.Configuration, proxies: UpstreamProxies) {
        direct = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        var proxied: [UpstreamProxy: HTTPClient] = [:]
        for proxy in [proxies.https, proxies.http].compactMap({ $0 }) where proxied[proxy] == nil {
            var through = configuration
            through.proxy = .server(
                host: proxy.host, port: proxy.port, authorization: proxy.credentials.map { .basic(credentials: $0) })
            proxied[proxy] = HTTPClient(eventLoopGroupProvider: .singleton, configuration: through)
        }
        self.proxied = proxied
        self.proxies = proxies
    }

    func client(for url: String) -> HTTPClient {
        proxies.proxy(forURL: url).flatMap { proxied[$0] } ?? direct
    }

    func shutdown() async throws {
        try await direct.shutdown()
        for client in proxied.values { try await client.shutdown() }
    }
}
