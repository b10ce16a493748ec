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
/// Requests the gateway does not serve go on to Hummingbird's router (`RouterChannelHandler`: read on
/// the same loop, answered by a task on Swift's pool, or on the loop for the short reads named in
/// `shortReads`). A graceful shutdown stops accepting, lets each
/// connection finish the request in flight, and ends when every connection has closed.
final class HTTPServer: Service, Sendable, CustomStringConvertible {
    var description: String { "HTTPServer" }

    let host: String
    let port: Int
    let group: MultiThreadedEventLoopGroup
    /// The router's answers to the requests the gateway does not serve.
    let respond: RouterChannelHandler.Respond
    /// The largest request body read for the router.
    let maxBodyBytes: Int
    /// The paths whose `GET` the router answers on the connection's event loop (`RouterChannelHandler`).
    let shortReads: Set<String>
    /// The handlers between NIO's HTTP/1 handlers and the conversion to Hummingbird's parts, made for
    /// each connection.
    let handlers: @Sendable () -> [any RemovableChannelHandler]
    let tls: NIOSSLContext?
    let onRunning: @Sendable (any Channel) async -> Void

    /// A server whose connections' pipelines hold `handlers` between HTTP/1 and the router, which
    /// answers what they pass on with `respond`.
    init(
        host: String, port: Int, group: MultiThreadedEventLoopGroup, tls: NIOSSLContext?,
        handlers: @escaping @Sendable () -> [any RemovableChannelHandler], maxBodyBytes: Int,
        shortReads: Set<String> = [], respond: @escaping RouterChannelHandler.Respond,
        onRunning: @escaping @Sendable (any Channel) async -> Void
    ) {
        self.host = host
        self.port = port
        self.group = group
        self.respond = respond
        self.maxBodyBytes = maxBodyBytes
        self.shortReads = shortReads
        self.handlers = handlers
        self.tls = tls
        self.onRunning = onRunning
    }

    func run() async throws {
        // Finished when a graceful shutdown has closed every connection.
        let (closed, allClosed) = AsyncStream<Void>.makeStream()
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
                    let channel = try await listener(on: loop, childGroup: loop, socket: socket, quiescing)
                    listeners.append((channel, quiescing))
                }
            #else
                // One listener; connections are spread over the loops.
                let socket = try Self.boundSocket(address, sharedPort: false)
                let loop = group.next()
                let quiescing = ServerQuiescingHelper(group: loop)
                listeners.append(
                    (try await listener(on: loop, childGroup: group, socket: socket, quiescing), quiescing))
            #endif
        } catch {
            for listener in listeners { try? await listener.channel.close() }
            throw error
        }
        let running = listeners
        await onRunning(running[0].channel)
        await withGracefulShutdownHandler {
            for await _ in closed {}
        } onGracefulShutdown: {
            let shutDowns = running.map { listener in
                let shutDown = listener.channel.eventLoop.makePromise(of: Void.self)
                listener.quiescing.initiateShutdown(promise: shutDown)
                return shutDown.futureResult
            }
            EventLoopFuture.andAllComplete(shutDowns, on: running[0].channel.eventLoop).whenComplete { _ in
                allClosed.finish()
            }
        }
        // Cancelled rather than shut down: stop listening all the same.
        for listener in running { try? await listener.channel.close() }
    }

    /// A listener on `loop` for `socket`, whose connections are served on `childGroup`.
    private func listener(
        on loop: any EventLoop, childGroup: any EventLoopGroup, socket: CInt, _ quiescing: ServerQuiescingHelper
    ) async throws -> any Channel {
        let tls = tls
        let respond = respond
        let maxBodyBytes = maxBodyBytes
        let shortReads = shortReads
        // As Hummingbird's HTTP/1 channel sets it up, with its decoder's limits.
        let decoder = HTTP1Channel.Configuration().httpDecoder
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = decoder.maxHeaderFieldSize
        limits.maxHeaderListSize = decoder.maxHeaderListSize
        limits.maxHeaderFieldCount = decoder.maxHeaderFieldCount
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
                    try pipeline.configureHTTPServerPipeline(
                        withPipeliningAssistance: false, withErrorHandling: false,
                        withOutboundHeaderValidation: false, withEncoderConfiguration: .init(),
                        withDecoderLimitConfiguration: limits)
                    // The gateway's calls are taken in NIO's HTTP/1 parts; the rest go on as HTTPTypes parts.
                    try pipeline.addHandlers(handlers())
                    try pipeline.addHandler(HTTP1ServerCodec(secure: false))
                    try pipeline.addHandler(
                        RouterChannelHandler(maxBodyBytes: maxBodyBytes, shortReads: shortReads, respond: respond))
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
