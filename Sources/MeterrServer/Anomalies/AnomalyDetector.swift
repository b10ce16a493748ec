import Logging
import MeterrCore
import MeterrStore
import ServiceLifecycle
import Synchronization

/// Anomaly detection per organisation, team, user and key: exponentially weighted baselines of
/// hourly cost, tokens and requests, learnt from the hourly rollups and kept current by every call.
///
/// A cost or token hour beyond `sigma` standard deviations above its baseline climbs a ladder by
/// its multiple of the baseline: log, alert, block for a while (an open investigation), block until
/// lifted (escalated). A request rate above `rate_multiple` × normal is capped for the rest of the
/// hour. A key's first call to a model it never used raises a review alert. Until an entity has
/// `warmup_hours` of baseline, nothing blocks or caps it.
package final class AnomalyDetector: Sendable {
    /// Why a call was refused.
    package struct Refusal: Sendable, Error {
        var message: String
        /// When the call may be tried again (`nil`: not before the block is lifted).
        var retryAt: Timestamp?
    }

    /// One organisation's learnt baselines. A class: a call's updates reach them with one lookup of
    /// the organisation, and change its tables in place. Touched only under the detector's lock.
    final class Organisation: @unchecked Sendable {
        /// By entity (`org`, `team:…`, `user:…`, `key:…`).
        var activity: [String: EntityActivity]
        /// By key id: the models (`provider/model`) each key has called.
        var keyModels: [String: Set<String>]

        init(activity: [String: EntityActivity], keyModels: [String: Set<String>]) {
            self.activity = activity
            self.keyModels = keyModels
        }
    }

    struct State {
        /// The organisations whose baselines are learnt.
        var organisations: [String: Organisation] = [:]
        var blocks: [String: [AnomalyBlock]] = [:]
        /// By organisation: the latest hour in which one of its entities was rate-limited.
        var rateLimitedHour: [String: Int64] = [:]
        /// The organisations whose baselines are being learnt, and the work every caller waits for.
        var learning: [String: Task<Void, any Error>] = [:]
    }

    /// How far back baselines are learnt from the rollups when an organisation is first seen.
    static let lookbackHours: Int64 = 24 * 28

    let store: any PolicyStore
    let policies: PolicyCache
    let clock: WallClock
    let report: @Sendable (Finding) -> Void
    private let state = Mutex(State())

    package init(
        store: any PolicyStore, policies: PolicyCache, clock: WallClock, report: @escaping @Sendable (Finding) -> Void
    ) {
        self.store = store
        self.policies = policies
        self.clock = clock
        self.report = report
    }

    /// Loads the blocks still in force (at start).
    func loadBlocks() async throws {
        let blocks = try await store.unliftedBlocks()
        state.withLock { $0.blocks = Dictionary(grouping: blocks, by: \.orgId) }
    }

    /// Learns an organisation's baselines from its hourly rollups, once. Calls that come while they are
    /// being learnt (at start, before the warm-up reaches their organisation) wait for that one read
    /// instead of each making its own; a failed read is tried again by the next call.
    package func prepare(org: String) async throws {
        let learning: Task<Void, any Error>? = state.withLock { state in
            if state.organisations[org] != nil { return nil }
            if let running = state.learning[org] { return running }
            // Off the event loops: four weeks of a large organisation's rollups take a while to fold.
            let task = Task(executorPreference: globalConcurrentExecutor) { try await self.learn(org: org) }
            state.learning[org] = task
            return task
        }
        try await learning?.value
    }

    private func learn(org: String) async throws {
        do {
            let alpha = try await policies.policy(org: org).anomalies.alpha
            let currentHour = clock.now().hourStart.milliseconds
            // Each entity's hours come oldest first, folded as they are read: memory grows with the
            // entities, not with their hours.
            var built = try await store.foldHourlyTotals(
                org: org, from: Timestamp(milliseconds: currentHour - Self.lookbackHours * 3_600_000),
                into: [String: EntityActivity]()
            ) { built, hour in
                guard hour.hour.milliseconds <= currentHour else { return }
                var activity = built[hour.entity] ?? EntityActivity(hour: hour.hour.milliseconds)
                activity.advance(to: hour.hour.milliseconds, alpha: alpha)
                activity.costNanos = hour.costNanos
                activity.tokens = hour.tokens
                activity.requests = hour.requests
                built[hour.entity] = activity
            }
            let models = try await store.keyModels(org: org)
            for entity in built.keys { built[entity]!.advance(to: currentHour, alpha: alpha) }
            state.withLock { state in
                state.learning[org] = nil
                guard state.organisations[org] == nil else { return }
                state.organisations[org] = Organisation(activity: built, keyModels: models)
            }
        } catch {
            state.withLock { _ = $0.learning.removeValue(forKey: org) }
            throw error
        }
    }

    /// Refuses a call from a blocked or rate-capped entity.
    package func admit(org: String, team: String?, user: String?, keyId: String?, now: Timestamp) -> Refusal? {
        let hour = now.hourStart.milliseconds
        // The usual call: nothing of its organisation is blocked or rate-limited, and its entities'
        // names are not built.
        let clear = state.withLock { state in
            state.blocks[org]?.isEmpty ?? true && state.rateLimitedHour[org] != hour
        }
        if clear { return nil }
        let entities = AnomalyEntity.of(team: team, user: user, keyId: keyId)
        return state.withLock { state in
            if let block = state.blocks[org]?.first(where: { $0.isActive(at: now) && entities.contains($0.entity) }) {
                let until = block.until.map { "until \($0.rfc3339)" } ?? "until an admin lifts it"
                return Refusal(
                    message: "\(block.entity) is blocked by anomaly detection \(until) (\(block.reason)); "
                        + "lift it with POST /api/anomalies/blocks/\(block.id)/lift",
                    retryAt: block.until)
            }
            for entity in entities {
                if let activity = state.organisations[org]?.activity[entity], activity.rateLimited,
                    activity.hour == hour
                {
                    let retry = Timestamp(milliseconds: hour + 3_600_000)
                    return Refusal(
                        message: "\(entity) is rate-limited by anomaly detection until \(retry.rfc3339): its request "
                            + "rate this hour is far above its normal rate",
                        retryAt: retry)
                }
            }
            return nil
        }
    }

    /// Counts a finished call (or a reported one) and acts on what it reveals.
    package func observe(_ event: UsageEvent) {
        let settings = policies.cached(org: event.org).anomalies
        guard settings.enabled else { return }
        let now = clock.now()
        // A call reported with a time ahead of the clock counts in the current hour: a future hour
        // would fold the hours between into the baselines before they happened.
        let hour = min(event.ts.hourStart.milliseconds, now.hourStart.milliseconds)
        let findings = state.withLock { state -> [Finding] in
            guard let organisation = state.organisations[event.org] else { return [] }
            var findings: [Finding] = []
            for entity in AnomalyEntity.of(team: event.team, user: event.user, keyId: event.keyId) {
                var activity = organisation.activity[entity] ?? EntityActivity(hour: hour)
                // Hours already folded into the baselines are not reopened.
                guard hour >= activity.hour else { continue }
                activity.advance(to: hour, alpha: settings.alpha)
                activity.costNanos += event.cost?.nanos ?? 0
                activity.tokens += Int64(event.usage.inputTokens + event.usage.outputTokens)
                activity.requests += 1
                findings += evaluate(
                    &activity, entity: entity, org: event.org, settings: settings, now: now, in: &state)
                organisation.activity[entity] = activity
            }
            if let keyId = event.keyId {
                let model = event.provider.rawValue + "/" + event.model
                let known = organisation.keyModels[keyId]
                if known?.contains(model) != true {
                    organisation.keyModels[keyId, default: []].insert(model)
                    findings.append(.keyModel(org: event.org, keyId: keyId, model: model, at: event.ts))
                    // A key's first models are how it starts, not a change: only a key with a settled
                    // baseline (min_baseline_hours of use) is alerted on, and once an hour at most
                    // (further new models that hour are in the key's model list).
                    let settled =
                        (organisation.activity[AnomalyEntity.key(keyId)]?.hoursObserved ?? 0)
                        >= settings.minBaselineHours
                    if known != nil && settled && settings.newModelAlerts {
                        findings.append(
                            .alert(
                                AlertRecord(
                                    id: Identifier.make("alr", length: 16), orgId: event.org, kind: "anomaly.new_model",
                                    subject: AnomalyEntity.key(keyId), severity: "warning",
                                    message: "key \(keyId) called \(model) for the first time; review that it should",
                                    dedupeKey: "anomaly-model:\(event.org):\(keyId):\(now.hourStart.milliseconds)",
                                    createdAt: now
                                ).withDetails(["key_id": keyId, "model": model, "page": "/keys"])))
                    }
                }
            }
            return findings
        }
        findings.forEach(report)
    }

    /// The ladder for one entity after a call: spikes of cost and tokens, and the request rate.
    private func evaluate(
        _ activity: inout EntityActivity, entity: String, org: String, settings: AnomalySettings, now: Timestamp,
        in state: inout State
    ) -> [Finding] {
        guard activity.hoursObserved >= settings.minBaselineHours else { return [] }
        let warmedUp = activity.hoursObserved >= settings.warmupHours
        var findings: [Finding] = []
        let metrics: [(name: String, value: Double, baseline: Baseline, minimum: Double)] = [
            ("cost", Double(activity.costNanos), activity.costBaseline, Double(settings.minHourlyCost.nanos)),
            ("tokens", Double(activity.tokens), activity.tokensBaseline, Double(settings.minHourlyTokens)),
        ]
        for metric in metrics {
            let baseline = metric.baseline
            guard metric.value >= metric.minimum, metric.value > baseline.mean + settings.sigma * baseline.deviation
            else { continue }
            let multiple = baseline.mean > 0 ? metric.value / baseline.mean : .infinity
            var rung =
                multiple >= settings.escalateMultiple
                ? 4
                : multiple >= settings.blockMultiple
                    ? 3 : multiple >= settings.alertMultiple ? 2 : multiple >= settings.logMultiple ? 1 : 0
            if !warmedUp { rung = min(rung, 2) }
            let raised = metric.name == "cost" ? activity.costRung : activity.tokenRung
            guard rung > raised else { continue }
            if metric.name == "cost" { activity.costRung = rung } else { activity.tokenRung = rung }
            let times = multiple < 1_000_000 ? "\(Int(multiple.rounded()))×" : "far above"
            let amount =
                metric.name == "cost"
                ? "\(Money(nanos: activity.costNanos).decimalString) USD this hour against a baseline of "
                    + "\(Money(nanos: Int64(baseline.mean.rounded())).decimalString) USD"
                : "\(activity.tokens) tokens this hour against a baseline of \(Int64(baseline.mean.rounded()))"
            let what = "\(entity) \(metric.name) is \(times) its hourly baseline: \(amount)"
            let dedupe = "anomaly:\(org):\(entity):\(metric.name):\(activity.hour)"
            switch rung {
            case 1, 2:
                findings.append(
                    .alert(
                        AlertRecord(
                            id: Identifier.make("alr", length: 16), orgId: org, kind: "anomaly.spike", subject: entity,
                            severity: rung == 1 ? "info" : "warning", message: what, dedupeKey: "\(dedupe):\(rung)",
                            createdAt: now, notify: rung >= 2)))
            default:
                let escalate = rung == 4
                // An escalation turns a block for a while into one until lifted.
                let active = state.blocks[org]?.first { $0.entity == entity && $0.isActive(at: now) }
                var block: AnomalyBlock?
                if active == nil || (escalate && active?.level != "escalation") {
                    let made = AnomalyBlock(
                        id: Identifier.make("blk", length: 16), orgId: org, entity: entity,
                        level: escalate ? "escalation" : "block", reason: what, createdAt: now,
                        until: escalate ? nil : now.adding(milliseconds: Int64(settings.blockMinutes) * 60_000))
                    state.blocks[org, default: []].append(made)
                    findings.append(.block(made))
                    block = made
                }
                let until = block.map { $0.until.map { "until \($0.rfc3339)" } ?? "until lifted" } ?? "already"
                let lift = block.map { "; lift with POST /api/anomalies/blocks/\($0.id)/lift" } ?? ""
                findings.append(
                    .alert(
                        AlertRecord(
                            id: Identifier.make("alr", length: 16), orgId: org,
                            kind: escalate ? "anomaly.escalation" : "anomaly.block", subject: entity,
                            severity: "critical",
                            message:
                                "\(what); blocked \(until)\(escalate ? ", escalated" : ", investigation opened")\(lift)",
                            dedupeKey: "\(dedupe):\(rung)", createdAt: now)))
            }
        }
        let requests = activity.requestsBaseline
        if warmedUp && !activity.rateLimited
            && Double(activity.requests)
                >= max(Double(settings.minHourlyRequests), settings.rateMultiple * requests.mean)
        {
            activity.rateLimited = true
            state.rateLimitedHour[org] = max(state.rateLimitedHour[org] ?? .min, activity.hour)
            findings.append(
                .alert(
                    AlertRecord(
                        id: Identifier.make("alr", length: 16), orgId: org, kind: "anomaly.rate", subject: entity,
                        severity: "warning",
                        message: "\(entity) made \(activity.requests) requests this hour against a baseline of "
                            + "\(Int64(requests.mean.rounded())); rate-limited until the hour ends",
                        dedupeKey: "anomaly-rate:\(org):\(entity):\(activity.hour)", createdAt: now)))
        }
        return findings
    }

    /// Lifts a block (the store has already recorded it).
    func lifted(_ block: AnomalyBlock) {
        state.withLock { state in
            state.blocks[block.orgId]?.removeAll { $0.id == block.id }
            // What tripped it this hour does not trip it again.
            if let organisation = state.organisations[block.orgId], var activity = organisation.activity[block.entity] {
                activity.costRung = max(activity.costRung, 4)
                activity.tokenRung = max(activity.tokenRung, 4)
                organisation.activity[block.entity] = activity
            }
        }
    }

    /// A snapshot of an organisation's baselines, for the API.
    func activity(org: String) -> [String: EntityActivity] {
        state.withLock { $0.organisations[org]?.activity ?? [:] }
    }
}

/// Learns every organisation's baselines when meterr starts, so no first call waits for its
/// organisation's four weeks of rollups to be read.
struct AnomalyWarmUp: Service, CustomStringConvertible {
    var description: String { "AnomalyWarmUp" }

    let detector: AnomalyDetector
    let accounts: any AccountStore
    let logger: Logger

    func run() async throws {
        do {
            for organisation in try await accounts.organisations() {
                if Task.isShuttingDownGracefully || Task.isCancelled { break }
                try await detector.prepare(org: organisation.id)
            }
        } catch {
            logger.warning("anomaly baselines will be learnt on first use", metadata: ["error": "\(type(of: error))"])
        }
        try? await gracefulShutdown()
    }
}
