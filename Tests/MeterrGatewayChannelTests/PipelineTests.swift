import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHTTPTypes
import Testing

@testable import MeterrGatewayChannel

/// The protocol edges of the gateway's place in the HTTP/1.1 pipeline, over real loopback sockets.
@Suite("The gateway's channel handler")
struct PipelineTests {
    func withServer(_ body: (LoopbackServer) async throws -> Void) async throws {
        let server = try await LoopbackServer.start()
        do {
            try await body(server)
        } catch {
            try await server.stop()
            throw error
        }
        try await server.stop()
    }

    @Test("A Content-Length body and a chunked body reach the gateway whole, on one kept-alive connection")
    func bodies() async throws {
        try await withServer { server in
            let client = try RawClient(port: server.port)
            await client.write("POST /gw/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world")
            await client.write(
                "POST /gw/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
            )
            let (answers, closed) = await client.answers(2)
            #expect(answers.map(\.status) == [200, 200])
            #expect(answers.map(\.body) == ["gw /gw/echo hello world", "gw /gw/echo hello world"])
            #expect(!closed)
        }
    }

    @Test("Pipelined calls are answered in the order they came, across the gateway and Hummingbird")
    func pipelining() async throws {
        try await withServer { server in
            let client = try RawClient(port: server.port)
            // One write: a slow gateway call, a Hummingbird request, a quick gateway call, Hummingbird again.
            await client.write(
                "POST /gw/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na"
                    + "GET /hb/one HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "POST /gw/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nb"
                    + "GET /hb/two HTTP/1.1\r\nHost: x\r\n\r\n")
            let (answers, _) = await client.answers(4)
            #expect(answers.map(\.body) == ["gw /gw/slow a", "hb /hb/one", "gw /gw/echo b", "hb /hb/two"])
            // Hummingbird was handed its request only once the slow gateway answer had gone out.
            let journal = server.journal.all
            let slowEnd = try #require(journal.firstIndex(of: "gw end /gw/slow 1"))
            let hummingbird = try #require(journal.firstIndex(of: "hb head /hb/one"))
            #expect(slowEnd < hummingbird)
        }
    }

    @Test("Connection: close on a gateway call closes the connection after its answer")
    func connectionClose() async throws {
        try await withServer { server in
            let client = try RawClient(port: server.port)
            await client.write(
                "POST /gw/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1\r\n\r\nc"
                    + "GET /hb/after HTTP/1.1\r\nHost: x\r\n\r\n")
            let (answers, closed) = await client.answers(Int.max)
            #expect(answers.map(\.body) == ["gw /gw/echo c"])
            #expect(closed)
            #expect(!server.journal.all.contains("hb head /hb/after"))
        }
    }

    @Test("A close before the head costs nothing; a close mid-body tells the gateway its caller left")
    func closes() async throws {
        try await withServer { server in
            _ = try RawClient(port: server.port)  // connects and closes at once
            do {
                let client = try RawClient(port: server.port)
                await client.write("POST /gw/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
                _ = await client.answers(0)
            }
            var left = false
            for _ in 0..<100 where !left {
                try await Task.sleep(for: .milliseconds(20))
                left = server.journal.all.contains("gw left /gw/echo")
            }
            #expect(left)
            // The server still serves new connections.
            let next = try RawClient(port: server.port)
            await next.write("GET /hb/alive HTTP/1.1\r\nHost: x\r\n\r\n")
            let alive = await next.answers(1).answers.map(\.body)
            #expect(alive == ["hb /hb/alive"])
        }
    }

    @Test("A body over its limit is answered at once, and the rest is read and dropped before the connection closes")
    func bodyOverLimit() async throws {
        try await withServer { server in
            let client = try RawClient(port: server.port)
            let size = 4 << 20
            await client.write("POST /gw/limit HTTP/1.1\r\nHost: x\r\nContent-Length: \(size)\r\n\r\n")
            await client.write([UInt8](repeating: 0x61, count: 64))
            let (answers, _) = await client.answers(1)
            #expect(answers.map(\.status) == [413])
            // The caller keeps writing its body: it is read (not reset) until the request ends.
            let taken = await client.write([UInt8](repeating: 0x61, count: size - 64))
            #expect(taken, "the rest of the body is taken")
            let closed = await client.isClosed()
            #expect(closed, "then the connection closes")
            #expect(!server.journal.all.contains { $0.hasPrefix("gw end /gw/limit") })
        }
    }

    @Test("A head over its limit is refused by the HTTP decoder, passes to Hummingbird and never reaches the gateway")
    func headOverLimit() async throws {
        try await withServer { server in
            let client = try RawClient(port: server.port)
            let huge = String(repeating: "x", count: 200_000)
            await client.write("POST /gw/echo HTTP/1.1\r\nHost: x\r\nX-Big: \(huge)\r\nContent-Length: 0\r\n\r\n")
            let (answers, closed) = await client.answers(Int.max)
            #expect(answers.map(\.status) == [400] || answers.isEmpty, "\(answers)")
            #expect(closed, "\(answers)")
            #expect(!server.journal.all.contains { $0.hasPrefix("gw") })
            #expect(server.journal.all.contains("hb error"), "the decoder's error passes on to Hummingbird")
        }
    }

    @Test("A request target is routed by its origin form: as sent, or the path and query of an absolute form")
    func originForm() {
        #expect(
            GatewayChannelHandler.originForm("/openai/v1/chat/completions?x=1") == "/openai/v1/chat/completions?x=1")
        #expect(GatewayChannelHandler.originForm("http://h:8787/openai/v1/models?x") == "/openai/v1/models?x")
        #expect(GatewayChannelHandler.originForm("HTTPS://h/v1/models") == "/v1/models")
        #expect(GatewayChannelHandler.originForm("http://h") == "/")
        #expect(GatewayChannelHandler.originForm("http://h?q=1") == "/?q=1")
        // Other forms are left as they are (no mount matches them).
        #expect(GatewayChannelHandler.originForm("*") == "*")
        #expect(GatewayChannelHandler.originForm("h:443") == "h:443")
        #expect(GatewayChannelHandler.originForm("ftp://h/v1/models") == "ftp://h/v1/models")
    }

    @Test("A graceful shutdown waits for the gateway call in flight before Hummingbird hears of it")
    func quiesce() throws {
        let journal = Journal()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([
            GatewayChannelHandler(routing: ScriptedRouting(journal: journal)), HummingbirdStandIn(journal: journal),
        ])
        try channel.writeInbound(
            HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/gw/slow")))
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(!journal.all.contains("hb quiesce"), "held while the call is in flight")
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(100))
        #expect(journal.all.contains("hb quiesce"), "passed on once it is answered")
        _ = try channel.finish()
    }
}
