import HTTPTypes
import Hummingbird
import MeterrStore
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Serves what the gateway does not (`/api`, the dashboard, `/metrics`, …) with Hummingbird's router.
///
/// A request is read whole on the connection's event loop (its body up to `maxBodyBytes`), then a task
/// on Swift's pool asks the router for the answer and hands its parts to the loop, which writes them.
/// The short reads named in `shortReads` (`ShortReads`: a readiness check, a short page of budgets) are
/// answered by a task on the connection's event loop instead, their SQLite reads included:
/// two thread wake-ups each way cost such a read more than its work.
/// Hummingbird's own HTTP/1 handling (a task per connection reading an async sequence of parts, and an
/// async writer whose every part waited for the loop) cost an `/api` read about 30 µs of CPU more.
///
/// Answers leave in the order the requests came: a request that arrives while an answer is being
/// written waits, and reading pauses meanwhile. `Connection: close` (the request's or the answer's)
/// closes the connection once the answer is out. A graceful shutdown closes an idle connection at once,
/// a busy one after its answer; an answer that is an event stream (`text/event-stream`, which never
/// ends by itself) is cancelled, so it ends too. A caller that leaves cancels its answer's task.
final class RouterChannelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// The router's answer to a request (errors already turned into answers).
    typealias Respond = @Sendable (Request, any Channel) async -> Response

    private let respond: Respond
    private let maxBodyBytes: Int
    /// The paths whose `GET` is answered on the event loop.
    private let shortReads: Set<String>
    /// The request being read, and its body so far.
    private var head: HTTPRequest?
    private var body = ByteBuffer()
    private var bodyTooLarge = false
    /// The task answering the request read last; `nil` when no answer is being written.
    private var answering: Task<Void, Never>?
    /// Whether that answer is an event stream.
    private var answeringEvents = false
    /// What waits for the answer being written: request parts, or a request that could not be parsed
    /// (`nil`; answered with a 400 in its turn).
    private var backlog = CircularBuffer<HTTPRequestPart?>()
    private var heldRead = false
    /// Whether the connection closes once the answer being written is out.
    fileprivate private(set) var closeAfterAnswer = false

    /// - Parameter maxBodyBytes: the largest request body read; a larger one reaches the route as a body
    ///   whose reading fails as `collect(upTo:)` fails beyond its limit, and the rest of it is dropped.
    /// - Parameter shortReads: the paths (without a query) whose `GET` is answered on the connection's event
    ///   loop. Only for answers that are quick to work out: the loop serves gateway calls meanwhile.
    init(maxBodyBytes: Int, shortReads: Set<String> = [], respond: @escaping Respond) {
        self.maxBodyBytes = maxBodyBytes
        self.shortReads = shortReads
        self.respond = respond
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if answering != nil || !backlog.isEmpty {
            backlog.append(part)
        } else {
            take(part, context: context)
        }
    }

    private func take(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let request):
            head = request
            bodyTooLarge = false
        case .body(let buffer):
            guard head != nil, !bodyTooLarge else { return }
            if body.readableBytes + buffer.readableBytes > maxBodyBytes {
                bodyTooLarge = true
                body = ByteBuffer()
            } else if body.readableBytes == 0 {
                body = buffer
            } else {
                body.writeImmutableBuffer(buffer)
            }
        case .end:
            guard let request = head else { return }
            head = nil
            let requestBody =
                bodyTooLarge ? RequestBody(asyncSequence: TooLargeBody(limit: maxBodyBytes)) : RequestBody(buffer: body)
            body = ByteBuffer()
            answer(Request(head: request, body: requestBody), context: context)
        }
    }

    private func answer(_ request: Request, context: ChannelHandlerContext) {
        if Self.closes(request.headers) { closeAfterAnswer = true }
        let answer = Answer(handler: self, context: context)
        let respond = respond
        let channel = context.channel
        guard isShortRead(request.head) else {
            answering = Task {
                await answer.send(await respond(request, channel))
            }
            return
        }
        answering = Task(executorPreference: EventLoopTaskExecutor.of(context.eventLoop)) {
            await SQLiteReadThreads.$bypassed.withValue(true) {
                await answer.send(await respond(request, channel))
            }
        }
    }

    /// Whether `head` is a `GET` of one of `shortReads`.
    private func isShortRead(_ head: HTTPRequest) -> Bool {
        guard head.method == .get, !shortReads.isEmpty, let target = head.path else { return false }
        guard let query = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return shortReads.contains(target) }
        return shortReads.contains(String(target[..<query]))
    }

    /// The answer has been written whole (`closing`: the connection closes after it), or failed.
    fileprivate func answered(context: ChannelHandlerContext, closing: Bool) {
        answering = nil
        answeringEvents = false
        guard !closing else { return }
        while answering == nil, let waiting = backlog.popFirst() {
            guard let part = waiting else {
                answerParseError(context: context)
                return
            }
            take(part, context: context)
        }
        if backlog.isEmpty && heldRead {
            heldRead = false
            context.read()
        }
    }

    /// The head of the answer about to be written.
    fileprivate func answering(_ head: HTTPResponse) {
        if Self.closes(head.headerFields) { closeAfterAnswer = true }
        answeringEvents = head.headerFields[.contentType]?.hasPrefix("text/event-stream") ?? false
    }

    /// Whether a request's or an answer's `Connection` header names `close`.
    private static func closes(_ fields: HTTPFields) -> Bool {
        fields[.connection]?.lowercased().contains("close") ?? false
    }

    /// 400 for a request that could not be parsed, then the connection closes.
    private func answerParseError(context: ChannelHandlerContext) {
        backlog.removeAll()
        closeAfterAnswer = true
        let head = HTTPResponse(status: .badRequest, headerFields: [.connection: "close", .contentLength: "0"])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is HTTPParserError else {
            context.close(promise: nil)
            return
        }
        // (After a request that closes the connection, NIO's decoder refuses what follows: not answered.)
        if closeAfterAnswer { return }
        if answering == nil && backlog.isEmpty {
            answerParseError(context: context)
        } else {
            backlog.append(nil)
        }
    }

    func read(context: ChannelHandlerContext) {
        if answering == nil && backlog.isEmpty {
            context.read()
        } else {
            heldRead = true
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        if answering == nil && head == nil && backlog.isEmpty {
            context.close(promise: nil)
        } else {
            closeAfterAnswer = true
            if answeringEvents { answering?.cancel() }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        answering?.cancel()
        context.fireChannelInactive()
    }
}

/// One answer being written: the router's `Response`, written on the connection's event loop, its head
/// with the first body part (or its end). An answer of known length (in memory already) is handed to
/// the loop whole, head, body and end in one job, and flushed once: each job handed to a loop from
/// another thread is a system call that wakes it. A stream (an export, an event stream) is flushed part
/// by part, and its task waits while the caller's connection is full, or fails once the caller has left.
private final class Answer: ResponseBodyWriter, @unchecked Sendable {
    private let handler: RouterChannelHandler
    private let context: ChannelHandlerContext
    private let loop: any EventLoop
    // The answering task's own.
    private var streaming = false
    private var finishing = false
    /// The body of an answer of known length, until it is handed over with its end.
    private var parts: [ByteBuffer] = []
    // The event loop's own (but an answer of known length's head, which its task sets before handing
    // anything to the loop).
    private var head: HTTPResponse?
    private var ended = false

    init(handler: RouterChannelHandler, context: ChannelHandlerContext) {
        self.handler = handler
        self.context = context
        loop = context.eventLoop
    }

    /// Writes `response`, then tells the handler; a failure closes the connection.
    func send(_ response: Response) async {
        streaming = response.body.contentLength == nil
        let head = response.head
        if streaming {
            onLoop {
                self.head = head
                self.handler.answering(head)
            }
        } else {
            // (Set before the task hands anything over: read on the loop in the job that ends the answer.)
            self.head = head
        }
        do {
            try await response.body.write(self)
            if !finishing { try await finish(nil) }
        } catch {
            onLoop {
                guard !self.ended else { return }
                self.ended = true
                self.context.close(promise: nil)
                self.handler.answered(context: self.context, closing: true)
            }
        }
    }

    func write(_ buffer: ByteBuffer) async throws {
        guard streaming else {
            parts.append(buffer)
            return
        }
        let full = try await loop.submit { () -> EventLoopFuture<Void>? in
            guard !self.ended, self.context.channel.isActive else { throw ChannelError.ioOnClosedChannel }
            self.writeHead()
            let promise = self.loop.makePromise(of: Void.self)
            self.context.writeAndFlush(NIOAny(HTTPResponsePart.body(buffer)), promise: promise)
            return self.context.channel.isWritable ? nil : promise.futureResult
        }.get()
        try await full?.get()
    }

    func finish(_ trailingHeaders: HTTPFields?) async throws {
        guard !finishing else { return }
        finishing = true
        let parts = parts
        self.parts = []
        let streaming = streaming
        onLoop {
            guard !self.ended else { return }
            self.ended = true
            if !streaming, let head = self.head { self.handler.answering(head) }
            self.writeHead()
            for part in parts { self.context.write(NIOAny(HTTPResponsePart.body(part)), promise: nil) }
            let end = self.context.writeAndFlush(NIOAny(HTTPResponsePart.end(trailingHeaders)))
            let closing = self.handler.closeAfterAnswer || !self.context.channel.isActive
            if closing {
                let channel = self.context.channel
                end.whenComplete { _ in channel.close(promise: nil) }
            }
            self.handler.answered(context: self.context, closing: closing)
        }
    }

    private func writeHead() {
        guard let head else { return }
        self.head = nil
        context.write(NIOAny(HTTPResponsePart.head(head)), promise: nil)
    }

    /// Runs `body` on the connection's event loop, after what was handed to it before.
    private func onLoop(_ body: @escaping @Sendable () -> Void) {
        loop.execute(body)
    }
}

/// The body of a request larger than the server reads: reading it fails as `collect(upTo:)` does
/// beyond its limit, which the routes answer with their 413 (`payload_too_large`, field `body`).
private struct TooLargeBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let limit: Int

    struct AsyncIterator: AsyncIteratorProtocol {
        let limit: Int
        mutating func next() async throws -> ByteBuffer? { throw NIOTooManyBytesError(maxBytes: limit) }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(limit: limit) }
}
