import HummingbirdCore
import Logging
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOPosix
import NIOSSL
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// meterr's HTTP server. Every event loop has a listener of its own on the port (`SO_REUSEPORT`: the
/// kernel spreads new connections over them, each listener taking up to 128 waiting to be accepted),
/// and the loop that accepts a connection serves it from its first byte: the gateway's handler answers
/// its calls there, and their upstream calls run there too. A new connection costs no hop between
/// threads (NIO's asynchronous server bootstrap, which Hummingbird's server uses, sets each one up
/// across two loops, with five wake-ups between them before the socket is read).
///
/// Requests the gateway does not serve go on to Hummingbird's HTTP/1 handling, a task per connection in
/// the server's task group, started when the connection's first such request (or a request that could
/// not be parsed) arrives: a connection that only makes gateway calls never wakes Swift's thread pool.
/// A graceful shutdown stops accepting, lets each connection finish the request in flight, and ends
/// when every connection has closed.
final class HTTPServer: Service, Sendable, CustomStringConvertible {
    var description: String { "HTTPServer" }

    typealias Connection = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    let host: String
    let port: Int
    let group: MultiThreadedEventLoopGroup
    /// Hummingbird's handling of a connection, once it has a request for Hummingbird.
    let http: HTTP1Channel
    /// The handlers between NIO's HTTP/1 handlers and the conversion to Hummingbird's parts, made for
    /// each connection.
    let handlers: @Sendable () -> [any RemovableChannelHandler]
    let tls: NIOSSLContext?
    let logger: Logger
    let onRunning: @Sendable (any Channel) async -> Void

    /// A server whose connections' pipelines hold `handlers` between HTTP/1 and Hummingbird, which
    /// answers what they pass on with `responder`.
    init(
        host: String, port: Int, group: MultiThreadedEventLoopGroup, tls: NIOSSLContext?,
        handlers: @escaping @Sendable () -> [any RemovableChannelHandler],
        responder: @escaping HTTPChannelHandler.Responder, logger: Logger,
        onRunning: @escaping @Sendable (any Channel) async -> Void
    ) {
        self.host = host
        self.port = port
        self.group = group
        http = HTTP1Channel(responder: responder)
        self.handlers = handlers
        self.tls = tls
        self.logger = logger
        self.onRunning = onRunning
    }

    func run() async throws {
        let (connections, arrivals) = AsyncStream<Connection>.makeStream()
        // One quiescing helper per listener (a helper follows one server channel and what it accepted).
        var listeners: [(channel: any Channel, quiescing: ServerQuiescingHelper)] = []
        do {
            let address = try SocketAddress.makeAddressResolvingHost(host, port: port)
            #if os(Linux)
                // A plain bind first: a port someone holds is refused here, even by a listener that also
                // shares its port (which the listeners below would otherwise join).
                if port != 0 { close(try Self.boundSocket(address, sharedPort: false)) }
                // One listener per loop on the same port (the first one's, when port 0 picked it): the
                // kernel spreads new connections over them.
                for loop in group.makeIterator() {
                    let socket = try Self.boundSocket(
                        listeners.first?.channel.localAddress ?? address, sharedPort: true)
                    let quiescing = ServerQuiescingHelper(group: loop)
                    let channel = try await listener(on: loop, childGroup: loop, socket: socket, quiescing, arrivals)
                    listeners.append((channel, quiescing))
                }
            #else
                // One listener; connections are spread over the loops.
                let socket = try Self.boundSocket(address, sharedPort: false)
                let loop = group.next()
                let quiescing = ServerQuiescingHelper(group: loop)
                listeners.append(
                    (try await listener(on: loop, childGroup: group, socket: socket, quiescing, arrivals), quiescing))
            #endif
        } catch {
            for listener in listeners { try? await listener.channel.close() }
            throw error
        }
        let running = listeners
        await onRunning(running[0].channel)
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { tasks in
                for await connection in connections {
                    tasks.addTask { [http, logger] in await http.handle(value: connection, logger: logger) }
                }
            }
        } onGracefulShutdown: {
            let shutDowns = running.map { listener in
                let shutDown = listener.channel.eventLoop.makePromise(of: Void.self)
                listener.quiescing.initiateShutdown(promise: shutDown)
                return shutDown.futureResult
            }
            EventLoopFuture.andAllComplete(shutDowns, on: running[0].channel.eventLoop).whenComplete { _ in
                arrivals.finish()
            }
        }
        // Cancelled rather than shut down: stop listening all the same.
        for listener in running { try? await listener.channel.close() }
    }

    /// A listener on `loop` for `socket`, whose connections are served on `childGroup`.
    private func listener(
        on loop: any EventLoop, childGroup: any EventLoopGroup, socket: CInt, _ quiescing: ServerQuiescingHelper,
        _ arrivals: AsyncStream<Connection>.Continuation
    ) async throws -> any Channel {
        let tls = tls
        let logger = logger
        let http = http
        return try await ServerBootstrap(group: loop, childGroup: childGroup)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { [handlers] channel in
                // Set up synchronously: the pipeline is whole before the first byte is read.
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tls { try pipeline.addHandler(NIOSSLServerHandler(context: tls)) }
                    // As Hummingbird's HTTP/1 channel sets it up, with its decoder's limits.
                    let decoder = http.configuration.httpDecoder
                    var limits = NIOHTTPDecoderLimitConfiguration()
                    limits.maxHeaderFieldSize = decoder.maxHeaderFieldSize
                    limits.maxHeaderListSize = decoder.maxHeaderListSize
                    limits.maxHeaderFieldCount = decoder.maxHeaderFieldCount
                    try pipeline.configureHTTPServerPipeline(
                        withPipeliningAssistance: false, withErrorHandling: false,
                        withOutboundHeaderValidation: false, withEncoderConfiguration: .init(),
                        withDecoderLimitConfiguration: limits)
                    // The gateway's calls are taken in NIO's HTTP/1 parts; the rest go on as HTTPTypes parts.
                    try pipeline.addHandlers(handlers())
                    try pipeline.addHandler(HTTP1ServerCodec(secure: false))
                    try pipeline.addHandler(
                        HummingbirdStart { channel in
                            try channel.pipeline.syncOperations.addHandler(
                                HTTPConnectionStateHandler(idleTimeout: nil, logger: logger))
                            let connection = try Connection(
                                wrappingChannelSynchronously: channel,
                                configuration: .init(isOutboundHalfClosureEnabled: true))
                            if case .terminated = arrivals.yield(connection) { channel.close(promise: nil) }
                        })
                }
            }
            .withBoundSocket(socket).get()
    }

    /// A TCP socket bound to `address`, `SO_REUSEPORT` when `sharedPort` (NIO listens on it); errors
    /// are NIO's `IOError`, with the errno.
    static func boundSocket(_ address: SocketAddress, sharedPort: Bool) throws -> CInt {
        #if canImport(Glibc)
            let kind = CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue)
        #else
            let kind = SOCK_STREAM
        #endif
        let descriptor = socket(address.protocol.rawValue, kind, 0)
        guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        var yes: CInt = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<CInt>.size))
        if sharedPort { setsockopt(descriptor, SOL_SOCKET, SO_REUSEPORT, &yes, socklen_t(MemoryLayout<CInt>.size)) }
        let bound = address.withSockAddr { pointer, size in bind(descriptor, pointer, socklen_t(size)) }
        guard bound == 0 else {
            let code = errno
            close(descriptor)
            throw IOError(errnoCode: code, reason: "bind")
        }
        return descriptor
    }
}

/// Starts Hummingbird's handling of a connection (the rest of its pipeline and its task) when the first
/// request for it passes, or an error (Hummingbird answers what could not be parsed). Until then, a
/// graceful shutdown closes the connection (the gateway's handler passes the event on only once no
/// call is in flight).
final class HummingbirdStart: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private var start: ((any Channel) throws -> Void)?

    init(start: @escaping (any Channel) throws -> Void) {
        self.start = start
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard startOnce(context) else { return }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard startOnce(context) else { return }
        context.fireErrorCaught(error)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if start != nil, event is ChannelShouldQuiesceEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// False when Hummingbird's handling could not be set up (the connection is closed).
    private func startOnce(_ context: ChannelHandlerContext) -> Bool {
        guard let start else { return true }
        self.start = nil
        do {
            try start(context.channel)
            return true
        } catch {
            context.close(promise: nil)
            return false
        }
    }
}
