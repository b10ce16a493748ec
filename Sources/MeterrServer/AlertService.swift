import Logging
import MeterrCore
import MeterrStore
import ServiceLifecycle

/// Records alerts off the request path: callers hand them over without waiting; the service writes
/// them to the alert log (each dedupe key once) and drains what is queued on shutdown.
final class AlertService: Service, Sendable {
    let store: any AlertStore
    let webhooks: any WebhookStore
    let logger: Logger
    private let stream: AsyncStream<Alert>
    private let continuation: AsyncStream<Alert>.Continuation

    init(store: any AlertStore, webhooks: any WebhookStore, logger: Logger) {
        self.store = store
        self.webhooks = webhooks
        self.logger = logger
        (stream, continuation) = AsyncStream.makeStream(of: Alert.self, bufferingPolicy: .bufferingNewest(10_000))
    }

    /// Hands an alert over; never blocks.
    func raise(_ alert: Alert) { continuation.yield(alert) }

    func run() async throws {
        await withGracefulShutdownHandler {
            for await alert in stream {
                do {
                    for recorded in try await store.recordAlerts([alert]) {
                        // Queued in the same database, so a restart still delivers it.
                        try await webhooks.enqueueDeliveries(alert: recorded) {
                            WebhookSender.payload(recorded, format: $0.format)
                        }
                        logger.notice(
                            "alert",
                            metadata: [
                                "org": "\(recorded.orgId)", "kind": "\(recorded.kind)",
                                "message": "\(recorded.message)",
                            ])
                    }
                } catch {
                    logger.error("an alert could not be recorded", metadata: ["kind": "\(alert.kind)"])
                }
            }
        } onGracefulShutdown: {
            self.continuation.finish()
        }
    }
}
