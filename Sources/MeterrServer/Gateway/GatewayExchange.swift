import Foundation
import HTTPTypes
import MeterrCore
import MeterrGatewayChannel
import MeterrProviders
import MeterrRouter
import MeterrStore
import MeterrUpstream
import NIOCore
import NIOHTTP1

/// One gateway call on its connection's event loop: reads the request, has the gateway admit it,
/// sends it upstream and passes the answer back (streams chunk by chunk) while metering it.
final class GatewayExchange: UpstreamResponseHandler, GatewayRequestReceiver {
    private enum Phase {
        case reading
        case admitting
        case upstream
        case done
    }

    private let gateway: Gateway
    private var owner: GatewayChannelHandler?
    private let context: ChannelHandlerContext
    private let head: HTTPRequestHead
    private let path: String
    private let query: String?
    private let mount: Gateway.Mount
    private let requestId = Identifier.ordered("req")
    private var phase = Phase.reading
    private var body = ByteBuffer()
    private var callerGone = false

    private var plan: Gateway.UpstreamPlan?
    private var upstream: UpstreamCall?
    private var upstreamStarted = ContinuousClock.now
    private var responseHead: HTTPResponseHead?
    private var afterHead: ContinuousClock.Instant?
    private var streaming = false
    private var collected = ByteBuffer()
    private var meter: ResponseUsageMeter?
    private var stripper: UsageChunkStripper?
    /// A translated stream's OpenAI side.
    private var chatStream: ChatStream?
    private var firstByte: ContinuousClock.Instant?
    private var upstreamRequestId: String?
    /// Answered before the request body was read whole.
    private var unreadBody = false
    /// A routed call's failed answer, sent if no other deployment can take the call.
    private var heldReply: (status: Int, headers: OutgoingHeaders, body: ByteBuffer)?
    /// What the response cache does with the answer (kept across a routed call's attempts).
    private var cacheUse = GatewayCache.Use.none
    /// A stream's bytes as the provider sent them, while the cache may keep them.
    private var cacheBytes: [UInt8]?

    /// The most a non-streamed answer may hold.
    static let maxResponseBytes = 256 << 20
    /// The largest request body admitted on the event loop itself.
    static let onLoopAdmissionBytes = 64 << 10

    init(
        gateway: Gateway, owner: GatewayChannelHandler, context: ChannelHandlerContext, head: HTTPRequestHead,
        path: String, query: String?, mount: Gateway.Mount
    ) {
        self.gateway = gateway
        self.owner = owner
        self.context = context
        self.head = head
        self.path = path
        self.query = query
        self.mount = mount
    }

    // MARK: The request

    func received(body part: ByteBuffer) {
        guard phase == .reading else { return }
        if body.readableBytes + part.readableBytes > gateway.maxRequestBytes {
            // Answered at once; the rest of the body is not read (the connection closes).
            phase = .admitting
            unreadBody = true
            reply(
                Gateway.failure(
                    Providers.profile(mount.provider), .payloadTooLarge,
                    "request body exceeds \(gateway.maxRequestBytes) bytes"),
                close: true)
            return
        }
        if body.readableBytes == 0 {
            body = part
        } else {
            body.writeImmutableBuffer(part)
        }
    }

    func requestEnded() {
        guard phase == .reading else { return }
        phase = .admitting
        if let misdirection = mount.misdirection {
            let host = head.headers.value("host")
            let message = misdirection.message(host: host, scheme: gateway.servesTLS ? "https" : "http")
            reply(Gateway.failure(Providers.profile(mount.provider), .notFound, message))
            return
        }
        let inbound = Gateway.Inbound(
            head: head, path: path, query: query, body: body, mount: mount,
            remoteAddress: context.channel.remoteAddress, requestId: requestId)
        body = ByteBuffer()
        let gateway = self.gateway
        let loop = context.eventLoop
        let exchange = NIOLoopBound(self, eventLoop: loop)
        // A call is admitted on its connection's event loop; a large body is read (checked, and
        // counted for budgets) on Swift's pool instead, so the loop's other connections do not wait.
        let executor =
            inbound.body.readableBytes <= Self.onLoopAdmissionBytes ? EventLoopTaskExecutor.of(loop) : nil
        Task(executorPreference: executor) {
            let admission = await gateway.admit(inbound)
            if loop.inEventLoop {
                exchange.value.admitted(admission)
            } else {
                loop.execute { exchange.value.admitted(admission) }
            }
        }
    }

    private func admitted(_ admission: Gateway.Admission) {
        switch admission {
        case .reply(let reply):
            if let held = heldReply {
                // Nothing more to try: the last attempt's answer goes back.
                send(status: held.status, headers: held.headers, body: held.body)
                return
            }
            self.reply(reply)
        case .forward(let plan):
            if callerGone {
                // Gone before the call was made: nothing was used.
                plan.call.abandon()
                if let deployment = plan.routing?.current { gateway.router.released(deployment) }
                end()
                return
            }
            heldReply = nil
            if case .none = cacheUse { cacheUse = plan.cache }
            self.plan = plan
            phase = .upstream
            upstreamStarted = .now
            upstream = gateway.client.execute(plan.request, on: context.eventLoop, handler: self)
        }
    }

    // MARK: The answer

    func upstreamReceived(head: HTTPResponseHead) {
        guard let plan else { return }
        let now = ContinuousClock.now
        afterHead = now
        responseHead = head
        let contentType = head.headers.first(name: "content-type")
        upstreamRequestId = Gateway.upstreamRequestId(head.headers)
        streaming = ResponseUsageMeter.isStreamed(
            status: Int(head.status.code), contentType: contentType, requested: plan.call.facts.stream,
            endpoint: plan.call.endpoint)
        guard streaming else { return }
        meter = ResponseUsageMeter(
            provider: plan.wire, endpoint: plan.call.endpoint, contentType: contentType, streaming: true)
        if callerGone {
            // Nobody reads this stream: stop the provider's generation now and meter what it is.
            stopStream(plan: plan, status: Int(head.status.code))
            return
        }
        stripper = plan.injectedUsage ? UsageChunkStripper() : nil
        if case .use = cacheUse { cacheBytes = [] }
        var headers = responseHeaders(head, plan: plan)
        if let translation = plan.translation {
            chatStream = ChatStream(
                reader: translation.translator.stream(translation.chat), chat: translation.chat,
                created: translation.created, fallbackId: requestId)
            headers.set("Content-Type", "text/event-stream")
        }
        headers.add(
            "Server-Timing",
            gateway.serverTiming(
                provider: plan.target, started: plan.call.started, upstreamStarted: upstreamStarted, upstreamEnded: now)
        )
        gateway.finish(&headers, requestId: requestId, origin: self.head.headers.value("origin"))
        guard !callerGone else { return }
        // Flushed with the stream's first bytes when the same read brought them (`upstreamReadComplete`).
        let answerHead = HTTPResponseHead(
            version: .http1_1, status: HTTPResponseStatus(statusCode: Int(head.status.code)), headers: headers.http1)
        context.write(NIOAny(HTTPServerResponsePart.head(answerHead)), promise: nil)
    }

    func upstreamReadComplete() {
        if streaming, !callerGone { context.flush() }
    }

    func upstreamReceived(body part: ByteBuffer) {
        guard streaming else {
            if collected.readableBytes + part.readableBytes > Self.maxResponseBytes {
                upstream?.cancel()
                upstreamFailed(.broken)
            } else if collected.readableBytes == 0 {
                collected = part
            } else {
                collected.writeImmutableBuffer(part)
            }
            return
        }
        if firstByte == nil { firstByte = .now }
        if let kept = cacheBytes?.count {
            // An answer too big to keep stops being gathered.
            if kept + part.readableBytes > GatewayCache.maxAnswerBytes {
                cacheBytes = nil
            } else {
                cacheBytes?.append(contentsOf: part.readableBytesView)
            }
        }
        if chatStream != nil {
            var out: [UInt8] = []
            meter?.feed(part.readableBytesView) { chatStream?.translate($0, into: &out) }
            guard !out.isEmpty, !callerGone else { return }
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: out)))), promise: nil)
            if !context.channel.isWritable { upstream?.pause() }
            return
        }
        meter?.feed(part.readableBytesView)
        var out = part
        if var active = stripper {
            out = ByteBuffer(bytes: active.pass(part.readableBytesView))
            stripper = active
        }
        guard out.readableBytes > 0, !callerGone else { return }
        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(out))), promise: nil)
        if !context.channel.isWritable { upstream?.pause() }
    }

    func upstreamFinished() {
        upstream = nil
        guard let plan, let head = responseHead else { return }
        if streaming {
            finishStream(plan: plan, status: Int(head.status.code))
            return
        }
        let status = Int(head.status.code)
        let reading =
            plan.call.endpoint.map {
                UsageReader.read(provider: plan.wire, endpoint: $0, body: Array(collected.readableBytesView))
            } ?? UsageReading(finished: true)
        let event = plan.call.record(
            status: status, reading: reading, stream: plan.call.facts.stream, firstByte: afterHead,
            upstreamRequestId: upstreamRequestId ?? reading.responseId, wakesWriter: false)
        // The event is queued; the ledger's writer is woken once the answer has left.
        defer { gateway.writer.wake() }
        keep(
            plan, status: status, reading: reading, shape: .whole, contentType: head.headers.first(name: "content-type")
        ) {
            Array(collected.readableBytesView)
        }
        var headers = responseHeaders(head, plan: plan)
        if let cost = event?.cost { headers.add(MeterrHeader.cost, cost.decimalString) }
        headers.add(
            "Server-Timing",
            gateway.serverTiming(
                provider: plan.target, started: plan.call.started, upstreamStarted: upstreamStarted,
                upstreamEnded: ContinuousClock.now))
        var answerStatus = status
        var answer = collected
        if let translation = plan.translation {
            let translated = Self.translatedAnswer(
                translation, status: status, body: collected, usage: reading.usage, requestId: requestId)
            answerStatus = translated.0
            answer = ByteBuffer(bytes: translated.1)
            headers.set("Content-Type", "application/json")
        }
        if let routing = plan.routing, let deployment = routing.current {
            let failure = Providers.profile(plan.wire).failure(
                status: status, body: Array(collected.readableBytesView))
            if let failure {
                gateway.router.failed(
                    deployment, failure: failure,
                    retryAfter: head.headers.first(name: "retry-after").flatMap { Int($0) },
                    now: gateway.clock.now())
                if fallBack(routing, failure: failure, held: (answerStatus, headers, answer)) { return }
            } else {
                // A whole answer's first byte is its head.
                gateway.router.succeeded(
                    deployment, timeToFirstTokenMs: afterHead.map { Int(Gateway.milliseconds($0 - upstreamStarted)) },
                    usage: reading.usage)
            }
        }
        send(status: answerStatus, headers: headers, body: answer)
    }

    func upstreamFailed(_ failure: UpstreamFailure) {
        upstream = nil
        guard let plan else { return }
        if streaming, let head = responseHead {
            // The upstream cut the stream: what streamed is metered, the caller's stream ends.
            finishStream(plan: plan, status: Int(head.status.code))
            return
        }
        let target = plan.target.rawValue
        let profile = Providers.profile(mount.provider)
        if responseHead != nil {
            plan.call.record(
                status: MeterrError.Code.badGateway.httpStatus, reading: nil, stream: false, firstByte: afterHead)
            replyOrFallBack(
                plan, failure: .serverError,
                Gateway.failure(profile, .badGateway, "\(target) sent an unreadable response"))
            return
        }
        let timedOut = failure == .timedOut || failure == .timedOutAfterRequest
        let code: MeterrError.Code = timedOut ? .gatewayTimeout : .badGateway
        plan.call.record(
            status: code.httpStatus, reading: nil, stream: plan.call.facts.stream, firstByte: nil,
            possiblyRun: failure == .droppedAfterRequest || failure == .timedOutAfterRequest)
        let message =
            switch failure {
            case .timedOut, .timedOutAfterRequest: "\(target) did not answer in time"
            case .proxyRefused: "\(target) could not be reached: the proxy did not open a tunnel (see upstream_proxy)"
            case .unreachable, .broken: "\(target) could not be reached"
            case .droppedAfterRequest:
                "\(target) closed the connection without answering; the call was not sent again, as the "
                    + "provider may have run it"
            }
        replyOrFallBack(plan, failure: timedOut ? .timeout : .connection, Gateway.failure(profile, code, message))
    }

    /// A routed attempt that got no usable answer: the next deployment takes the call, or the reply goes.
    private func replyOrFallBack(_ plan: Gateway.UpstreamPlan, failure: AttemptFailure, _ reply: GatewayReply) {
        if let routing = plan.routing, let deployment = routing.current {
            gateway.router.failed(deployment, failure: failure, retryAfter: nil, now: gateway.clock.now())
            if fallBack(routing, failure: failure, held: (reply.status, OutgoingHeaders(reply.headers), reply.body)) {
                return
            }
        }
        self.reply(reply)
    }

    /// Starts the next attempt of a routed call after its backoff, keeping the failed answer to send if
    /// no deployment is left; `false` when no attempt, time or deployment is left (nothing was streamed
    /// to the caller yet, so the call can still go elsewhere).
    private func fallBack(
        _ routing: RouteAttempts, failure: AttemptFailure,
        held: (status: Int, headers: OutgoingHeaders, body: ByteBuffer)
    ) -> Bool {
        guard failure.fallsBack, !callerGone, routing.attempt < gateway.router.table.maxAttempts,
            routing.position < routing.decision.order.count
        else { return false }
        let wait = gateway.backoff(after: routing.attempt)
        guard ContinuousClock.now + wait < routing.deadline else { return false }
        var following = routing
        if let current = routing.current { following.failed.append("\(current.id): \(failure.rawValue)") }
        let next = following
        let profile = Providers.profile(mount.provider)
        heldReply = held
        plan = nil
        responseHead = nil
        afterHead = nil
        collected = ByteBuffer()
        meter = nil
        stripper = nil
        chatStream = nil
        firstByte = nil
        upstreamRequestId = nil
        streaming = false
        phase = .admitting
        let gateway = self.gateway
        let loop = context.eventLoop
        let exchange = NIOLoopBound(self, eventLoop: loop)
        let nanoseconds = wait.components.seconds * 1_000_000_000 + wait.components.attoseconds / 1_000_000_000
        loop.scheduleTask(in: .nanoseconds(nanoseconds)) {
            Task(executorPreference: EventLoopTaskExecutor.of(loop)) {
                let step = await gateway.nextAttempt(next)
                let admission: Gateway.Admission =
                    switch step {
                    case .attempt(let plan): .forward(plan)
                    case .exhausted(let refusal):
                        .reply(Gateway.failure(profile, refusal.error.code, refusal.error.message))
                    }
                if loop.inEventLoop {
                    exchange.value.admitted(admission)
                } else {
                    loop.execute { exchange.value.admitted(admission) }
                }
            }
        }
        return true
    }

    /// Abandons the provider's stream (nobody reads it) and meters what arrived.
    private func stopStream(plan: Gateway.UpstreamPlan, status: Int) {
        upstream?.cancel()
        upstream = nil
        finishStream(plan: plan, status: status)
    }

    private func finishStream(plan: Gateway.UpstreamPlan, status: Int) {
        if let remaining = stripper?.flush(), !remaining.isEmpty, !callerGone {
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: remaining)))), promise: nil)
            stripper = UsageChunkStripper()
        }
        var reading: UsageReading
        defer {
            if let deployment = plan.routing?.current {
                if callerGone {
                    gateway.router.released(deployment)
                } else if reading.finished {
                    gateway.router.succeeded(
                        deployment,
                        timeToFirstTokenMs: firstByte.map { Int(Gateway.milliseconds($0 - upstreamStarted)) },
                        usage: reading.usage)
                } else {
                    gateway.router.failed(deployment, failure: .serverError, retryAfter: nil, now: gateway.clock.now())
                }
            }
        }
        if chatStream != nil {
            var out: [UInt8] = []
            reading = meter?.finish { chatStream?.translate($0, into: &out) } ?? UsageReading(finished: false)
            chatStream?.finish(usage: reading.usage, into: &out)
            chatStream = nil
            if !out.isEmpty, !callerGone {
                context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: out)))), promise: nil)
            }
        } else {
            reading = meter?.finish() ?? UsageReading(finished: false)
            if plan.routing != nil, !reading.finished, !callerGone, (200..<300).contains(status) {
                // A routed stream that broke off after its first byte cannot move elsewhere: it ends with
                // an error event in OpenAI's format rather than a silent close.
                var out: [UInt8] = []
                ChatChunkWriter(id: requestId, model: "", created: 0).error(
                    type: "api_error", message: ChatChunkWriter.brokenOff, into: &out)
                context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: out)))), promise: nil)
            }
        }
        if callerGone { reading.finished = false }
        plan.call.record(
            status: status, reading: reading, stream: true, firstByte: firstByte,
            upstreamRequestId: upstreamRequestId ?? reading.responseId, wakesWriter: false)
        defer { gateway.writer.wake() }
        if let bytes = cacheBytes {
            cacheBytes = nil
            keep(
                plan, status: status, reading: reading, shape: .stream,
                contentType: responseHead?.headers.first(name: "content-type")
            ) { bytes }
        }
        if !callerGone { context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil) }
        end()
    }

    /// Hands a complete answer to the response cache when the call is covered and (for a routed call)
    /// its first deployment answered.
    private func keep(
        _ plan: Gateway.UpstreamPlan, status: Int, reading: UsageReading, shape: CachedAnswer.Shape,
        contentType: String?, body: () -> [UInt8]
    ) {
        guard let cache = gateway.cache, case .use(let pending, _) = cacheUse, !callerGone,
            pending.deployment == nil || pending.deployment == plan.routing?.current?.id
        else { return }
        cache.keep(
            pending, status: status, reading: reading, shape: shape, provider: plan.target, format: plan.wire,
            model: reading.model ?? plan.call.facts.model ?? "unknown", contentType: contentType, body: body(),
            now: gateway.clock.now())
    }

    /// A translated call's whole answer in OpenAI's format: the completion from a success (with the usage
    /// the native reader found), the provider's error in OpenAI's error shape (same status), or a `502`
    /// for a success meterr cannot read.
    static func translatedAnswer(
        _ translation: GatewayTranslation, status: Int, body: ByteBuffer, usage: Usage?, requestId: String
    ) -> (Int, [UInt8]) {
        let bytes = Array(body.readableBytesView)
        let openAI = Providers.profile(.openai)
        guard (200..<300).contains(status) else {
            return (status, openAI.errorBody(status: status, message: TranslationSupport.errorMessage(bytes)))
        }
        guard let answer = translation.translator.answer(bytes, chat: translation.chat) else {
            let code = MeterrError.Code.badGateway
            return (
                code.httpStatus,
                openAI.errorBody(status: code.httpStatus, message: "the provider sent an answer meterr could not read")
            )
        }
        return (
            status,
            answer.completionBody(
                created: translation.created, fallbackId: requestId, fallbackModel: translation.chat.model, usage: usage
            )
        )
    }

    // MARK: The caller

    func writabilityChanged(_ writable: Bool) {
        if writable { upstream?.resume() }
    }

    /// The caller's connection closed: a stream stops here and is metered as far as it went; any
    /// other call finishes upstream and is metered whole.
    func callerLeft() {
        guard phase != .done else { return }
        callerGone = true
        if streaming, let plan, let head = responseHead {
            stopStream(plan: plan, status: Int(head.status.code))
        } else if phase == .reading {
            end()
        }
    }

    /// The provider's answer headers passed on (but for those meterr sets itself), after the call's
    /// rate-limit headers, with meterr's own about the call.
    private func responseHeaders(_ head: HTTPResponseHead, plan: Gateway.UpstreamPlan) -> OutgoingHeaders {
        var headers = OutgoingHeaders(capacity: plan.limitHeaders.count + head.headers.count + 12)
        headers.add(contentsOf: plan.limitHeaders)
        for (name, value) in head.headers where !Gateway.answerOwnHeaders.contains(name) { headers.add(name, value) }
        if let note = plan.call.routeNote { headers.set(Gateway.routeHeader.rawName, note.header) }
        switch cacheUse {
        case .none: break
        case .bypass: headers.set(MeterrHeader.cache, "bypass")
        case .use(let pending, _):
            headers.set(MeterrHeader.cache, "miss")
            headers.set(GatewayCache.keyHeader.rawName, pending.key.hex)
        }
        if let dropped = plan.translation?.native.dropped, !dropped.isEmpty {
            headers.set(MeterrHeader.droppedParameters, dropped.joined(separator: ","))
        }
        return headers
    }

    private func reply(_ reply: GatewayReply, close: Bool = false) {
        send(status: reply.status, headers: OutgoingHeaders(reply.headers), body: reply.body, close: close)
    }

    private func send(status: Int, headers: OutgoingHeaders, body: ByteBuffer, close: Bool = false) {
        guard !callerGone else {
            end()
            return
        }
        var headers = headers
        gateway.finish(&headers, requestId: requestId, origin: head.headers.value("origin"))
        if close { headers.set("Connection", "close") }
        GatewayReply.write(status: status, headers: headers, body: body, to: context)
        end(close: close)
    }

    private func end(close: Bool = false) {
        guard phase != .done else { return }
        phase = .done
        let owner = self.owner
        self.owner = nil
        owner?.exchangeEnded(
            context: context, close: close || callerGone || !head.isKeepAlive,
            unreadBody: unreadBody && !callerGone)
    }
}
