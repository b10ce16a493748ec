import Foundation
import HummingbirdCore
import HummingbirdTesting
import Logging
import MeterrCore
import MeterrStore
import MeterrTestSupport
import NIOCore
import NIOPosix
import Testing

@testable import MeterrServer

/// meterr's own HTTP server (`HTTPServer`): every test in this target runs on it; these check what is
/// the server's alone.
@Suite("meterr's HTTP server")
struct HTTPServerTests {
    static let call = #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#

    static func request(_ body: String, close: Bool = true) -> String {
        "POST /openai/v1/chat/completions HTTP/1.1\r\nHost: meterr\r\nAuthorization: Bearer \(adminKey)\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
            + (close ? "Connection: close\r\n" : "") + "\r\n" + body
    }

    /// The requests in the ledger.
    static func requests(_ client: any TestClientProtocol) async throws -> Int {
        (try await client.get("/api/usage/summary").json["totals"] as? [String: Any])?["requests"] as? Int ?? -1
    }

    @Test("Connections opened at once are each served, whichever event loop accepts them")
    func connectionsAtOnce() async throws {
        try await withGateway { client, _ in
            let port = try #require(client.port)
            let answers = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<24 {
                    group.addTask {
                        let socket = try RawSocket(port: port)
                        defer { close(socket.descriptor) }
                        // Half a health check, half a gateway call; each answer ends with the connection.
                        try socket.send(
                            index.isMultiple(of: 2)
                                ? "GET /healthz HTTP/1.1\r\nHost: meterr\r\nConnection: close\r\n\r\n"
                                : Self.request(Self.call))
                        return try await socket.receive(atLeast: 1 << 20)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.count == 24)
            #expect(answers.allSatisfy { $0.hasPrefix("HTTP/1.1 200 OK\r\n") })
            #expect(answers.filter { $0.contains("x-meterr-cost-usd:") }.count == 12)
            // Every call was metered (the ledger commits within milliseconds).
            var metered = 0
            for _ in 0..<200 where metered < 12 {
                metered = try await Self.requests(client)
                if metered < 12 { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(metered == 12)
        }
    }

    @Test("The server holds its port: a second server on it, or any listener, is refused with EADDRINUSE")
    func portInUse() async throws {
        try await withGateway { client, _ in
            let port = try #require(client.port)
            let second = HTTPServer(
                host: "127.0.0.1", port: port, group: .singleton, tls: nil, handlers: { [] }, maxBodyBytes: 1 << 20,
                respond: { _, _ in Response(status: .ok) }, onRunning: { _ in })
            await #expect {
                try await second.run()
            } throws: { error in
                (error as? IOError)?.errnoCode == EADDRINUSE
            }
            #expect {
                _ = try HTTPServer.boundSocket(
                    SocketAddress.makeAddressResolvingHost("127.0.0.1", port: port), sharedPort: false)
            } throws: { error in
                (error as? IOError)?.errnoCode == EADDRINUSE
            }
            // The server still answers.
            #expect(try await client.get("/healthz").status == .ok)
        }
    }

    @Test(
        "A graceful shutdown answers the gateway call in flight, meters it, closes idle connections, then stops listening",
        .timeLimit(.minutes(5)))
    func shutdownWithCallInFlight() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meterr-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var port = 0
        try await withGatewayApplication(directory: directory) { app, seen in
            let live = try await app.startLive()
            port = live.port
            // A kept-alive connection that made a gateway call and waits for more (Hummingbird never
            // heard of it): the shutdown must close it, or it would wait for it for ever.
            let idle = try RawSocket(port: live.port)
            defer { close(idle.descriptor) }
            try idle.send(Self.request(Self.call, close: false))
            #expect(try await idle.receive(atLeast: 12).hasPrefix("HTTP/1.1 200"))
            let socket = try RawSocket(port: live.port)
            defer { close(socket.descriptor) }
            // The fake provider takes 3 s over this one; the shutdown starts once it has the call.
            try socket.send(
                Self.request(#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"fault-slow"}]}"#))
            while seen.all.withLock({ $0.count < 2 }) { try await Task.sleep(for: .milliseconds(10)) }
            async let stopped: Void = live.stop()
            let answer = try await socket.receive(atLeast: 1 << 20)
            try await stopped
            #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(answer.contains("x-meterr-cost-usd:"))
            #expect(throws: (any Error).self) { try RawSocket(port: live.port) }
        }
        // Both calls were committed before the server ended: they are in the ledger when meterr starts again.
        try await withGatewayApplication(directory: directory) { app, _ in
            try await app.testLive { client in
                let requests = try await Self.requests(client)
                #expect(requests == 2)
            }
        }
        #expect(port != 0)
    }

    @Test(
        "Requests for the router on one connection: answered in order, a body over the limit refused with 413 while the connection goes on, and Connection: close ends it"
    )
    func routerRequestsInOrder() async throws {
        try await withGateway { client, _ in
            let port = try #require(client.port)
            let auth = "Authorization: Bearer \(adminKey)\r\n"
            let tooLarge = String(repeating: "x", count: (1 << 20) + 1)
            // Four requests in one write (pipelined): the answers must come in this order.
            let answer = try await RawSocket.exchange(
                port: port,
                "GET /readyz HTTP/1.1\r\nHost: meterr\r\n\r\n"
                    + "POST /api/usage/events HTTP/1.1\r\nHost: meterr\r\n\(auth)Content-Type: application/json\r\n"
                    + "Content-Length: \(tooLarge.utf8.count)\r\n\r\n\(tooLarge)"
                    + "GET /api/budgets HTTP/1.1\r\nHost: meterr\r\n\(auth)\r\n"
                    + "GET /readyz HTTP/1.1\r\nHost: meterr\r\nConnection: close\r\n\r\n"
                    + "GET /readyz HTTP/1.1\r\nHost: meterr\r\n\r\n")
            let answers = answer.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0 }
            #expect(answers.map { String($0.prefix(3)) } == ["200", "413", "200", "200"])
            // As the route answers a body over its limit.
            #expect(
                answers.dropFirst().first?.hasSuffix(
                    #"{"error":{"code":"payload_too_large","message":"must be at most 1048576 bytes","field":"body"}}"#)
                    == true)
            #expect(answers.dropFirst(2).first?.contains(#""budgets":"#) == true)
            #expect(answers.last?.hasSuffix(#"{"status":"ready"}"#) == true)
        }
    }

    @Test("An HTTP/1.0 request for the router without keep-alive is answered, then its connection closes")
    func routerHTTP10() async throws {
        try await withGateway { client, _ in
            let port = try #require(client.port)
            let answer = try await RawSocket.exchangeUntilClosed(
                port: port, "GET /api/budgets HTTP/1.0\r\nAuthorization: Bearer \(adminKey)\r\n\r\n")
            #expect(answer.text.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(answer.text.contains(#""budgets":"#))
            #expect(answer.closed)
            // With keep-alive asked for, the connection stays open after the answer: a second request on
            // it is answered too.
            let kept = try RawSocket(port: port)
            defer { kept.close() }
            let ready = #"{"status":"ready"}"#
            for _ in 0..<2 {
                try kept.send("GET /readyz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                var received = ""
                while !received.hasSuffix(ready) {
                    let more = try await kept.receive(atLeast: 1)
                    if more.isEmpty { break }
                    received += more
                }
                #expect(received.hasPrefix("HTTP/1.1 200 OK\r\n") && received.hasSuffix(ready))
            }
        }
    }

    @Test("A request that cannot be parsed is answered 400 after the answer before it, and the connection closes")
    func routerParseError() async throws {
        try await withGateway { client, _ in
            let port = try #require(client.port)
            let answer = try await RawSocket.exchange(
                port: port, "GET /readyz HTTP/1.1\r\nHost: meterr\r\n\r\nNOT HTTP AT ALL\r\n\r\n")
            let answers = answer.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.lowercased() }
            #expect(answers.map { String($0.prefix(3)) } == ["200", "400"])
            #expect(answers.last?.contains("connection: close") == true)
        }
    }

    @Test(
        "A graceful shutdown ends a dashboard's event stream, which never ends by itself, and the server stops",
        .timeLimit(.minutes(5)))
    func shutdownEndsEventStream() async throws {
        try await withGatewayApplication { app, _ in
            let live = try await app.startLive()
            let client = HummingbirdTesting.TestClient(
                host: "127.0.0.1", port: live.port, configuration: .init(timeout: .seconds(20)))
            client.connect()
            let session = try await LiveClient(client: client, port: live.port).signIn(
                email: "ana@example.com", role: "viewer")
            try await client.shutdown()
            let stream = try RawSocket(port: live.port)
            defer { stream.close() }
            try stream.send("GET /events HTTP/1.1\r\nHost: meterr\r\nCookie: \(session.cookie)\r\n\r\n")
            let opening = try await stream.receive(atLeast: 1)
            #expect(opening.hasPrefix("HTTP/1.1 200"))
            #expect(opening.lowercased().contains("content-type: text/event-stream"))
            let stopping = Task { try await live.stop() }
            // The stream ends properly (its last chunk), then the connection closes (a stream still open
            // after the socket's 10 s read time-out fails the test, and the server is cancelled).
            let rest = try await stream.receive(atLeast: .max)
            let ended = (opening + rest).hasSuffix("\r\n0\r\n\r\n")
            #expect(ended)
            if !ended { live.running.cancel() }
            try await stopping.value
            #expect(throws: (any Error).self) { try RawSocket(port: live.port) }
        }
    }

    @Test("A short read is answered on its connection's event loop, its SQLite reads with it; the rest on Swift's pool")
    func shortReadsOnTheLoop() async throws {
        let (ports, listening) = AsyncStream<Int>.makeStream()
        // Each answer says where it was worked out.
        let server = HTTPServer(
            host: "127.0.0.1", port: 0, group: .singleton, tls: nil, handlers: { [] }, maxBodyBytes: 1 << 20,
            shortReads: ["/api/short"],
            respond: { _, _ in
                let thread = MultiThreadedEventLoopGroup.currentEventLoop == nil ? "pool" : "loop"
                let reads = SQLiteReadThreads.bypassed ? "here" : "read threads"
                return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "\(thread), \(reads)")))
            },
            onRunning: { channel in listening.yield(channel.localAddress?.port ?? 0) })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            func answer(_ head: String) async throws -> String {
                let (text, _) = try await RawSocket.exchangeUntilClosed(
                    port: port, head + " HTTP/1.1\r\nHost: meterr\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return String(text.split(separator: "\r\n\r\n", maxSplits: 1).last ?? "")
            }
            // (Each answer is read first, so a failure shows what came back.)
            let short = try await answer("GET /api/short")
            #expect(short == "loop, here")
            let shortWithQuery = try await answer("GET /api/short?limit=5")
            #expect(shortWithQuery == "loop, here")
            let post = try await answer("POST /api/short")
            #expect(post == "pool, read threads")
            let longerPath = try await answer("GET /api/shorter")
            #expect(longerPath == "pool, read threads")
            let subPath = try await answer("GET /api/short/1")
            #expect(subPath == "pool, read threads")
            // A request pipelined behind a short read is taken up by the short read's own task once its
            // answer is out; it is answered where it would be alone.
            let (pipelined, _) = try await RawSocket.exchangeUntilClosed(
                port: port,
                "GET /api/short HTTP/1.1\r\nHost: meterr\r\n\r\n"
                    + "POST /api/short HTTP/1.1\r\nHost: meterr\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            let bodies = pipelined.components(separatedBy: "HTTP/1.1 ").dropFirst().map {
                String($0.split(separator: "\r\n\r\n", maxSplits: 1).last ?? "")
            }
            #expect(bodies == ["loop, here", "pool, read threads"])
            group.cancelAll()
        }
    }

    @Test("Each of the application's short reads is a route that answers, a long page of budgets or alerts too")
    func shortReadsAreRoutes() async throws {
        try await withGateway { client, _ in
            for path in ShortReads.paths.sorted() {
                let status = try await client.get(path).status
                #expect(status == .ok, "\(path)")
            }
            // More budgets than a short read answers on the loop: the page moves to the pool, whole.
            for index in 0...ShortReads.maxRows {
                let created = try await client.post("/api/budgets", #"{"name":"b\#(index)","limit_usd":"5"}"#)
                #expect(created.status == .created)
            }
            let budgets = try await client.get("/api/budgets").json["budgets"] as? [[String: Any]]
            #expect(budgets?.count == ShortReads.maxRows + 1)
            for limit in [1, ShortReads.maxRows + 1, 1000] {
                let alerts = try await client.get("/api/alerts?limit=\(limit)")
                #expect(alerts.status == .ok)
                #expect(alerts.json["alerts"] is [Any])
            }
        }
    }

    @Test("The budget guard counts an organisation's budgets, which decides where its page is worked out")
    func budgetCount() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meterr-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(directory: directory.path)
        let (organisation, _) = try await store.createOrganisation(name: "acme", actor: "test")
        let scopes: [BudgetScope] = [.organisation, .team("ml"), .user("ana"), .tag("env", "prod")]
        for (index, scope) in scopes.enumerated() {
            _ = try await store.createBudget(
                Budget(
                    id: "bud_\(index)", orgId: organisation.id, name: "b\(index)", scope: scope, period: .month,
                    timeZone: "UTC", limit: Money(nanos: 1_000_000_000), hard: false, thresholds: [100],
                    createdAt: try #require(Timestamp(rfc3339: ordinaryMoment))),
                actor: "test")
        }
        let guardian = BudgetGuard(store: store)
        #expect(guardian.budgetCount(org: organisation.id) == 0)
        try await guardian.reload()
        #expect(guardian.budgetCount(org: organisation.id) == scopes.count)
        #expect(guardian.budgetCount(org: "org_other") == 0)
    }

    @Test("A short read's long page runs on Swift's pool with its reads on the read threads; a short one stays")
    func offTheLoopMoves() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        typealias Place = (onLoop: Bool, bypassed: Bool)
        @Sendable func place() -> Place {
            (MultiThreadedEventLoopGroup.currentEventLoop != nil, SQLiteReadThreads.bypassed)
        }
        let (short, long) = try await Task(executorPreference: EventLoopTaskExecutor.of(loop)) {
            try await SQLiteReadThreads.$bypassed.withValue(true) {
                (try await offTheLoop(if: false) { place() }, try await offTheLoop(if: true) { place() })
            }
        }.value
        #expect(short.onLoop && short.bypassed)
        #expect(!long.onLoop && !long.bypassed)
        // Outside a short read it runs where it is called.
        let elsewhere = try await offTheLoop(if: true) { place() }
        #expect(!elsewhere.onLoop && !elsewhere.bypassed)
    }
}
