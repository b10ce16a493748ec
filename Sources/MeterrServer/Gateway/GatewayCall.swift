import MeterrCore
import MeterrProviders
import MeterrRouter
import MeterrStore
import Tracing

/// One call through the gateway, and the usage event it leaves.
struct GatewayCall: Sendable {
    let gateway: Gateway
    let provider: Provider
    let endpoint: ProviderEndpoint?
    let facts: RequestFacts
    let requestBody: [UInt8]
    let principal: Principal
    let attribution: Attribution
    let reservation: BudgetGuard.Reservation
    let requestId: String
    let started: ContinuousClock.Instant
    let startedAt: Timestamp
    /// The organisation's unpriced policy, when the requested model has no price.
    let unpricedPolicy: UnpricedPolicy?
    /// How the call reached its provider (`RoutedCall.routeName`).
    var route = "direct"
    /// A routed attempt's virtual model, deployment and reasons: the event's `route` then says them.
    var routeNote: RouteNote? = nil
    /// The event's own id when it is not the request's: a routed call's later attempts each leave an
    /// event of their own, all with the call's `request_id`.
    var eventId: String? = nil
    /// The call's OpenTelemetry span, when `otel_endpoint` is configured.
    var span: (any Span)? = nil

    /// Releases what the call held: it never went upstream.
    func abandon() {
        gateway.budgets.settle(reservation, cost: nil)
        if let span {
            span.attributes["meterr.abandoned"] = true
            gateway.telemetry?.finish(span, status: 499, event: nil, at: gateway.clock.now())
        }
    }

    /// Builds, prices and hands over the call's usage event; never throws, never waits.
    /// - Parameters:
    ///   - possiblyRun: the whole request reached the provider but no answer came back: its input is
    ///     counted (estimated), since the provider may have run and billed it.
    ///   - wakesWriter: `false` when the caller wakes the ledger's writer itself once the answer has
    ///     left (`LedgerWriter.wake()`).
    @discardableResult
    func record(
        status: Int, reading: UsageReading?, stream: Bool, firstByte: ContinuousClock.Instant?,
        upstreamRequestId: String? = nil, possiblyRun: Bool = false, wakesWriter: Bool = true
    ) -> UsageEvent? {
        // Model lists and token counts cost nothing: no event.
        guard let endpoint, endpoint != .countTokens else {
            gateway.metrics.record(provider: provider, status: status, source: nil)
            gateway.budgets.settle(reservation, cost: nil)
            if let span { gateway.telemetry?.finish(span, status: status, event: nil, at: gateway.clock.now()) }
            return nil
        }
        let model = reading?.model ?? facts.model ?? "unknown"
        // No reading: nothing was used, unless the provider may have run the call unanswered.
        let (usage, source) =
            reading?.billedUsage(
                status: status, provider: provider, model: model, requestBody: requestBody,
                estimator: gateway.estimator)
            ?? (
                possiblyRun
                    ? Usage(
                        inputTokens: gateway.estimator.inputTokens(
                            provider: provider, model: model, requestBody: requestBody)) : Usage(),
                .estimated
            )
        let now = ContinuousClock.now
        var event = UsageEvent(
            id: eventId ?? requestId, ts: startedAt, org: principal.orgId, team: attribution.team,
            user: attribution.user,
            project: attribution.project, keyId: principal.keyId, tags: attribution.tags, provider: provider,
            model: model, modelRequested: facts.model, endpoint: endpoint.rawValue, usage: usage, usageSource: source,
            stream: stream, status: status, latencyMs: Int(Gateway.milliseconds(now - started)),
            ttftMs: stream ? firstByte.map { Int(Gateway.milliseconds($0 - started)) } : nil, requestId: requestId,
            upstreamRequestId: upstreamRequestId, route: route)
        event.applyPrice(from: gateway.pricer)
        if event.cost == nil {
            gateway.unpriced.applyFallback(
                &event, policy: unpricedPolicy ?? gateway.unpriced.cachedPolicy(org: principal.orgId))
        }
        if let note = routeNote {
            let baselineCost = note.baseline.flatMap { baseline in
                (try? gateway.engine.cost(
                    model: baseline.model, provider: baseline.provider, usage: usage, at: startedAt,
                    org: principal.orgId))?
                    .map(\.cost)
            }
            event.route = note.describe(cost: event.cost, baselineCost: baselineCost)
        }
        if gateway.recordsShapes, endpoint.isCacheable {
            let job = CallAnalyzer.Job(
                org: principal.orgId, eventId: event.id, ts: startedAt, provider: provider, endpoint: endpoint,
                body: requestBody, maxTokens: facts.maxTokens)
            gateway.writer.enqueue(
                event, shape: { CallAnalyzer.shape(job) }, shapeBytes: requestBody.count, wakesWriter: wakesWriter)
        } else {
            gateway.writer.enqueue(event, wakesWriter: wakesWriter)
        }
        gateway.limiter.consume(tokens: usage.inputTokens + usage.outputTokens, keyId: principal.keyId)
        gateway.budgets.settle(reservation, cost: event.cost)
        gateway.anomalies.observe(event)
        gateway.metrics.record(provider: provider, status: status, source: source)
        if let span {
            gateway.telemetry?.finish(
                span, status: status, event: event, at: startedAt.adding(milliseconds: Int64(event.latencyMs ?? 0)))
        }
        return event
    }
}
