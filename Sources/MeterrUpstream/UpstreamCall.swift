import NIOCore
import NIOExtras
import NIOHTTP1

/// One call in flight: writes the request, times the answer, pauses reading while the caller
/// cannot keep up, and returns the connection to the pool when the response has ended.
///
/// It lives on its event loop: not `Sendable`, its callbacks are the loop's isolated futures and
/// timers (`assumeIsolated()`), which trap if they ever run anywhere else.
package final class UpstreamCall: DeadlineWatched {
    private enum State {
        case connecting
        case awaitingHead
        case receiving
        case done
    }

    private let request: UpstreamRequest
    private let client: UpstreamClient
    private let pool: UpstreamPool
    private let loop: any EventLoop
    private var handler: (any UpstreamResponseHandler)?
    private var connection: UpstreamConnection?
    private var state = State.connecting
    private var retried = false
    /// The whole request was handed to the kernel: from then on the provider may have it.
    private var requestWritten = false
    private var keepAlive = true
    private var paused = false
    private var lastRead = NIODeadline.now()
    private var firstByteDeadline = NIODeadline.now()
    /// When the time-outs are next checked (`deadlineReached`), while the pool's deadlines watch it.
    var deadline = NIODeadline.now()
    /// Its place among the calls its pool's deadlines watch.
    var watchIndex: Int?

    init(
        request: UpstreamRequest, client: UpstreamClient, pool: UpstreamPool, loop: any EventLoop,
        handler: any UpstreamResponseHandler
    ) {
        self.request = request
        self.client = client
        self.pool = pool
        self.loop = loop
        self.handler = handler
    }

    func start() {
        let now = NIODeadline.now()
        firstByteDeadline = min(now + client.timeouts.firstByte, request.firstByteBy ?? .distantFuture)
        // One deadline for the call, at the soonest any time-out could end it: when it comes, the call
        // sets the next (reads only move the silence's end later). The loop's deadlines share a timer.
        arm(at: min(firstByteDeadline, now + client.timeouts.read))
        if let connection = pool.checkout(request.endpoint) {
            send(on: connection)
        } else {
            open()
        }
    }

    private func open() {
        state = .connecting
        client.connect(request.endpoint, on: loop).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let connection):
                connection.pool = self.pool
                guard self.state != .done else {
                    self.pool.checkin(connection)
                    return
                }
                self.send(on: connection)
            case .failure(let error):
                self.fail(error is NIOHTTP1ProxyConnectHandler.Error ? .proxyRefused : .unreachable)
            }
        }
    }

    private func send(on connection: UpstreamConnection) {
        self.connection = connection
        connection.handler.call = self
        state = .awaitingHead
        lastRead = .now()
        let channel = connection.channel
        var head = request.head
        if let proxy = connection.forwardingProxy {
            head.uri = "http://" + request.endpoint.hostHeader + head.uri
            if let authorization = proxy.authorization {
                head.headers.replaceOrAdd(name: "proxy-authorization", value: authorization)
            }
        }
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        if request.body.readableBytes > 0 {
            channel.write(HTTPClientRequestPart.body(.byteBuffer(request.body)), promise: nil)
        }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil)).assumeIsolated().whenComplete { result in
            // A write that ends after the call moved to another connection is that old one's business.
            guard self.connection === connection else { return }
            switch result {
            case .success: self.requestWritten = true
            case .failure: self.connectionClosed()
            }
        }
    }

    func received(head: HTTPResponseHead) {
        guard state == .awaitingHead else { return }
        // 1xx answers precede the real one.
        if head.status.code < 200 { return }
        state = .receiving
        keepAlive = head.isKeepAlive
        lastRead = .now()
        handler?.upstreamReceived(head: head)
    }

    func received(body: ByteBuffer) {
        guard state == .receiving else { return }
        lastRead = .now()
        handler?.upstreamReceived(body: body)
    }

    /// The end of one read from the provider.
    func readComplete() {
        handler?.upstreamReadComplete()
    }

    func received(end: Void) {
        guard state == .receiving else { return }
        state = .done
        disarm()
        let handler = self.handler
        self.handler = nil
        release(reuse: keepAlive)
        handler?.upstreamFinished()
    }

    /// The connection closed (or broke) while this call owned it. Calls cost money and are not
    /// idempotent, so the call goes once more on a new connection only if the request never went out
    /// whole (the provider cannot have run it); one that did is reported as possibly run.
    func connectionClosed() {
        guard state == .awaitingHead || state == .receiving else { return }
        if state == .awaitingHead, !requestWritten, !retried {
            retried = true
            release(reuse: false)
            open()
            return
        }
        fail(state == .awaitingHead && requestWritten ? .droppedAfterRequest : .broken)
    }

    private func fail(_ failure: UpstreamFailure) {
        guard state != .done else { return }
        state = .done
        disarm()
        let handler = self.handler
        self.handler = nil
        release(reuse: false)
        handler?.upstreamFailed(failure)
    }

    /// Stops reading from the upstream (the caller's socket is full).
    package func pause() {
        guard !paused, let connection else { return }
        paused = true
        try? connection.channel.syncOptions?.setOption(.autoRead, value: false)
    }

    /// Reads from the upstream again.
    package func resume() {
        guard paused, let connection else { return }
        paused = false
        lastRead = .now()
        try? connection.channel.syncOptions?.setOption(.autoRead, value: true)
        connection.channel.read()
    }

    /// Abandons the call (the caller left): the connection is closed, the handler hears nothing more.
    package func cancel() {
        guard state != .done else { return }
        state = .done
        disarm()
        handler = nil
        release(reuse: false)
    }

    private func release(reuse: Bool) {
        guard let connection else { return }
        self.connection = nil
        connection.handler.call = nil
        if paused {
            paused = false
            try? connection.channel.syncOptions?.setOption(.autoRead, value: true)
        }
        if reuse {
            pool.checkin(connection)
        } else {
            connection.channel.close(promise: nil)
        }
    }

    /// Checks the time-outs at `deadline`: the first-byte deadline until the head, and the read
    /// time-out (a silence) once the request is sent.
    private func arm(at deadline: NIODeadline) {
        self.deadline = deadline
        pool.deadlines.watch(self)
    }

    private func disarm() {
        pool.deadlines.unwatch(self)
    }

    /// The deadline has come (the call has left the watch): a time-out ends the call, or the next check
    /// is armed.
    func deadlineReached() {
        let now = NIODeadline.now()
        // A paused read is the caller's slowness, not the upstream's silence.
        if paused { lastRead = now }
        let silenceEnds = lastRead + client.timeouts.read
        switch state {
        case .connecting:
            // Once connected the silence is counted from the send: look again within one read time-out.
            if now >= firstByteDeadline {
                fail(.timedOut)
            } else {
                arm(at: min(firstByteDeadline, now + client.timeouts.read))
            }
        case .awaitingHead:
            if now >= firstByteDeadline || now >= silenceEnds {
                fail(requestWritten ? .timedOutAfterRequest : .timedOut)
            } else {
                arm(at: min(firstByteDeadline, silenceEnds))
            }
        case .receiving:
            if now >= silenceEnds { fail(.timedOut) } else { arm(at: silenceEnds) }
        case .done:
            break
        }
    }
}
