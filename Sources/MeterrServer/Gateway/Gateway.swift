import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MeterrCore
import MeterrPricing
import MeterrProviders
import MeterrStore
import NIOCore
import NIOHTTP1

/// The gateway: forwards each provider call unchanged (but for the credential), reads its usage from
/// the response as it passes, prices it and hands the event to the ledger.
struct Gateway: Sendable {
    let client: HTTPClient
    let principals: PrincipalCache
    let credentials: CredentialCache
    let writer: LedgerWriter
    let pricer: any UsagePricer
    let estimator: any TokenEstimator
    let upstreams: [Provider: ServerConfiguration.Upstream]
    let maxRequestBytes: Int
    let firstByteTimeout: Int
    let limiter: RateLimiter
    let throttle: AuthenticationThrottle
    let budgets: BudgetGuard
    let anomalies: AnomalyDetector
    let clock: WallClock
    let engine: CostEngine
    let metrics: GatewayMetrics
    let logger: Logger

    /// Path prefixes of the gateway, the provider each serves, and how much of the prefix is meterr's own.
    static let mounts: [(prefix: String, provider: Provider, strip: String)] = [
        ("openai/v1", .openai, "/openai"),
        ("v1", .openai, ""),
        ("azure/openai", .azure, "/azure"),
        ("anthropic/v1", .anthropic, "/anthropic"),
        ("gemini/v1beta", .gemini, "/gemini"),
        ("gemini/v1", .gemini, "/gemini"),
        ("mistral/v1", .mistral, "/mistral"),
        ("cohere/v2", .cohere, "/cohere"),
        ("cohere/v1", .cohere, "/cohere"),
    ]

    func register(on router: Router<MeterrRequestContext>) {
        for mount in Self.mounts {
            for method in [HTTPRequest.Method.get, .post, .delete] {
                router.on(RouterPath(stringLiteral: "\(mount.prefix)/**"), method: method) { request, context in
                    try await self.forward(request, context: context, provider: mount.provider, strip: mount.strip)
                }
            }
        }
    }

    /// Headers never forwarded in either direction (hop-by-hop, or recomputed).
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "host",
        "content-length",
    ]

    func forward(_ request: Request, context: MeterrRequestContext, provider: Provider, strip: String) async throws
        -> Response
    {
        let started = ContinuousClock.now
        let startedAt = clock.now()
        let adapter = ProviderAdapter.of(provider)
        func failure(_ status: Int, _ message: String, headers extra: HTTPFields = [:]) -> Response {
            var headers = extra
            headers[.contentType] = "application/json"
            return Response(
                status: .init(code: status), headers: headers,
                body: .init(byteBuffer: ByteBuffer(bytes: adapter.errorBody(status: status, message: message))))
        }
        let path = String(request.uri.path.dropFirst(strip.count))

        // The body: bounded, and small enough to hold (requests are prompts, not streams).
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxRequestBytes)
        } catch is NIOTooManyBytesError {
            return failure(413, "request body exceeds \(maxRequestBytes) bytes")
        }

        // Who calls: the gateway key where the provider's SDK puts its key, or in x-meterr-key when the
        // caller brings its own provider key.
        if let wait = throttle.blocked(context.remoteAddress) {
            return failure(
                429, "too many failed authentications from this address; retry in \(wait) s",
                headers: [.retryAfter: String(wait)])
        }
        let ownKey = request.headers[.meterrKey]
        guard let gatewayKey = ownKey ?? Self.presentedKey(request, adapter: adapter), APIKey.isWellFormed(gatewayKey),
            let principal = try await principals.principal(forKey: gatewayKey)
        else {
            throttle.failed(context.remoteAddress)
            return failure(401, "invalid meterr key: send a meterr key (mk_…) where this SDK sends its API key")
        }
        guard principal.scopes.contains(.gateway) else { return failure(403, "this meterr key may not call providers") }
        let admission = limiter.admit(principal)
        let limitHeaders = Self.rateLimitHeaders(admission)
        if let refusal = admission.refusal {
            metrics.record(provider: provider, status: 429, source: nil)
            var headers = limitHeaders
            headers[.retryAfter] = String(admission.retryAfter)
            return failure(429, refusal, headers: headers)
        }
        let bytes = Array(body.readableBytesView)
        let endpoint = adapter.endpoint(forPath: path)
        let facts = adapter.inspect(path: path, query: request.uri.query, body: bytes)
        var upstreamBody = bytes

        // `/v1` with `provider/model` reaches that provider's OpenAI-compatible surface: same wire
        // format, the model name without its prefix.
        var target = provider
        var upstreamPath = path
        var compatible = false
        if strip.isEmpty, let model = facts.model, let (routed, bare) = ProviderAdapter.routedModel(model) {
            guard let routedPath = ProviderAdapter.openAICompatiblePath(for: routed, path: path),
                let rewritten = ProviderAdapter.replacingModel(in: bytes, with: bare)
            else {
                return failure(400, "\(routed.rawValue) models are not served on \(path) through /v1")
            }
            target = routed
            upstreamPath = routedPath
            upstreamBody = rewritten
            compatible = routed != .openai
        }

        // The credential: the caller's own (x-meterr-key), else the organisation's stored one (its
        // team's first, with the organisation's own upstream if it set one), else the installation's.
        var stored: StoredCredential?
        if ownKey == nil {
            do {
                stored = try await credentials.secret(org: principal.orgId, team: principal.team, provider: target)
            } catch {
                logger.error("a stored credential could not be opened", metadata: ["provider": "\(target.rawValue)"])
                return failure(502, "meterr cannot open its stored \(target.rawValue) credential")
            }
        }
        guard var upstream = upstreams[target] else {
            return failure(502, "meterr has no upstream for \(target.rawValue): set its base URL")
        }
        if let baseURL = stored?.baseURL { upstream.baseURL = baseURL }
        guard !upstream.baseURL.isEmpty else {
            return failure(502, "meterr has no upstream for \(target.rawValue): set its base URL")
        }
        let providerKey = ownKey == nil ? (stored?.secret ?? upstream.apiKey) : nil
        if ownKey == nil && providerKey == nil {
            return failure(
                401, "meterr holds no \(target.rawValue) key: configure one, or send yours with x-meterr-key")
        }

        var injectedUsage = false
        if facts.stream, !facts.includesUsage, target == .openai || target == .azure || compatible,
            endpoint == .chatCompletions || endpoint == .completions,
            let rewritten = ProviderAdapter.requestingUsage(upstreamBody)
        {
            upstreamBody = rewritten
            injectedUsage = true
        }

        var upstreamRequest = HTTPClientRequest(
            url: upstream.baseURL + upstreamPath + Self.query(request, adapter: adapter))
        upstreamRequest.method = HTTPMethod(rawValue: request.method.rawValue)
        for field in request.headers {
            let name = field.name.canonicalName
            if Self.hopByHop.contains(name) || name.hasPrefix("x-meterr-") || name == "accept-encoding" { continue }
            if ownKey == nil && adapter.keyHeaders.contains(name) { continue }
            upstreamRequest.headers.add(name: field.name.rawName, value: field.value)
        }
        if let key = providerKey {
            switch target {
            case .azure: upstreamRequest.headers.replaceOrAdd(name: "api-key", value: key)
            case _ where compatible: upstreamRequest.headers.replaceOrAdd(name: "authorization", value: "Bearer \(key)")
            case .openai, .mistral, .cohere:
                upstreamRequest.headers.replaceOrAdd(name: "authorization", value: "Bearer \(key)")
            case .anthropic: upstreamRequest.headers.replaceOrAdd(name: "x-api-key", value: key)
            case .gemini: upstreamRequest.headers.replaceOrAdd(name: "x-goog-api-key", value: key)
            }
        }
        // Usage is read from the bytes as they pass: they must not be compressed.
        upstreamRequest.headers.replaceOrAdd(name: "accept-encoding", value: "identity")
        upstreamRequest.body = .bytes(upstreamBody)
        // The response speaks the caller's wire format: read it with that provider's readers.
        let wire = compatible ? Provider.openai : target

        // Anomaly blocks and rate caps, then budgets: hold the call's worst case against every
        // budget that covers it, or refuse.
        let attribution = Attribution(request.headers, facts: facts, principal: principal)
        var reservation = BudgetGuard.Reservation.none
        if let endpoint, endpoint != .countTokens {
            try await anomalies.prepare(org: principal.orgId)
            if let refusal = anomalies.admit(
                org: principal.orgId, team: attribution.team, user: attribution.user, keyId: principal.keyId,
                now: startedAt)
            {
                metrics.record(provider: provider, status: 429, source: nil)
                let wait = refusal.retryAt.map { max(1, ($0.milliseconds - startedAt.milliseconds + 999) / 1000) }
                return failure(429, refusal.message, headers: wait.map { [.retryAfter: String($0)] } ?? [:])
            }
            let probe = UsageEvent(
                id: context.requestId, ts: startedAt, org: principal.orgId, team: attribution.team,
                user: attribution.user, project: attribution.project, keyId: principal.keyId, tags: attribution.tags,
                provider: target, model: facts.model ?? "", usage: Usage())
            let covering = budgets.budgets(for: probe)
            if !covering.isEmpty {
                try await budgets.prepare(covering, now: startedAt)
                let worst = BudgetGuard.worstCase(
                    estimator: estimator, engine: engine, provider: target, model: facts.model,
                    maxTokens: facts.maxTokens, body: bytes, at: startedAt)
                switch budgets.reserve(covering, worstCase: worst, now: startedAt) {
                case .failure(let refusal):
                    metrics.record(provider: provider, status: 429, source: nil)
                    let wait = max(1, (refusal.resetsAt.milliseconds - startedAt.milliseconds + 999) / 1000)
                    return failure(429, refusal.message, headers: [.retryAfter: String(wait)])
                case .success(let held):
                    reservation = held
                }
            }
        }

        let call = Call(
            gateway: self, provider: target, endpoint: endpoint, facts: facts, requestBody: bytes,
            principal: principal, attribution: attribution, reservation: reservation,
            requestId: context.requestId,
            started: started, startedAt: startedAt)

        let response: HTTPClientResponse
        let upstreamStarted = ContinuousClock.now
        do {
            // The deadline covers the wait for the response head; the read time-out then covers silences.
            response = try await client.execute(
                upstreamRequest, timeout: .seconds(Int64(firstByteTimeout)), logger: logger)
        } catch {
            let timedOut = Self.isTimeout(error)
            let status = timedOut ? 504 : 502
            call.record(status: status, reading: nil, stream: facts.stream, firstByte: nil)
            return failure(
                status,
                timedOut ? "\(target.rawValue) did not answer in time" : "\(target.rawValue) could not be reached")
        }
        let status = Int(response.status.code)
        let afterHead = ContinuousClock.now
        var headers = limitHeaders
        for header in response.headers where !Self.hopByHop.contains(header.name.lowercased()) {
            if let name = HTTPField.Name(header.name) { headers.append(HTTPField(name: name, value: header.value)) }
        }
        let contentType = response.headers.first(name: "content-type")
        let streaming = ResponseUsageMeter.isStreamed(
            status: status, contentType: contentType, requested: facts.stream, endpoint: endpoint)

        if !streaming {
            let responseBody: ByteBuffer
            do {
                responseBody = try await response.body.collect(upTo: 256 << 20)
            } catch {
                call.record(status: 502, reading: nil, stream: false, firstByte: afterHead)
                return failure(502, "\(target.rawValue) sent an unreadable response")
            }
            let reading =
                endpoint.map {
                    UsageReader.read(provider: provider, endpoint: $0, body: Array(responseBody.readableBytesView))
                }
                ?? UsageReading(finished: true)
            let upstreamId = Self.upstreamRequestId(response.headers) ?? reading.responseId
            let event = call.record(
                status: status, reading: reading, stream: false, firstByte: afterHead, upstreamRequestId: upstreamId)
            if let cost = event?.cost { headers[.meterrCost] = cost.decimalString }
            headers[.serverTiming] = Self.serverTiming(
                started: started, upstreamStarted: upstreamStarted, upstreamEnded: ContinuousClock.now)
            return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: responseBody))
        }

        headers[.serverTiming] = Self.serverTiming(
            started: started, upstreamStarted: upstreamStarted, upstreamEnded: afterHead)
        let upstreamId = Self.upstreamRequestId(response.headers)
        let stripsUsage = injectedUsage
        let streamBody = ResponseBody { writer in
            var meter = ResponseUsageMeter(
                provider: wire, endpoint: endpoint, contentType: contentType, streaming: true)
            var stripper = stripsUsage ? UsageChunkStripper() : nil
            var firstByte: ContinuousClock.Instant?
            var clientGone = false
            do {
                for try await chunk in response.body {
                    if firstByte == nil { firstByte = ContinuousClock.now }
                    meter.feed(chunk.readableBytesView)
                    var out = chunk
                    if var active = stripper {
                        out = active.pass(chunk)
                        stripper = active
                    }
                    if out.readableBytes > 0 {
                        do {
                            try await writer.write(out)
                        } catch {
                            clientGone = true
                            break
                        }
                    }
                }
            } catch {
                // The upstream cut the stream (or the client left and the task was cancelled).
            }
            if var remaining = stripper?.flush(), remaining.readableBytes > 0, !clientGone {
                try? await writer.write(remaining)
                remaining.clear()
            }
            var reading = meter.finish()
            if clientGone { reading.finished = false }
            call.record(
                status: status, reading: reading, stream: true, firstByte: firstByte,
                upstreamRequestId: upstreamId ?? reading.responseId)
            if !clientGone { try await writer.finish(nil) }
        }
        return Response(status: .init(code: status), headers: headers, body: streamBody)
    }

    /// `x-ratelimit-*` headers for a key's tightest request limit (none for unlimited keys).
    static func rateLimitHeaders(_ decision: RateLimiter.Decision) -> HTTPFields {
        var headers = HTTPFields()
        if let limit = decision.limit, let remaining = decision.remaining, let reset = decision.resetSeconds {
            headers[.rateLimitLimit] = String(limit)
            headers[.rateLimitRemaining] = String(remaining)
            headers[.rateLimitReset] = "\(reset)s"
        }
        return headers
    }

    /// The gateway key as the provider's SDK sends it.
    static func presentedKey(_ request: Request, adapter: ProviderAdapter) -> String? {
        for name in adapter.keyHeaders {
            guard let fieldName = HTTPField.Name(name), let value = request.headers[fieldName] else { continue }
            if name == "authorization" {
                let utf8 = value.utf8
                guard utf8.count > 7, utf8.prefix(7).elementsEqual("bearer ".utf8, by: { $0 | 0x20 == $1 }) else {
                    continue
                }
                return trimmed(value.utf8.dropFirst(7))
            }
            return trimmed(value.utf8[...])
        }
        if adapter.keyInQuery, let key = request.uri.queryParameters.get("key") { return key }
        return nil
    }

    /// The text without spaces or tabs around it.
    static func trimmed(_ bytes: Substring.UTF8View) -> String {
        let blank: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
        guard let first = bytes.firstIndex(where: { !blank($0) }), let last = bytes.lastIndex(where: { !blank($0) })
        else { return "" }
        return String(Substring(bytes[first...last]))
    }

    /// The query string to forward: Gemini's `key=` (the gateway key) is meterr's, never the upstream's.
    static func query(_ request: Request, adapter: ProviderAdapter) -> String {
        guard let query = request.uri.query, !query.isEmpty else { return "" }
        guard adapter.keyInQuery else { return "?" + query }
        let kept = query.split(separator: "&").filter { !$0.hasPrefix("key=") }
        return kept.isEmpty ? "" : "?" + kept.joined(separator: "&")
    }

    static func upstreamRequestId(_ headers: HTTPHeaders) -> String? {
        ResponseUsageMeter.requestIdHeaders.lazy.compactMap { headers.first(name: $0) }.first
    }

    static func isTimeout(_ error: any Error) -> Bool {
        if let error = error as? HTTPClientError {
            return error == .connectTimeout || error == .readTimeout || error == .deadlineExceeded
        }
        return false
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    static func serverTiming(
        started: ContinuousClock.Instant, upstreamStarted: ContinuousClock.Instant,
        upstreamEnded: ContinuousClock.Instant
    ) -> String {
        let total = microseconds(ContinuousClock.now - started)
        let upstream = microseconds(upstreamEnded - upstreamStarted)
        return "meterr;dur=\(decimal(max(0, total - upstream))), upstream;dur=\(decimal(upstream))"
    }

    static func microseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
    }

    /// Microseconds as milliseconds with three decimals (`1.234`), without a formatter.
    static func decimal(_ microseconds: Int64) -> String {
        let fraction = String(microseconds % 1000)
        return "\(microseconds / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}

/// Attribution a call carries: what its key is bound to, and for the rest the caller's
/// `x-meterr-team|user|project|tags` headers and OpenAI's `user` field. A key bound to a team bills
/// that team whatever the headers say.
struct Attribution: Sendable {
    var team: String?
    var user: String?
    var project: String?
    var tags: [String: String] = [:]

    init(_ headers: HTTPFields, facts: RequestFacts, principal: Principal) {
        self.init(headers, facts: facts)
        team = principal.team ?? team
        user = principal.user ?? user
        project = principal.project ?? project
    }

    init(_ headers: HTTPFields, facts: RequestFacts) {
        team = headers[.meterrTeam].flatMap { $0.isEmpty ? nil : String($0.prefix(256)) }
        user =
            headers[.meterrUser].flatMap { $0.isEmpty ? nil : String($0.prefix(256)) }
            ?? facts.user.map { String($0.prefix(256)) }
        project = headers[.meterrProject].flatMap { $0.isEmpty ? nil : String($0.prefix(256)) }
        for pair in (headers[.meterrTags] ?? "").split(separator: ",").prefix(64) {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = parts[0].trimmingCharacters(in: .whitespaces)
            if !key.isEmpty {
                tags[String(key.prefix(128))] = String(parts[1].trimmingCharacters(in: .whitespaces).prefix(256))
            }
        }
    }
}

/// One call through the gateway, and the usage event it leaves.
struct Call: Sendable {
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

    /// Builds, prices and hands over the call's usage event; never throws, never waits.
    @discardableResult
    func record(
        status: Int, reading: UsageReading?, stream: Bool, firstByte: ContinuousClock.Instant?,
        upstreamRequestId: String? = nil
    ) -> UsageEvent? {
        // Model lists and token counts cost nothing: no event.
        guard let endpoint, endpoint != .countTokens else {
            gateway.metrics.record(provider: provider, status: status, source: nil)
            gateway.budgets.settle(reservation, cost: nil)
            return nil
        }
        let model = reading?.model ?? facts.model ?? "unknown"
        // No reading: the provider was never reached, so nothing was used.
        let (usage, source) =
            reading?.billedUsage(
                status: status, provider: provider, model: model, requestBody: requestBody,
                estimator: gateway.estimator) ?? (Usage(), .estimated)
        let now = ContinuousClock.now
        var event = UsageEvent(
            id: requestId, ts: startedAt, org: principal.orgId, team: attribution.team, user: attribution.user,
            project: attribution.project, keyId: principal.keyId, tags: attribution.tags, provider: provider,
            model: model, modelRequested: facts.model, endpoint: endpoint.rawValue, usage: usage, usageSource: source,
            stream: stream, status: status, latencyMs: Int(Gateway.milliseconds(now - started)),
            ttftMs: stream ? firstByte.map { Int(Gateway.milliseconds($0 - started)) } : nil, requestId: requestId,
            upstreamRequestId: upstreamRequestId, route: "direct")
        event.applyPrice(from: gateway.pricer)
        gateway.writer.enqueue(event)
        gateway.limiter.consume(tokens: usage.inputTokens + usage.outputTokens, keyId: principal.keyId)
        gateway.budgets.settle(reservation, cost: event.cost)
        gateway.anomalies.observe(event)
        gateway.metrics.record(provider: provider, status: status, source: source)
        return event
    }
}

/// Drops the usage chunk meterr asked for on the caller's behalf, so the caller sees the stream it
/// asked for; every other byte passes as it came, event by event.
struct UsageChunkStripper: Sendable {
    private var pending: [UInt8] = []

    mutating func pass(_ chunk: ByteBuffer) -> ByteBuffer {
        pending.append(contentsOf: chunk.readableBytesView)
        var out: [UInt8] = []
        var start = 0
        var index = 0
        while index + 1 < pending.count {
            let end: Int?
            if pending[index] == 0x0A && pending[index + 1] == 0x0A {
                end = index + 2
            } else if index + 3 < pending.count && pending[index] == 0x0D && pending[index + 1] == 0x0A
                && pending[index + 2] == 0x0D && pending[index + 3] == 0x0A
            {
                end = index + 4
            } else {
                end = nil
            }
            if let end {
                let event = pending[start..<end]
                if !Self.isUsageOnlyChunk(event) { out.append(contentsOf: event) }
                start = end
                index = end
            } else {
                index += 1
            }
        }
        pending.removeFirst(start)
        return ByteBuffer(bytes: out)
    }

    mutating func flush() -> ByteBuffer {
        defer { pending.removeAll() }
        return ByteBuffer(bytes: pending)
    }

    /// `data: {… "choices": [], "usage": {…}}`: the extra chunk `include_usage` adds.
    static func isUsageOnlyChunk(_ event: ArraySlice<UInt8>) -> Bool {
        guard let dataStart = event.firstRange(of: Array("data:".utf8)) else { return false }
        let payload = event[dataStart.upperBound...]
        guard let json = JSONValue(parsing: payload.drop { $0 == 0x20 }.prefix { $0 != 0x0A && $0 != 0x0D }) else {
            return false
        }
        return json["choices"]?.array?.isEmpty == true && json["usage"].map { !$0.isNull } == true
    }
}

extension HTTPField.Name {
    static let meterrKey = HTTPField.Name(MeterrHeader.key)!
    static let meterrTeam = HTTPField.Name(MeterrHeader.team)!
    static let meterrUser = HTTPField.Name(MeterrHeader.user)!
    static let meterrProject = HTTPField.Name(MeterrHeader.project)!
    static let meterrTags = HTTPField.Name(MeterrHeader.tags)!
    static let meterrCost = HTTPField.Name(MeterrHeader.cost)!
    static let serverTiming = HTTPField.Name("Server-Timing")!
    static let rateLimitLimit = HTTPField.Name("x-ratelimit-limit-requests")!
    static let rateLimitRemaining = HTTPField.Name("x-ratelimit-remaining-requests")!
    static let rateLimitReset = HTTPField.Name("x-ratelimit-reset-requests")!
}
