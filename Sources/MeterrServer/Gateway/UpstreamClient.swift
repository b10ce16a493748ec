import MeterrCore
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// Where a provider's calls go, read once from a base URL (`https://host[:port][/base/path]`).
struct UpstreamEndpoint: Sendable, Hashable {
    var tls: Bool
    var host: String
    var port: Int
    /// The base URL's path without a trailing slash (`""` for none).
    var basePath: String

    init?(baseURL: String) {
        var rest: Substring
        if baseURL.hasPrefix("https://") {
            tls = true
            rest = baseURL.dropFirst(8)
        } else if baseURL.hasPrefix("http://") {
            tls = false
            rest = baseURL.dropFirst(7)
        } else {
            return nil
        }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        rest = rest[authorityEnd...]
        guard !authority.contains("@"), !rest.contains("?"), !rest.contains("#") else { return nil }
        var path = String(rest)
        while path.hasSuffix("/") { path.removeLast() }
        basePath = path
        let defaultPort = tls ? 443 : 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            guard after.isEmpty || after.hasPrefix(":") else { return nil }
            guard let port = after.isEmpty ? defaultPort : Int(after.dropFirst()) else { return nil }
            self.port = port
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let port = Int(authority[authority.index(after: colon)...]) else { return nil }
            self.port = port
        } else {
            host = String(authority)
            port = defaultPort
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
    }

    /// The path a call goes to: `path` (as the caller's SDK wrote it, `/v1/chat/completions`) under
    /// the base URL's path, which may already end in what the call's path begins with, the way each
    /// SDK's own docs write base URLs (`http://host:8000/v1`, `https://x.openai.azure.com/openai`).
    /// That overlap is not doubled; and a base ending in another version than the call names
    /// (`…/v1beta` for a `/v1/models/…` call) gives way to the caller's.
    func path(for path: String) -> String {
        if basePath.isEmpty { return path }
        let base = basePath.split(separator: "/", omittingEmptySubsequences: true)
        let call = path.split(separator: "/", omittingEmptySubsequences: true)
        for overlap in stride(from: min(base.count, call.count), through: 1, by: -1)
        where base.suffix(overlap).elementsEqual(call.prefix(overlap)) {
            return "/" + base.dropLast(overlap).map { $0 + "/" }.joined() + path.drop { $0 == "/" }
        }
        if let last = base.last, let first = call.first, Self.isVersion(last), Self.isVersion(first) {
            return "/" + base.dropLast().map { $0 + "/" }.joined() + path.drop { $0 == "/" }
        }
        return basePath + path
    }

    /// `v1`, `v2`, `v1beta`, `v1alpha2`: an API version segment.
    static func isVersion(_ segment: Substring) -> Bool {
        let bytes = Array(segment.utf8)
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "v"), (0x30...0x39).contains(bytes[1]) else { return false }
        let digit = { (byte: UInt8) in (0x30...0x39).contains(byte) }
        let rest = bytes.dropFirst(1).drop(while: digit)
        return rest.isEmpty
            || ["beta", "alpha"].contains { stage in
                rest.starts(with: stage.utf8) && rest.dropFirst(stage.utf8.count).allSatisfy(digit)
            }
    }

    /// The `Host` header: the port only when it is not the scheme's own.
    var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == (tls ? 443 : 80) ? name : "\(name):\(port)"
    }

    /// Whether the host is an address literal (no server name to send in TLS).
    var hostIsAddress: Bool {
        host.contains(":") || host.utf8.allSatisfy { $0 == UInt8(ascii: ".") || (0x30...0x39).contains($0) }
    }
}

/// One request to an upstream: the head as it goes on the wire, and the whole body.
struct UpstreamRequest: Sendable {
    var endpoint: UpstreamEndpoint
    var head: HTTPRequestHead
    var body: ByteBuffer
}

/// Why an upstream call ended without a whole response.
enum UpstreamFailure: Error, Sendable {
    /// No connection could be made.
    case unreachable
    /// No response head within the first-byte time-out, or a silence longer than the read time-out.
    case timedOut
    /// The connection closed, or the upstream sent bytes that are not HTTP.
    case broken
    /// The connection closed after the whole request went out and before any answer: the provider
    /// may have run (and billed) the call, so it is not sent again.
    case droppedAfterRequest
    /// The proxy did not open a tunnel (a 407 or another refusal of `CONNECT`, or no answer to it).
    case proxyRefused
}

/// Receives one upstream response, on the event loop of the call.
protocol UpstreamResponseHandler: AnyObject {
    func upstreamReceived(head: HTTPResponseHead)
    func upstreamReceived(body: ByteBuffer)
    func upstreamFinished()
    func upstreamFailed(_ failure: UpstreamFailure)
}

/// The gateway's HTTP/1.1 client: keep-alive connections pooled per event loop, so a call is made
/// and answered on the event loop of the connection it serves, with no thread switch and no task.
/// Plain TCP or TLS (system trust roots); time-outs for connecting, the first byte and silences.
final class UpstreamClient: Sendable {
    struct Timeouts: Sendable {
        var connect: TimeAmount
        var firstByte: TimeAmount
        var read: TimeAmount
        /// How long an unused connection stays open.
        var idle: TimeAmount
    }

    let timeouts: Timeouts
    let proxies: UpstreamProxies
    private let tls: NIOSSLContext?
    private let pools = Mutex<[ObjectIdentifier: UpstreamPool]>([:])

    /// - Parameters:
    ///   - caFile: a PEM file of authorities trusted besides the system's.
    ///   - proxies: the proxies calls go through, if any.
    init(timeouts: Timeouts, caFile: String? = nil, proxies: UpstreamProxies = UpstreamProxies()) throws {
        self.timeouts = timeouts
        self.proxies = proxies
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let caFile {
            configuration.additionalTrustRoots = [.file(caFile)]
            do {
                tls = try NIOSSLContext(configuration: configuration)
            } catch {
                throw MeterrError(.configuration, "upstream_ca_file: \(caFile) holds no usable PEM certificate")
            }
        } else {
            // Without system trust roots https upstreams get a 502 at call time; plain ones still work.
            tls = try? NIOSSLContext(configuration: configuration)
        }
    }

    /// Starts a call; `handler` hears the response on `loop`, where this must be called.
    func execute(_ request: UpstreamRequest, on loop: any EventLoop, handler: any UpstreamResponseHandler)
        -> UpstreamCall
    {
        loop.preconditionInEventLoop()
        let call = UpstreamCall(request: request, client: self, pool: pool(for: loop), loop: loop, handler: handler)
        call.start()
        return call
    }

    /// Closes every pooled connection; calls in flight finish on their own.
    func shutdown() {
        for pool in pools.withLock({ Array($0.values) }) {
            pool.loop.execute { pool.closeAll() }
        }
    }

    private func pool(for loop: any EventLoop) -> UpstreamPool {
        pools.withLock { pools in
            let id = ObjectIdentifier(loop)
            if let pool = pools[id] { return pool }
            let pool = UpstreamPool(loop: loop, idleTimeout: timeouts.idle)
            pools[id] = pool
            return pool
        }
    }

    /// Opens a connection to `endpoint` on `loop`: directly, through a proxy's `CONNECT` tunnel
    /// (https), or to a proxy that forwards each request (plain http).
    func connect(_ endpoint: UpstreamEndpoint, on loop: any EventLoop) -> EventLoopFuture<UpstreamConnection> {
        if endpoint.tls && tls == nil { return loop.makeFailedFuture(UpstreamFailure.unreachable) }
        let tls = endpoint.tls ? self.tls : nil
        let proxy = proxies.proxy(for: endpoint)
        let tunnel = endpoint.tls ? proxy : nil
        let tunnelled = tunnel.map { _ in loop.makePromise(of: Void.self) }
        let connected = ClientBootstrap(group: loop)
            .connectTimeout(timeouts.connect)
            .channelInitializer { [timeouts] channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tunnel, let tunnelled {
                        // The tunnel first; TLS and HTTP to the provider go on once it stands.
                        var headers = HTTPHeaders([("host", endpoint.hostHeader)])
                        if let authorization = tunnel.authorization {
                            headers.add(name: "proxy-authorization", value: authorization)
                        }
                        try sync.addHandler(HTTPRequestEncoder(), name: Self.tunnelEncoder)
                        try sync.addHandler(
                            ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes)),
                            name: Self.tunnelDecoder)
                        try sync.addHandler(
                            NIOHTTP1ProxyConnectHandler(
                                targetHost: endpoint.host, targetPort: endpoint.port, headers: headers,
                                deadline: .now() + timeouts.connect, promise: tunnelled),
                            name: Self.tunnelHandler)
                    } else {
                        try Self.addHTTPHandlers(sync, tls: tls, endpoint: endpoint)
                    }
                }
            }
            .connect(host: proxy?.host ?? endpoint.host, port: proxy?.port ?? endpoint.port)
        guard let tunnelled else {
            return connected.flatMapThrowing { channel in
                try Self.connection(channel, endpoint: endpoint, forwardingProxy: proxy)
            }
        }
        connected.whenFailure { tunnelled.fail($0) }
        return connected.and(tunnelled.futureResult).flatMap { channel, _ in
            // The CONNECT handler has left; its codec leaves once its read is over (the answer to
            // CONNECT is being decoded right now), and TLS goes on after that.
            let sync = channel.pipeline.syncOperations
            let removed = [Self.tunnelDecoder, Self.tunnelEncoder].map { sync.removeHandler(name: $0) }
            return EventLoopFuture.andAllSucceed(removed, on: loop).flatMapThrowing {
                try Self.addHTTPHandlers(sync, tls: tls, endpoint: endpoint)
                return try Self.connection(channel, endpoint: endpoint, forwardingProxy: nil)
            }.flatMapErrorThrowing { error in
                channel.close(promise: nil)
                throw error
            }
        }
    }

    private static let tunnelEncoder = "meterr.tunnel.encoder"
    private static let tunnelDecoder = "meterr.tunnel.decoder"
    private static let tunnelHandler = "meterr.tunnel.connect"

    private static func addHTTPHandlers(
        _ sync: ChannelPipeline.SynchronousOperations, tls: NIOSSLContext?, endpoint: UpstreamEndpoint
    ) throws {
        if let tls {
            try sync.addHandler(
                NIOSSLClientHandler(context: tls, serverHostname: endpoint.hostIsAddress ? nil : endpoint.host))
        }
        try sync.addHTTPClientHandlers()
        try sync.addHandler(UpstreamConnectionHandler())
    }

    private static func connection(
        _ channel: any Channel, endpoint: UpstreamEndpoint, forwardingProxy: UpstreamProxy?
    ) throws -> UpstreamConnection {
        let handler = try channel.pipeline.syncOperations.handler(type: UpstreamConnectionHandler.self)
        let connection = UpstreamConnection(
            channel: channel, endpoint: endpoint, handler: handler, forwardingProxy: forwardingProxy)
        handler.connection = connection
        return connection
    }
}

/// The idle connections of one event loop, by endpoint. Used on that event loop only.
final class UpstreamPool: @unchecked Sendable {
    let loop: any EventLoop
    let idleTimeout: TimeAmount
    private var idle: [UpstreamEndpoint: [UpstreamConnection]] = [:]
    private var closed = false

    init(loop: any EventLoop, idleTimeout: TimeAmount) {
        self.loop = loop
        self.idleTimeout = idleTimeout
    }

    /// The most recently used open connection to `endpoint`, if any. A connection whose provider has
    /// already hung up (its close not yet seen by the event loop) is closed instead of reused.
    func checkout(_ endpoint: UpstreamEndpoint) -> UpstreamConnection? {
        while let connection = idle[endpoint]?.popLast() {
            connection.idleTimer?.cancel()
            connection.idleTimer = nil
            if connection.channel.isActive && Self.stillEstablished(connection.channel) { return connection }
            connection.channel.close(promise: nil)
        }
        return nil
    }

    /// Whether the kernel still sees the connection as established: one `getsockopt` (TCP_INFO), which
    /// tells a provider's close that has arrived but not been read yet.
    static func stillEstablished(_ channel: any Channel) -> Bool {
        #if os(Linux)
            guard let provider = channel as? any SocketOptionProvider else { return true }
            var established = true
            // On the channel's own event loop the option is read at once and the future is complete.
            provider.getTCPInfo().whenSuccess { info in established = info.tcpi_state == 1 }  // TCP_ESTABLISHED
            return established
        #else
            return true
        #endif
    }

    func checkin(_ connection: UpstreamConnection) {
        guard !closed, connection.channel.isActive else {
            connection.channel.close(promise: nil)
            return
        }
        idle[connection.endpoint, default: []].append(connection)
        connection.idleTimer = loop.scheduleTask(in: idleTimeout) { [weak self, weak connection] in
            guard let self, let connection else { return }
            self.remove(connection)
            connection.channel.close(promise: nil)
        }
    }

    /// Forgets a connection that closed while idle.
    func remove(_ connection: UpstreamConnection) {
        connection.idleTimer?.cancel()
        connection.idleTimer = nil
        idle[connection.endpoint]?.removeAll { $0 === connection }
    }

    func closeAll() {
        closed = true
        for connection in idle.values.joined() { connection.channel.close(promise: nil) }
        idle.removeAll()
    }
}

/// One keep-alive connection to an upstream. Used on its channel's event loop only.
final class UpstreamConnection: @unchecked Sendable {
    let channel: any Channel
    let endpoint: UpstreamEndpoint
    let handler: UpstreamConnectionHandler
    /// The proxy this connection goes to when it forwards plain http requests (absolute-form).
    let forwardingProxy: UpstreamProxy?
    var idleTimer: Scheduled<Void>?
    weak var pool: UpstreamPool?

    init(
        channel: any Channel, endpoint: UpstreamEndpoint, handler: UpstreamConnectionHandler,
        forwardingProxy: UpstreamProxy? = nil
    ) {
        self.channel = channel
        self.endpoint = endpoint
        self.handler = handler
        self.forwardingProxy = forwardingProxy
    }
}

/// Hands a connection's response parts to the call that owns the connection.
final class UpstreamConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    weak var connection: UpstreamConnection?
    var call: UpstreamCall?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let call else { return }
        switch unwrapInboundIn(data) {
        case .head(let head): call.received(head: head)
        case .body(let body): call.received(body: body)
        case .end: call.received(end: ())
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let call {
            call.connectionClosed()
        } else if let connection {
            connection.pool?.remove(connection)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        call?.connectionClosed()
        context.close(promise: nil)
    }
}

/// One call in flight: writes the request, times the answer, pauses reading while the caller
/// cannot keep up, and returns the connection to the pool when the response has ended.
/// Used on its event loop only.
final class UpstreamCall: @unchecked Sendable {
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
    private var timer: Scheduled<Void>?

    fileprivate init(
        request: UpstreamRequest, client: UpstreamClient, pool: UpstreamPool, loop: any EventLoop,
        handler: any UpstreamResponseHandler
    ) {
        self.request = request
        self.client = client
        self.pool = pool
        self.loop = loop
        self.handler = handler
    }

    fileprivate func start() {
        firstByteDeadline = .now() + client.timeouts.firstByte
        arm(at: firstByteDeadline)
        if let connection = pool.checkout(request.endpoint) {
            send(on: connection)
        } else {
            open()
        }
    }

    private func open() {
        state = .connecting
        client.connect(request.endpoint, on: loop).whenComplete { result in
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
        arm(at: min(firstByteDeadline, lastRead + client.timeouts.read))
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
        channel.writeAndFlush(HTTPClientRequestPart.end(nil)).whenComplete { result in
            // A write that ends after the call moved to another connection is that old one's business.
            guard self.connection === connection else { return }
            switch result {
            case .success: self.requestWritten = true
            case .failure: self.connectionClosed()
            }
        }
    }

    fileprivate func received(head: HTTPResponseHead) {
        guard state == .awaitingHead else { return }
        // 1xx answers precede the real one.
        if head.status.code < 200 { return }
        state = .receiving
        keepAlive = head.isKeepAlive
        lastRead = .now()
        arm(at: lastRead + client.timeouts.read)
        handler?.upstreamReceived(head: head)
    }

    fileprivate func received(body: ByteBuffer) {
        guard state == .receiving else { return }
        lastRead = .now()
        handler?.upstreamReceived(body: body)
    }

    fileprivate func received(end: Void) {
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
    fileprivate func connectionClosed() {
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
    func pause() {
        guard !paused, let connection else { return }
        paused = true
        try? connection.channel.syncOptions?.setOption(.autoRead, value: false)
    }

    /// Reads from the upstream again.
    func resume() {
        guard paused, let connection else { return }
        paused = false
        lastRead = .now()
        try? connection.channel.syncOptions?.setOption(.autoRead, value: true)
        connection.channel.read()
    }

    /// Abandons the call (the caller left): the connection is closed, the handler hears nothing more.
    func cancel() {
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
        timer?.cancel()
        timer = loop.scheduleTask(deadline: deadline) { [weak self] in self?.timerFired() }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }

    private func timerFired() {
        timer = nil
        let now = NIODeadline.now()
        // A paused read is the caller's slowness, not the upstream's silence.
        if paused { lastRead = now }
        let silenceEnds = lastRead + client.timeouts.read
        switch state {
        case .connecting:
            if now >= firstByteDeadline { fail(.timedOut) } else { arm(at: firstByteDeadline) }
        case .awaitingHead:
            if now >= firstByteDeadline || now >= silenceEnds {
                fail(.timedOut)
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
