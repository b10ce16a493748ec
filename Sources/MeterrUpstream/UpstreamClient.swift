import MeterrCore
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// One request to an upstream: the head as it goes on the wire, and the whole body.
///
/// Its header names and values must already be valid HTTP: the client writes them as they are (the
/// gateway's come from a request NIO parsed, its own constants, and provider keys it checked).
package struct UpstreamRequest: Sendable {
    package var endpoint: UpstreamEndpoint
    package var head: HTTPRequestHead
    package var body: ByteBuffer
    /// The latest the answer's first byte may come, when sooner than the client's own time-out (a
    /// routed call's deadline).
    package var firstByteBy: NIODeadline?

    package init(endpoint: UpstreamEndpoint, head: HTTPRequestHead, body: ByteBuffer, firstByteBy: NIODeadline? = nil) {
        self.endpoint = endpoint
        self.head = head
        self.body = body
        self.firstByteBy = firstByteBy
    }
}

/// Why an upstream call ended without a whole response.
package enum UpstreamFailure: Error, Sendable {
    /// No connection could be made.
    case unreachable
    /// No response head within the first-byte time-out, or a silence longer than the read time-out.
    case timedOut
    /// No answer head in time although the whole request went out: the provider may be running (and
    /// billing) the call.
    case timedOutAfterRequest
    /// The connection closed, or the upstream sent bytes that are not HTTP.
    case broken
    /// The connection closed after the whole request went out and before any answer: the provider
    /// may have run (and billed) the call, so it is not sent again.
    case droppedAfterRequest
    /// The proxy did not open a tunnel (a 407 or another refusal of `CONNECT`, or no answer to it).
    case proxyRefused
}

/// Receives one upstream response, on the event loop of the call.
package protocol UpstreamResponseHandler: AnyObject {
    func upstreamReceived(head: HTTPResponseHead)
    func upstreamReceived(body: ByteBuffer)
    /// What one read from the provider held has been handed over (the head and body parts before
    /// this): the moment to flush what they were turned into, so one read's parts leave together.
    func upstreamReadComplete()
    func upstreamFinished()
    func upstreamFailed(_ failure: UpstreamFailure)
}

extension UpstreamResponseHandler {
    package func upstreamReadComplete() {}
}

/// The gateway's HTTP/1.1 client: keep-alive connections pooled per event loop, so a call is made
/// and answered on the event loop of the connection it serves, with no thread switch and no task.
/// Plain TCP or TLS (system trust roots); time-outs for connecting, the first byte and silences.
package final class UpstreamClient: Sendable {
    package struct Timeouts: Sendable {
        package var connect: TimeAmount
        package var firstByte: TimeAmount
        package var read: TimeAmount
        /// How long an unused connection stays open.
        package var idle: TimeAmount

        package init(connect: TimeAmount, firstByte: TimeAmount, read: TimeAmount, idle: TimeAmount) {
            self.connect = connect
            self.firstByte = firstByte
            self.read = read
            self.idle = idle
        }
    }

    package let timeouts: Timeouts
    package let proxies: UpstreamProxies
    private let tls: NIOSSLContext?
    private let pools = Mutex<[ObjectIdentifier: UpstreamPool]>([:])

    /// - Parameters:
    ///   - caFile: a PEM file of authorities trusted besides the system's.
    ///   - proxies: the proxies calls go through, if any.
    package init(timeouts: Timeouts, caFile: String? = nil, proxies: UpstreamProxies = UpstreamProxies()) throws {
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
    package func execute(_ request: UpstreamRequest, on loop: any EventLoop, handler: any UpstreamResponseHandler)
        -> UpstreamCall
    {
        loop.preconditionInEventLoop()
        let call = UpstreamCall(request: request, client: self, pool: pool(for: loop), loop: loop, handler: handler)
        call.start()
        return call
    }

    /// Closes every pooled connection; calls in flight finish on their own.
    package func shutdown() {
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
                try Self.addHTTPHandlers(channel.pipeline.syncOperations, tls: tls, endpoint: endpoint)
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
        // Headers are not checked again here (see `UpstreamRequest`).
        try sync.addHTTPClientHandlers(enableOutboundHeaderValidation: false)
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
