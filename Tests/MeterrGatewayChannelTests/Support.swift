import Foundation
import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOPosix
import Synchronization
import Testing

@testable import MeterrGatewayChannel

#if canImport(Glibc)
    import Glibc
#endif

/// What the two sides saw, in order: `gw …` for the gateway's receivers, `hb …` for Hummingbird's stand-in.
final class Journal: Sendable {
    private let lines = Mutex<[String]>([])
    func add(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

/// The gateway's side: `/gw/…` paths, answered as the path says.
struct ScriptedRouting: GatewayRouting {
    let journal: Journal

    func serves(method: HTTPMethod, path: String) -> Bool { path.hasPrefix("/gw/") }

    func receiver(
        for head: HTTPRequestHead, path: String, query: String?, context: ChannelHandlerContext,
        owner: GatewayChannelHandler
    ) -> (any GatewayRequestReceiver)? {
        guard serves(method: head.method, path: path) else { return nil }
        journal.add("gw head \(path)")
        return ScriptedReceiver(head: head, path: path, context: context, owner: owner, journal: journal)
    }
}

/// `/gw/echo` answers what it read; `/gw/slow` answers 100 ms after the request ends; `/gw/limit`
/// refuses a body over 16 bytes at once (413, before the body is read whole).
final class ScriptedReceiver: GatewayRequestReceiver {
    let head: HTTPRequestHead
    let path: String
    let context: ChannelHandlerContext
    var owner: GatewayChannelHandler?
    let journal: Journal
    var body = ByteBuffer()

    init(
        head: HTTPRequestHead, path: String, context: ChannelHandlerContext, owner: GatewayChannelHandler,
        journal: Journal
    ) {
        self.head = head
        self.path = path
        self.context = context
        self.owner = owner
        self.journal = journal
    }

    func received(body part: ByteBuffer) {
        guard owner != nil else { return }
        var part = part
        body.writeBuffer(&part)
        if path == "/gw/limit", body.readableBytes > 16 {
            answer(status: .payloadTooLarge, "too large", close: true, unreadBody: true)
        }
    }

    func requestEnded() {
        guard owner != nil else { return }
        journal.add("gw end \(path) \(body.readableBytes)")
        let text = "gw \(path) " + String(buffer: body)
        if path == "/gw/slow" {
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .milliseconds(100)) { bound.value.answer(status: .ok, text) }
        } else {
            answer(status: .ok, text, close: !head.isKeepAlive)
        }
    }

    func writabilityChanged(_ writable: Bool) {}

    func callerLeft() {
        journal.add("gw left \(path)")
        owner = nil
    }

    func answer(status: HTTPResponseStatus, _ text: String, close: Bool = false, unreadBody: Bool = false) {
        guard let owner else { return }
        self.owner = nil
        var headers: HTTPHeaders = ["Content-Length": String(text.utf8.count)]
        if close { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
        owner.exchangeEnded(context: context, close: close, unreadBody: unreadBody)
    }
}

/// Hummingbird's place in the pipeline: answers every request it is handed with `hb <path>`.
final class HummingbirdStandIn: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart
    let journal: Journal
    var path = ""

    init(journal: Journal) { self.journal = journal }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            path = head.path ?? ""
            journal.add("hb head \(path)")
        case .body: break
        case .end:
            let text = "hb \(path)"
            let head = HTTPResponse(status: .ok, headerFields: [.contentLength: String(text.utf8.count)])
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(ByteBuffer(string: text))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    /// As Hummingbird does: an error closes the connection.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        journal.add("hb error")
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent { journal.add("hb quiesce") }
        context.fireUserInboundEventTriggered(event)
    }
}

/// A loopback HTTP/1.1 server with meterr's pipeline: NIO's HTTP/1 handlers, the gateway's handler,
/// the conversion to `HTTPTypes` parts, then "Hummingbird".
struct LoopbackServer {
    let group: MultiThreadedEventLoopGroup
    let channel: any Channel
    let journal: Journal
    var port: Int { channel.localAddress?.port ?? 0 }

    static func start() async throws -> LoopbackServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let journal = Journal()
        let channel = try await ServerBootstrap(group: group)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withPipeliningAssistance: false, withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandlers([
                        // A minute to read a body after an early answer: the machine running the tests may be
                        // starved, and the test that writes one checks the body is read, not when it closes.
                        GatewayChannelHandler(routing: ScriptedRouting(journal: journal), lingerTime: .seconds(60)),
                        HTTP1ToHTTPServerCodec(secure: false),
                        HummingbirdStandIn(journal: journal),
                    ])
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return LoopbackServer(group: group, channel: channel, journal: journal)
    }

    func stop() async throws {
        try await channel.close()
        try await group.shutdownGracefully()
    }
}

/// Runs blocking socket work on a thread of its own, so a test never holds one of Swift's
/// cooperative threads (two on a 2-core machine, shared with every suite running at once) while it
/// waits on a socket.
func onThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: work()) }.start()
    }
}

/// A loopback client that writes raw bytes and reads raw answers, each on a thread of its own.
/// (`@unchecked Sendable`: one test uses it, one call at a time.)
final class RawClient: @unchecked Sendable {
    let socket: Int32

    init(port: Int) throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        var timeout = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else { throw POSIXError(.ECONNREFUSED) }
    }

    deinit { close(socket) }

    /// Writes everything; false if the peer reset the connection.
    @discardableResult
    func write(_ text: String) async -> Bool { await write(Array(text.utf8)) }

    @discardableResult
    func write(_ bytes: [UInt8]) async -> Bool { await onThread { self.sendAll(bytes) } }

    private func sendAll(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }

    /// Reads until `count` answers are whole, the connection ends or 3 s pass without a byte; and
    /// whether the connection ended.
    func answers(_ count: Int) async -> (answers: [(status: Int, body: String)], closed: Bool) {
        await onThread { self.read(count) }
    }

    private func read(_ count: Int) -> (answers: [(status: Int, body: String)], closed: Bool) {
        var received: [UInt8] = []
        var answers: [(Int, String)] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            while let (answer, used) = Self.parse(received) {
                answers.append(answer)
                received.removeFirst(used)
            }
            if answers.count >= count && count >= 0 { return (answers, false) }
            let read = recv(socket, &buffer, buffer.count, 0)
            // 0: the server closed the connection; below 0: reset, or nothing came within the time-out.
            if read == 0 { return (answers, true) }
            if read < 0 { return (answers, errno == ECONNRESET) }
            received += buffer[..<read]
        }
    }

    /// Whether the server has closed the connection (nothing more to read) within the receive time-out.
    func isClosed() async -> Bool { await answers(Int.max).closed }

    private static func parse(_ bytes: [UInt8]) -> ((Int, String), Int)? {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let headEnd = text.range(of: "\r\n\r\n") else { return nil }
        let lines = text[..<headEnd.lowerBound].split(separator: "\r\n")
        guard let status = lines.first.flatMap({ Int($0.split(separator: " ")[1]) }) else { return nil }
        let length =
            lines.first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        let headBytes = text.utf8.distance(from: text.startIndex, to: headEnd.upperBound)
        guard bytes.count >= headBytes + length else { return nil }
        return ((status, String(decoding: bytes[headBytes..<headBytes + length], as: UTF8.self)), headBytes + length)
    }
}
