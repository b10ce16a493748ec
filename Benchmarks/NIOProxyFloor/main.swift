// `meterr-nio-floor PORT UPSTREAM_PORT`: a reverse proxy in SwiftNIO that does nothing but forward,
// the floor under meterr's gateway. It sets up its connections as meterr's server does (NIO's HTTP/1
// server handlers on the accepting loop, one listener per loop, the provider's connections kept alive
// and pooled on the loop of the call that uses them), and forwards each request and answer unchanged:
// no key, no reading of the body, no price, no ledger. `scripts/bench-gateway/run.sh` and `threads.sh`
// measure it beside nginx as a proxy, so what meterr costs above it is what metering costs, and what it
// costs above nginx is what NIO and Swift cost.

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

let arguments = CommandLine.arguments
guard arguments.count == 3, let port = Int(arguments[1]), let upstreamPort = Int(arguments[2]),
    (0...65_535).contains(port), (1...65_535).contains(upstreamPort)
else { fail("usage: meterr-nio-floor PORT UPSTREAM_PORT", status: 2) }
let upstream: SocketAddress
do {
    upstream = try SocketAddress(ipAddress: "127.0.0.1", port: upstreamPort)
} catch {
    fail("meterr-nio-floor: \(error)")
}
let group = MultiThreadedEventLoopGroup.singleton

/// The kept-alive connections to the upstream of one event loop; used on that loop only.
final class UpstreamPool {
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

/// One caller's connection: reads a request whole, forwards it, writes the answer back.
final class ProxyHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let pool: UpstreamPool
    private let host: String
    private var context: ChannelHandlerContext?
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var keepAlive = true

    init(pool: UpstreamPool, host: String) {
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

// One listener per loop on the port (`SO_REUSEPORT`), its connections served on that loop with that
// loop's pool, as meterr's server does.
var listeners: [any Channel] = []
for loop in group.makeIterator() {
    let pool = LoopOwned(value: UpstreamPool(loop: loop))
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
print("listening on 127.0.0.1:\(port), forwarding to 127.0.0.1:\(upstreamPort)")
try? listeners[0].closeFuture.wait()
