import HTTPTypes
import Logging
import MeterrCore
import MeterrProviders
import MeterrStore
import NIOCore
import NIOHTTP1

/// The gateway's response cache: which calls it covers, the answers it serves, the answers it keeps.
///
/// A hit is answered by meterr alone: the provider is not called, the call costs nothing and is
/// recorded with `cache_hit: true` and `saved_usd` (what the stored usage costs at today's price); it
/// holds no budget and uses no token limit (request limits still count it). Only complete successes
/// are kept: never an error, a cut or truncated answer (`length`, `max_tokens`), or `n > 1` unless the
/// call asks with `x-meterr-cache: on`.
final class GatewayCache: Sendable {
    let settings: ResponseCacheSettings
    let store: any ResponseCacheStore
    let logger: Logger

    static let header = HTTPField.Name(MeterrHeader.cache)!
    static let keyHeader = HTTPField.Name("x-meterr-cache-key")!
    /// On a hit: what the call would have cost.
    static let savedHeader = HTTPField.Name("x-meterr-saved-usd")!
    /// The largest answer kept: bigger ones go through uncached.
    static let maxAnswerBytes = 8 << 20

    init(settings: ResponseCacheSettings, store: any ResponseCacheStore, logger: Logger) {
        self.settings = settings
        self.store = store
        self.logger = logger
    }

    /// What a call asked of the cache (`x-meterr-cache`).
    enum Asked: String {
        case on, off, refresh
    }

    /// How the cache treats one call.
    enum Use: Sendable {
        /// Not covered: no rule and no header; the answer says nothing about the cache.
        case none
        /// Covered but not cacheable (or turned off): `x-meterr-cache: bypass`.
        case bypass
        /// Looked up (unless refreshing) and stored on success.
        case use(Pending, refresh: Bool)
    }

    /// A call whose answer is to be kept once it arrives whole.
    struct Pending: Sendable {
        var key: ResponseCacheKey
        var org: String
        var ttl: Duration
        var user: String?
        /// A routed call's first deployment: only its answer is kept under the key.
        var deployment: String?
    }

    /// How the cache treats a call, from the rules and the call's headers; a bad header is refused.
    func use(
        _ call: AuthenticatedCall, _ inspected: InspectedCall, attribution: Attribution, provider: Provider,
        route: String? = nil, deployment: String? = nil
    ) throws -> Use {
        let headers = call.inbound.head.headers
        var asked: Asked?
        if let value = headers.value(MeterrHeader.cache) {
            guard let parsed = Asked(rawValue: value.lowercased()) else {
                throw GatewayRefusal(
                    .invalidRequest, "\(MeterrHeader.cache) must be on, off or refresh (got \(value))", counted: false)
            }
            asked = parsed
        }
        var ttl: Duration?
        if let value = headers.value(MeterrHeader.cacheTTL) {
            guard let seconds = Int(value), seconds >= 1, seconds <= ResponseCacheSettings.maxTTLSeconds else {
                throw GatewayRefusal(
                    .invalidRequest,
                    "\(MeterrHeader.cacheTTL) must be a number of seconds from 1 to \(ResponseCacheSettings.maxTTLSeconds)",
                    counted: false)
            }
            ttl = .seconds(seconds)
        }
        let principal = call.principal
        let rule = settings.rule(
            org: principal.orgId, team: attribution.team, key: principal.keyId, model: inspected.facts.model)
        guard asked != nil || rule != nil else { return .none }
        if asked == .off { return .bypass }
        guard call.inbound.head.method == .POST, let endpoint = inspected.endpoint, endpoint.isCacheable,
            let key = ResponseCacheKey(
                org: principal.orgId, provider: provider,
                format: call.inbound.mount.strip.isEmpty ? OpenAIWire.provider : call.inbound.mount.provider,
                endpoint: endpoint, path: call.path, query: call.inbound.query,
                headers: headers.compactMap { field in
                    let name = field.name.asciiLowercased
                    return ResponseCacheKey.keyedHeaders.contains(name) ? (name, field.value) : nil
                }, body: inspected.bytes, route: route),
            !key.storesUpstream, key.choices == 1 || asked == .on
        else { return .bypass }
        let pending = Pending(
            key: key, org: principal.orgId, ttl: ttl ?? rule?.ttl ?? settings.ttl,
            user: attribution.user, deployment: deployment)
        return .use(pending, refresh: asked == .refresh)
    }

    /// Keeps a call's answer if it is a complete success; never waits and never fails the call.
    func keep(
        _ pending: Pending, status: Int, reading: UsageReading, shape: CachedAnswer.Shape, provider: Provider,
        format: Provider, model: String, contentType: String?, body: [UInt8], now: Timestamp
    ) {
        guard status == 200, reading.finished, reading.error == nil, let usage = reading.usage,
            body.count <= Self.maxAnswerBytes, !Self.truncated(body)
        else { return }
        let answer = CachedAnswer(
            shape: shape, provider: provider, format: format, model: model,
            contentType: contentType ?? (shape == .stream ? "text/event-stream" : "application/json"), body: body,
            usage: usage, responseId: reading.responseId, storedAt: now,
            expiresAt: now.adding(milliseconds: Int64(pending.ttl.components.seconds) * 1000), user: pending.user)
        let (store, logger) = (self.store, self.logger)
        Task {
            do {
                try await store.store(org: pending.org, key: pending.key.hex, answer)
            } catch {
                logger.warning("an answer could not be cached", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Whether an answer stopped at its output limit (OpenAI `length`, Anthropic `max_tokens`, Gemini
    /// and Cohere `MAX_TOKENS`, the Responses API's `incomplete`): asked again, it might be answered whole.
    static func truncated(_ body: [UInt8]) -> Bool {
        let reasons: [(key: [UInt8], values: [[UInt8]])] = [
            (Array("\"finish_reason\"".utf8), [Array("\"length\"".utf8), Array("\"MAX_TOKENS\"".utf8)]),
            (Array("\"stop_reason\"".utf8), [Array("\"max_tokens\"".utf8)]),
            (Array("\"finishReason\"".utf8), [Array("\"MAX_TOKENS\"".utf8)]),
            (Array("\"status\"".utf8), [Array("\"incomplete\"".utf8)]),
        ]
        for (key, values) in reasons {
            var from = 0
            while let at = body[from...].range(ofBytes: key) {
                var index = at.upperBound
                while index < body.count,
                    body[index] == 0x20 || body[index] == 0x09 || body[index] == 0x0A
                        || body[index] == 0x0D || body[index] == UInt8(ascii: ":")
                {
                    index += 1
                }
                for value in values where body[index...].starts(with: value) { return true }
                from = at.upperBound
            }
        }
        return false
    }
}

extension ProviderEndpoint {
    /// The surfaces whose answers depend only on the request: generation and embeddings.
    var isCacheable: Bool {
        switch self {
        case .chatCompletions, .completions, .responses, .embeddings, .messages, .generateContent,
            .streamGenerateContent, .embedContent, .chat, .chatV1, .embed:
            true
        case .models, .countTokens:
            false
        }
    }
}

extension Gateway {
    /// The cache's answer to a call (a hit, recorded at no cost), or how the cache treats the call's own
    /// answer. A store that cannot be read is a miss, never a failed call.
    func consultCache(
        _ call: AuthenticatedCall, _ inspected: InspectedCall, provider: Provider, route: String? = nil,
        deployment: String? = nil, limitHeaders: HTTPFields
    ) async throws -> (GatewayReply?, GatewayCache.Use) {
        let fields = call.inbound.head.headers
        // Most calls: no rule could cover them and they ask nothing of the cache.
        guard let cache, !cache.settings.rules.isEmpty || fields.value(MeterrHeader.cache) != nil else {
            return (nil, .none)
        }
        let principal = call.principal
        let attribution = Attribution(fields, facts: inspected.facts, principal: principal)
        let use = try cache.use(
            call, inspected, attribution: attribution, provider: provider, route: route, deployment: deployment)
        guard case .use(let pending, refresh: false) = use, let endpoint = inspected.endpoint else { return (nil, use) }
        // A team the organisation refuses is refused on the way upstream, not answered from the cache.
        if let team = attribution.team, principal.team == nil,
            try await unpriced.policies.policy(org: principal.orgId).refuseUnknownTeams,
            try await !teams.exists(org: principal.orgId, team: team)
        {
            return (nil, use)
        }
        let now = clock.now()
        let answers: [CachedAnswer]
        do {
            answers = try await cache.store.answers(org: principal.orgId, key: pending.key.hex, now: now)
        } catch {
            logger.warning("the response cache could not be read", metadata: ["error": "\(error)"])
            return (nil, use)
        }
        let wanted: CachedAnswer.Shape = inspected.facts.stream ? .stream : .whole
        let format = call.inbound.mount.strip.isEmpty ? OpenAIWire.provider : call.inbound.mount.provider
        let stripUsage =
            Providers.profile(format).requestingStreamUsage(
                endpoint: endpoint, facts: inspected.facts, body: inspected.bytes) != nil
        for answer in answers.filter({ $0.shape == wanted }) + answers.filter({ $0.shape != wanted }) {
            guard
                let reply = CachedReply(
                    answer, stream: inspected.facts.stream, format: format, endpoint: endpoint,
                    request: inspected.bytes, model: inspected.facts.model ?? answer.model, stripUsage: stripUsage,
                    requestId: call.inbound.requestId, now: now)
            else { continue }
            let event = recordHit(call, inspected, answer, attribution: attribution, endpoint: endpoint)
            var headers = limitHeaders
            headers[.contentType] = reply.contentType
            headers[GatewayCache.header] = "hit"
            headers[GatewayCache.keyHeader] = pending.key.hex
            headers[HTTPField.Name("age")!] = String(max(0, (now.milliseconds - answer.storedAt.milliseconds) / 1000))
            headers[.meterrCost] = Money.zero.decimalString
            if let saved = event.saved { headers[GatewayCache.savedHeader] = saved.decimalString }
            return (GatewayReply(status: 200, headers: headers, body: ByteBuffer(bytes: reply.body)), use)
        }
        return (nil, use)
    }

    /// Records a call the cache answered: the answering provider and model, no tokens and no cost (the
    /// provider billed nothing), and what the stored usage costs today as `saved_usd`.
    func recordHit(
        _ call: AuthenticatedCall, _ inspected: InspectedCall, _ answer: CachedAnswer, attribution: Attribution,
        endpoint: ProviderEndpoint
    ) -> UsageEvent {
        let saved =
            (try? engine.cost(
                model: answer.model, provider: answer.provider, usage: answer.usage, at: call.startedAt,
                org: call.principal.orgId))?
            .map(\.cost)
        let event = UsageEvent(
            id: call.inbound.requestId, ts: call.startedAt, org: call.principal.orgId, team: attribution.team,
            user: attribution.user, project: attribution.project, keyId: call.principal.keyId, tags: attribution.tags,
            provider: answer.provider, model: answer.model, modelRequested: inspected.facts.model,
            endpoint: endpoint.rawValue, usage: Usage(), cost: .zero, usageSource: .reported,
            stream: inspected.facts.stream, status: 200,
            latencyMs: Int(Gateway.milliseconds(ContinuousClock.now - call.started)),
            requestId: call.inbound.requestId, route: "cache", cacheHit: true, saved: saved)
        writer.enqueue(event)
        metrics.record(provider: answer.provider, status: 200, source: .reported)
        return event
    }
}
