import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

@testable import MeterrUpstream

#if canImport(Glibc)
    import Glibc
#endif

/// A provider on a loopback socket that answers each request as the test scripts it, byte for byte.
final class ScriptedServer: Sendable {
    enum Answer: Sendable {
        /// These bytes, then the connection stays open (or closes).
        case bytes(String, close: Bool)
        /// Read the request whole, then hang up without a word.
        case hangUp
        /// Read the request whole and say nothing.
        case silence
    }

    /// Connections accepted and requests read whole, shared with the serving threads.
    final class Counts: Sendable {
        let value = Mutex((connections: 0, requests: 0))
    }

    let port: Int
    private let listener: Int32
    private let counts = Counts()

    var connections: Int { counts.value.withLock { $0.connections } }
    var requests: Int { counts.value.withLock { $0.requests } }

    /// `answer` is called with the request's number on its connection (0 for the first).
    init(_ answer: @escaping @Sendable (Int) -> Answer) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 16) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRINUSE) }
        self.listener = listener
        self.port = Int(UInt16(bigEndian: address.sin_port))
        let counts = self.counts
        Thread {
            while true {
                let connection = accept(listener, nil, nil)
                guard connection >= 0 else { return }
                counts.value.withLock { $0.connections += 1 }
                Thread { Self.serve(connection, counts: counts, answer: answer) }.start()
            }
        }.start()
    }

    private static func serve(
        _ connection: Int32, counts: Counts, answer: (Int) -> Answer
    ) {
        defer { _ = close(connection) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var index = 0
        while true {
            let text = String(decoding: received, as: UTF8.self)
            if let headEnd = text.range(of: "\r\n\r\n") {
                let length =
                    text[..<headEnd.lowerBound].split(separator: "\r\n")
                    .first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                let headBytes = text.utf8.distance(from: text.startIndex, to: headEnd.upperBound)
                if received.count >= headBytes + length {
                    received.removeFirst(headBytes + length)
                    counts.value.withLock { $0.requests += 1 }
                    switch answer(index) {
                    case .bytes(let reply, let close):
                        let bytes = Array(reply.utf8)
                        _ = bytes.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                        if close { return }
                    case .hangUp:
                        return
                    case .silence:
                        Thread.sleep(forTimeInterval: 3)
                        return
                    }
                    index += 1
                    continue
                }
            }
            let read = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard read > 0 else { return }
            received += buffer[..<read]
        }
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        _ = close(listener)
    }
}

/// What one call heard, gathered on its event loop.
final class Collector: UpstreamResponseHandler, @unchecked Sendable {
    // Used on the call's event loop only; the continuation hands the result over once.
    var head: HTTPResponseHead?
    var body: [UInt8] = []
    var continuation: CheckedContinuation<Result<(HTTPResponseHead, String), UpstreamFailure>, Never>?

    func upstreamReceived(head: HTTPResponseHead) { self.head = head }
    func upstreamReceived(body: ByteBuffer) { self.body += body.readableBytesView }
    func upstreamFinished() {
        continuation?.resume(returning: .success((head!, String(decoding: body, as: UTF8.self))))
        continuation = nil
    }
    func upstreamFailed(_ failure: UpstreamFailure) {
        continuation?.resume(returning: .failure(failure))
        continuation = nil
    }
}

/// The client on one event loop, so calls share its pool.
struct Harness {
    let client: UpstreamClient
    let loop = MultiThreadedEventLoopGroup.singleton.next()

    // A long idle time-out by default: a test whose next call waits on a busy machine must still find
    // its connection.
    init(firstByte: TimeAmount = .seconds(5), read: TimeAmount = .seconds(5), idle: TimeAmount = .seconds(600)) throws {
        client = try UpstreamClient(
            timeouts: .init(connect: .seconds(2), firstByte: firstByte, read: read, idle: idle))
    }

    func call(_ port: Int, body: String = #"{"model":"m"}"#) async -> Result<
        (HTTPResponseHead, String), UpstreamFailure
    > {
        let endpoint = UpstreamEndpoint(baseURL: "http://127.0.0.1:\(port)")!
        var headers = HTTPHeaders([("host", endpoint.hostHeader), ("content-length", String(body.utf8.count))])
        headers.add(name: "content-type", value: "application/json")
        let request = UpstreamRequest(
            endpoint: endpoint, head: HTTPRequestHead(version: .http1_1, method: .POST, uri: "/v1/x", headers: headers),
            body: ByteBuffer(string: body))
        let collector = Collector()
        let client = self.client
        return await withCheckedContinuation { continuation in
            loop.execute {
                collector.continuation = continuation
                _ = client.execute(request, on: loop, handler: collector)
            }
        }
    }
}

@Suite("The gateway's HTTP/1.1 client at the protocol's edges")
struct UpstreamClientTests {
    @Test("A Content-Length body arrives whole and the connection is kept for the next call")
    func contentLength() async throws {
        let server = try ScriptedServer { _ in .bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", close: false)
        }
        defer { server.stop() }
        let harness = try Harness()
        for _ in 0..<3 {
            let (head, body) = try await harness.call(server.port).get()
            #expect(head.status == .ok)
            #expect(body == "hello")
        }
        #expect(server.connections == 1, "one keep-alive connection served all three")
        #expect(server.requests == 3)
    }

    @Test("A chunked body arrives whole, chunk boundaries and all")
    func chunked() async throws {
        let server = try ScriptedServer { _ in
            .bytes(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                close: false)
        }
        defer { server.stop() }
        let harness = try Harness()
        #expect(try await harness.call(server.port).get().1 == "hello world")
        #expect(try await harness.call(server.port).get().1 == "hello world")
        #expect(server.connections == 1)
    }

    @Test("Connection: close is honoured: the next call opens a new connection")
    func connectionClose() async throws {
        let server = try ScriptedServer { _ in
            .bytes("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", close: true)
        }
        defer { server.stop() }
        let harness = try Harness()
        #expect(try await harness.call(server.port).get().1 == "ok")
        #expect(try await harness.call(server.port).get().1 == "ok")
        #expect(server.connections == 2)
        #expect(server.requests == 2)
    }

    @Test("A close before the head, after the request went out whole, fails the call once and never resends it")
    func closeBeforeHead() async throws {
        let server = try ScriptedServer { _ in .hangUp }
        defer { server.stop() }
        let harness = try Harness()
        let result = await harness.call(server.port)
        guard case .failure(let failure) = result else {
            Issue.record("expected a failure, got \(result)")
            return
        }
        #expect(failure == .droppedAfterRequest)
        #expect(server.requests == 1, "the provider got the call once")
    }

    @Test("A provider that never answers times out at the first-byte limit, as one that may be running the call")
    func silence() async throws {
        let server = try ScriptedServer { _ in .silence }
        defer { server.stop() }
        let harness = try Harness(firstByte: .milliseconds(300))
        let result = await harness.call(server.port)
        guard case .failure(let failure) = result else {
            Issue.record("expected a time-out, got \(result)")
            return
        }
        #expect(failure == .timedOutAfterRequest)
    }

    @Test("A provider that falls silent in the middle of a body times out at the read limit")
    func silenceMidBody() async throws {
        let server = try ScriptedServer { _ in
            .bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", close: false)
        }
        defer { server.stop() }
        // The first-byte limit is far off: only the silence after the head can end this call.
        let harness = try Harness(firstByte: .seconds(600), read: .milliseconds(300))
        let result = await harness.call(server.port)
        guard case .failure(let failure) = result else {
            Issue.record("expected a time-out, got \(result)")
            return
        }
        #expect(failure == .timedOut)
    }

    @Test("A connection idle past the idle time-out is closed: the next call opens a new one")
    func idleConnectionsClose() async throws {
        let server = try ScriptedServer { _ in .bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", close: false) }
        defer { server.stop() }
        let harness = try Harness(idle: .milliseconds(50))
        #expect(try await harness.call(server.port).get().1 == "ok")
        // Each pause is ten idle time-outs; a call after it must find its connection closed. (Tried a
        // few times only so a stalled machine cannot fail it.)
        for _ in 0..<10 where server.connections < 2 {
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await harness.call(server.port).get().1 == "ok")
        }
        #expect(server.connections >= 2)
    }

    @Test("A pooled connection reads as established while open, and not once the provider has closed it")
    func establishedState() async throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 1) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        try #require(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        // A loop of its own: the test holds it while the provider's close arrives, as happens when the
        // close comes in the same turn of the loop as the next call.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()
        let accepted = accept(listener, nil, nil)
        try #require(accepted >= 0)
        let endpoint = try #require(UpstreamEndpoint(baseURL: "http://127.0.0.1:\(port)"))
        let seen = try await channel.eventLoop.submit {
            let connection = UpstreamConnection(
                channel: channel, endpoint: endpoint, handler: UpstreamConnectionHandler())
            let before = UpstreamPool.stillEstablished(connection)
            close(accepted)
            var after = true
            for _ in 0..<100 where after {
                usleep(10_000)
                after = UpstreamPool.stillEstablished(connection)
            }
            return (before: before, after: after, active: channel.isActive)
        }.get()
        try? await channel.close()
        try await group.shutdownGracefully()
        #expect(seen.before)
        #expect(!seen.after, "the provider's close is seen before the connection is used again")
        #expect(seen.active, "though the loop has not read it yet")
    }

    @Test("Nothing listening is unreachable")
    func unreachable() async throws {
        // Port 1 on loopback: nothing listens there, and unlike a port freed by a stopped server, no
        // other test's server can be given it meanwhile.
        let harness = try Harness()
        let result = await harness.call(1)
        guard case .failure(let failure) = result else {
            Issue.record("expected a failure, got \(result)")
            return
        }
        #expect(failure == .unreachable)
    }

    @Test("1xx answers before the real one are passed over")
    func informational() async throws {
        let server = try ScriptedServer { _ in
            .bytes("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone", close: false)
        }
        defer { server.stop() }
        let harness = try Harness()
        let (head, body) = try await harness.call(server.port).get()
        #expect(head.status == .ok)
        #expect(body == "done")
    }

    @Test("A malformed answer fails the call instead of hanging it")
    func malformed() async throws {
        let server = try ScriptedServer { _ in .bytes("NOT HTTP AT ALL\r\n\r\n", close: false) }
        defer { server.stop() }
        let harness = try Harness()
        let result = await harness.call(server.port)
        guard case .failure = result else {
            Issue.record("expected a failure, got \(result)")
            return
        }
    }
}
