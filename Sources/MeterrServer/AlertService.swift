import Logging
import MeterrCore
import MeterrStore
import ServiceLifecycle

/// What budgets and anomaly detection find on the request path, written off it.
package enum Finding: Sendable {
    case alert(AlertRecord)
    case block(AnomalyBlock)
    /// A key called a model for the first time.
    case keyModel(org: String, keyId: String, model: String, at: Timestamp)
}

/// Records alerts off the request path: callers hand them over without waiting; the service applies
/// the organisation's cool-downs, writes them to the alert log (each dedupe key once), queues them
/// for the webhooks, re-sends unacknowledged ones on their rule's schedule, and drains what is
/// queued on shutdown. Anomaly blocks and first-seen models are written the same way.
final class AlertService: Service, Sendable {
    let store: any AlertStore & PolicyStore
    let webhooks: any WebhookStore
    let policies: PolicyCache
    let clock: WallClock
    /// How often unacknowledged alerts are checked for re-sending.
    let tick: Duration
    let logger: Logger
    /// Where people reach the dashboard (`public_url`), for links in webhook payloads.
    let publicURL: String?
    /// The organisations' keys, so that webhook messages name a key as people know it.
    let accounts: (any AccountStore)?
    private let stream: AsyncStream<Finding>
    private let continuation: AsyncStream<Finding>.Continuation

    init(
        store: any AlertStore & PolicyStore, webhooks: any WebhookStore, policies: PolicyCache, clock: WallClock,
        tick: Duration, logger: Logger, publicURL: String? = nil, accounts: (any AccountStore)? = nil
    ) {
        self.publicURL = publicURL
        self.accounts = accounts
        self.store = store
        self.webhooks = webhooks
        self.policies = policies
        self.clock = clock
        self.tick = tick
        self.logger = logger
        (stream, continuation) = AsyncStream.makeStream(of: Finding.self, bufferingPolicy: .bufferingNewest(10_000))
    }

    /// Hands an alert over; never blocks.
    func raise(_ alert: AlertRecord) { continuation.yield(.alert(alert)) }

    /// Hands any finding over; never blocks.
    func report(_ finding: Finding) { continuation.yield(finding) }

    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask {
                while !Task.isShuttingDownGracefully && !Task.isCancelled {
                    await self.renotify(now: self.clock.now())
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.tick) }
                }
            }
            await withGracefulShutdownHandler {
                for await finding in stream { await handle(finding) }
            } onGracefulShutdown: {
                self.continuation.finish()
            }
        }
    }

    func handle(_ finding: Finding) async {
        do {
            switch finding {
            case .alert(let alert): try await record(alert)
            case .block(let block): try await store.recordBlock(block)
            case .keyModel(let org, let keyId, let model, let at):
                try await store.recordKeyModel(org: org, keyId: keyId, model: model, at: at)
            }
        } catch {
            logger.error("a finding could not be recorded", metadata: ["error": "\(type(of: error))"])
        }
    }

    static func rank(_ severity: String) -> Int { ["info": 0, "warning": 1, "critical": 2][severity] ?? 0 }

    /// Records one alert unless its kind is cooling down for its subject (a more severe one passes).
    func record(_ alert: AlertRecord) async throws {
        let rule = try await policies.policy(org: alert.orgId).rule(for: alert.kind)
        if rule.cooldownMinutes > 0,
            let last = try await store.latestAlert(org: alert.orgId, kind: alert.kind, subject: alert.subject),
            alert.createdAt.milliseconds - last.createdAt.milliseconds < Int64(rule.cooldownMinutes) * 60_000,
            Self.rank(alert.severity) <= Self.rank(last.severity)
        {
            logger.debug(
                "alert cooling down", metadata: ["kind": "\(alert.kind)", "subject": "\(alert.subject ?? "")"])
            return
        }
        var alert = alert
        if rule.renotifyMinutes > 0 && alert.notify {
            alert.renotifyAt = alert.createdAt.adding(milliseconds: Int64(rule.renotifyMinutes) * 60_000)
        }
        for recorded in try await store.recordAlerts([alert]) {
            // Queued in the same database, so a restart still delivers it.
            if recorded.notify {
                let sent = await named(recorded)
                try await webhooks.enqueueDeliveries(alert: recorded, deliveryKey: recorded.id) {
                    WebhookSender.payload(sent, format: $0.format, publicURL: publicURL)
                }
            }
            logger.notice(
                "alert",
                metadata: [
                    "org": "\(recorded.orgId)", "kind": "\(recorded.kind)", "message": "\(recorded.message)",
                ])
        }
    }

    /// The alert as a webhook tells it: key ids in its message become `"name" (id)`, as on the dashboard.
    /// The alert log keeps the message as raised.
    func named(_ alert: AlertRecord) async -> AlertRecord {
        guard let accounts, alert.message.contains("key_"),
            let keys = try? await accounts.keys(org: alert.orgId)
        else { return alert }
        var named = alert
        for key in keys where named.message.contains(key.id) {
            named.message = named.message.replacing(key.id, with: "\"\(key.name)\" (\(key.id))")
        }
        return named
    }

    /// Sends unacknowledged alerts whose re-send time has come to the webhooks again, each with its
    /// own delivery key (`<alert id>#<n>`).
    func renotify(now: Timestamp) async {
        do {
            for (alert, notifications) in try await store.dueRenotifications(now: now, limit: 100) {
                // A rule set to 0 since the alert was raised stops its reminders.
                let interval = Int64(try await policies.policy(org: alert.orgId).rule(for: alert.kind).renotifyMinutes)
                if interval > 0 {
                    let sent = await named(alert)
                    try await webhooks.enqueueDeliveries(alert: alert, deliveryKey: "\(alert.id)#\(notifications + 1)")
                    {
                        WebhookSender.payload(
                            sent, format: $0.format, renotification: notifications, publicURL: publicURL)
                    }
                }
                try await store.markNotified(
                    id: alert.id, sent: interval > 0,
                    next: interval > 0 ? now.adding(milliseconds: interval * 60_000) : nil)
            }
        } catch {
            logger.error("unacknowledged alerts could not be re-sent", metadata: ["error": "\(type(of: error))"])
        }
    }
}
