// `meterr-nio-floor PORT UPSTREAM_PORT [--client floor|meterr|ahc|ahc-delegate]`: a reverse proxy in SwiftNIO
// that does nothing but forward, the floor under meterr's gateway. It sets up its connections as meterr's
// server does (NIO's HTTP/1 server handlers on the accepting loop, one listener per loop, the provider's
// connections kept alive and pooled on the loop of the call that uses them), and forwards each request
// and answer unchanged: no key, no reading of the body, no price, no ledger. `scripts/bench-gateway/run.sh`
// and `threads.sh` measure it beside nginx as a proxy, so what meterr costs above it is what metering
// costs, and what it costs above nginx is what NIO and Swift cost.
//
// `--client` picks the client that calls the upstream: `floor` (the default) a minimal pool of NIO
// channels; `meterr` the gateway's own `UpstreamClient`; `ahc` AsyncHTTPClient's delegate API with its
// delegate and connection on the caller's event loop (`.delegateAndChannel(on:)`), `ahc-delegate` with
// its delegate there and the connection preferably (`.delegate(on:)`). All but `ahc-delegate` make the
// call on the caller's event loop. `scripts/bench-gateway/clients.sh` compares them.

import AsyncHTTPClient
import MeterrUpstream
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Stops with one line on standard error.
func fail(_ message: String, status: Int32 = 1) -> Never {
    let line = Array((message + "\n").utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(status)
}

/// Which client calls the upstream.
enum Client: String { case floor, meterr, ahc, ahcDelegate = "ahc-delegate" }

let arguments = CommandLine.arguments
let usage = "usage: meterr-nio-floor PORT UPSTREAM_PORT [--client floor|meterr|ahc|ahc-delegate]"
guard arguments.count == 3 || (arguments.count == 5 && arguments[3] == "--client"),
    let port = Int(arguments[1]), let upstreamPort = Int(arguments[2]),
    (0...65_535).contains(port), (1...65_535).contains(upstreamPort),
    let client = arguments.count == 5 ? Client(rawValue: arguments[4]) : .floor
else { fail(usage, status: 2) }
let upstream: SocketAddress
do {
    upstream = try SocketAddress(ipAddress: "127.0.0.1", port: upstreamPort)
} catch {
    fail("meterr-nio-floor: \(error)")
}
let group = MultiThreadedEventLoopGroup.singleton

/// Sends a request upstream for a caller's connection and hands the answer's parts to it, on its loop.
protocol Forwarding: AnyObject {
    func send(_ head: HTTPRequestHead, _ body: ByteBuffer?, for proxy: ProxyHandler)
}

/// The kept-alive connections to the upstream of one event loop; used on that loop only.
final class UpstreamPool: Forwarding {
    let loop: any EventLoop
    private var idle: [UpstreamHandler] = []

    init(loop: any EventLoop) { self.loop = loop }

    /// Sends `request` on an idle connection (or a new one) and hands the answer's parts to `proxy`.
    func send(_ head: HTTPRequestHead, _ body: ByteBuffer?, for proxy: ProxyHandler) {
        if let connection = idle.popLast() {
            connection.send(head, body, for: proxy)
            return
        }
        let pool = NIOLoopBound(self, eventLoop: loop)
        let bound = NIOLoopBound(proxy, eventLoop: loop)
        ClientBootstrap(group: loop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler(pool: pool.value))
                }
            }
            .connect(to: upstream)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    guard let handler = try? channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
                    else { return bound.value.upstreamFailed() }
                    handler.send(head, body, for: bound.value)
                case .failure:
                    bound.value.upstreamFailed()
                }
            }
    }

    func checkIn(_ connection: UpstreamHandler) { idle.append(connection) }

    func remove(_ connection: UpstreamHandler) { idle.removeAll { $0 === connection } }
}

/// One connection to the upstream: writes a request, passes its answer on, then goes back to the pool.
final class UpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let pool: UpstreamPool
    private var context: ChannelHandlerContext?
    private var proxy: ProxyHandler?

    init(pool: UpstreamPool) { self.pool = pool }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func send(_ head: HTTPRequestHead, _ body: ByteBuffer?, for proxy: ProxyHandler) {
        guard let context else { return proxy.upstreamFailed() }
        self.proxy = proxy
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        proxy?.answer(part)
        if case .end = part {
            proxy = nil
            pool.checkIn(self)
        }
    }

    /// What one read brought of a streamed answer goes out at once, as nginx's proxy sends it.
    func channelReadComplete(context: ChannelHandlerContext) { proxy?.flush() }

    func channelInactive(context: ChannelHandlerContext) {
        pool.remove(self)
        self.context = nil
        proxy?.upstreamFailed()
        proxy = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}

/// meterr's gateway client (`UpstreamClient`): its pool of the loop, its timers and connection checks.
final class MeterrForwarder: Forwarding {
    let client: UpstreamClient
    let loop: any EventLoop
    let endpoint: UpstreamEndpoint

    init(client: UpstreamClient, loop: any EventLoop, endpoint: UpstreamEndpoint) {
        self.client = client
        self.loop = loop
        self.endpoint = endpoint
    }

    func send(_ head: HTTPRequestHead, _ body: ByteBuffer?, for proxy: ProxyHandler) {
        let request = UpstreamRequest(endpoint: endpoint, head: head, body: body ?? ByteBuffer())
        _ = client.execute(request, on: loop, handler: Relay(proxy))
    }

    final class Relay: UpstreamResponseHandler {
        let proxy: ProxyHandler
        init(_ proxy: ProxyHandler) { self.proxy = proxy }
        func upstreamReceived(head: HTTPResponseHead) { proxy.answer(.head(head)) }
        func upstreamReceived(body: ByteBuffer) { proxy.answer(.body(body)) }
        func upstreamReadComplete() { proxy.flush() }
        func upstreamFinished() { proxy.answer(.end(nil)) }
        func upstreamFailed(_ failure: UpstreamFailure) { proxy.upstreamFailed() }
    }
}

/// AsyncHTTPClient's delegate API, its delegate on the caller's event loop, and the connection too
/// (`.delegateAndChannel(on:)`) or preferably (`.delegate(on:)`).
final class AHCForwarder: Forwarding {
    let client: HTTPClient
    let loop: any EventLoop
    let base: String
    let preference: HTTPClient.EventLoopPreference

    init(client: HTTPClient, loop: any EventLoop, base: String, channelOnLoop: Bool) {
        self.client = client
        self.loop = loop
        self.base = base
        preference = channelOnLoop ? .delegateAndChannel(on: loop) : .delegate(on: loop)
    }

    func send(_ head: HTTPRequestHead, _ body: ByteBuffer?, for proxy: ProxyHandler) {
        do {
            let request = try HTTPClient.Request(
                url: base + head.uri, method: head.method, headers: head.headers, body: body.map { .byteBuffer($0) })
            _ = client.execute(request: request, delegate: Relay(proxy), eventLoop: preference)
        } catch {
            proxy.upstreamFailed()
        }
    }

    /// Called on the caller's loop only (`.delegateAndChannel(on:)`).
    final class Relay: HTTPClientResponseDelegate, @unchecked Sendable {
        typealias Response = Void
        let proxy: ProxyHandler
        init(_ proxy: ProxyHandler) { self.proxy = proxy }

        func didReceiveHead(task: HTTPClient.Task<Void>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
            proxy.answer(.head(head))
            return task.eventLoop.makeSucceededVoidFuture()
        }

        func didReceiveBodyPart(task: HTTPClient.Task<Void>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
            proxy.answer(.body(buffer))
            return task.eventLoop.makeSucceededVoidFuture()
        }

        func didFinishRequest(task: HTTPClient.Task<Void>) throws { proxy.answer(.end(nil)) }

        func didReceiveError(task: HTTPClient.Task<Void>, _ error: any Error) { proxy.upstreamFailed() }
    }
}

/// One caller's connection: reads a request whole, forwards it, writes the answer back.
final class ProxyHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let pool: any Forwarding
    private let host: String
    private var context: ChannelHandlerContext?
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var keepAlive = true

    init(pool: any Forwarding, host: String) {
        self.pool = pool
        self.host = host
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            head = request
            body = nil
            keepAlive = request.isKeepAlive
        case .body(var buffer):
            if body == nil { body = buffer } else { body!.writeBuffer(&buffer) }
        case .end:
            guard var request = head else { return }
            head = nil
            request.headers.replaceOrAdd(name: "host", value: host)
            request.headers.replaceOrAdd(name: "connection", value: "keep-alive")
            pool.send(request, body, for: self)
        }
    }

    func answer(_ part: HTTPClientResponsePart) {
        guard let context else { return }
        switch part {
        case .head(let head):
            context.write(wrapOutboundOut(.head(head)), promise: nil)
        case .body(let buffer):
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        case .end(let trailers):
            let done = context.writeAndFlush(wrapOutboundOut(.end(trailers)))
            if !keepAlive { done.whenComplete { [channel = context.channel] _ in channel.close(promise: nil) } }
        }
    }

    func flush() { context?.flush() }

    func upstreamFailed() {
        guard let context else { return }
        let head = HTTPResponseHead(
            version: .http1_1, status: .badGateway, headers: ["content-length": "0", "connection": "close"])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { [channel = context.channel] _ in
            channel.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) { self.context = nil }
}

/// A loop's pool, made before its loop runs anything of it and used on that loop only.
struct LoopOwned<Value>: @unchecked Sendable { let value: Value }

/// The clients shared by the loops (each keeps a pool per loop).
let meterrClient =
    client == .meterr
    ? try? UpstreamClient(
        timeouts: .init(connect: .seconds(10), firstByte: .seconds(600), read: .seconds(300), idle: .seconds(90)))
    : nil
/// AsyncHTTPClient with room for a kept-alive connection per caller's connection (its default soft limit
/// is 8 per host, which the 32-connection runs would queue behind), as meterr's pools allow.
let ahcClient: HTTPClient? = {
    guard client == .ahc || client == .ahcDelegate else { return nil }
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool = .init(idleTimeout: .seconds(90), concurrentHTTP1ConnectionsPerHostSoftLimit: 256)
    return HTTPClient(eventLoopGroup: group, configuration: configuration)
}()
guard let endpoint = UpstreamEndpoint(baseURL: "http://127.0.0.1:\(upstreamPort)") else {
    fail("meterr-nio-floor: no upstream endpoint")
}

/// The forwarder of `loop`, for the client asked for.
func forwarder(on loop: any EventLoop) -> any Forwarding {
    switch client {
    case .floor: return UpstreamPool(loop: loop)
    case .meterr:
        guard let meterrClient else { fail("meterr-nio-floor: meterr's client did not start") }
        return MeterrForwarder(client: meterrClient, loop: loop, endpoint: endpoint)
    case .ahc, .ahcDelegate:
        guard let ahcClient else { fail("meterr-nio-floor: AsyncHTTPClient did not start") }
        return AHCForwarder(
            client: ahcClient, loop: loop, base: "http://127.0.0.1:\(upstreamPort)", channelOnLoop: client == .ahc)
    }
}

// One listener per loop on the port (`SO_REUSEPORT`), its connections served on that loop with that
// loop's pool, as meterr's server does.
var listeners: [any Channel] = []
for loop in group.makeIterator() {
    let pool = LoopOwned(value: forwarder(on: loop))
    let listener = try? ServerBootstrap(group: loop, childGroup: loop)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .serverChannelOption(.socketOption(.init(rawValue: SO_REUSEPORT)), value: 1)
        .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                    withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false)
                try channel.pipeline.syncOperations.addHandler(
                    ProxyHandler(pool: pool.value, host: "127.0.0.1:\(upstreamPort)"))
            }
        }
        .bind(host: "127.0.0.1", port: port).wait()
    guard let listener else { fail("meterr-nio-floor: cannot listen on 127.0.0.1:\(port) (in use?)") }
    listeners.append(listener)
}
print("listening on 127.0.0.1:\(port), forwarding to 127.0.0.1:\(upstreamPort) with the \(client) client")
try? listeners[0].closeFuture.wait()
