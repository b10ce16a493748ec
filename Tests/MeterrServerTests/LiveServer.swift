import HTTPTypes
import HummingbirdTesting
import NIOCore
import ServiceLifecycle

@testable import MeterrServer

// The tests call meterr as `meterr serve` runs it: on its own server (`MeterrApplication.run`), over a
// real loopback connection. These types keep the names and shape of Hummingbird's test client, whose
// own live mode would run the application on Hummingbird's server instead.

/// An answer a test read.
struct TestResponse: Sendable {
    let head: HTTPResponse
    var status: HTTPResponse.Status { head.status }
    var headers: HTTPFields { head.headerFields }
    let body: ByteBuffer
    let trailerHeaders: HTTPFields?
}

/// What a test calls meterr with.
protocol TestClientProtocol: Sendable {
    func executeRequest(uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?)
        async throws -> TestResponse
    /// The port meterr listens on.
    var port: Int? { get }
}

extension TestClientProtocol {
    /// Sends a request and returns (or hands `testCallback`) its answer.
    @discardableResult
    func execute<Return>(
        uri: String, method: HTTPRequest.Method, headers: HTTPFields = [:], body: ByteBuffer? = nil,
        testCallback: (TestResponse) async throws -> Return = { $0 }
    ) async throws -> Return {
        try await testCallback(executeRequest(uri: uri, method: method, headers: headers, body: body))
    }
}

/// One kept-alive connection to a running meterr.
struct LiveClient: TestClientProtocol {
    let client: HummingbirdTesting.TestClient
    let port: Int?

    func executeRequest(uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?)
        async throws -> TestResponse
    {
        var headers = headers
        headers[.connection] = "keep-alive"
        let response = try await client.execute(
            .init(uri, method: method, authority: "localhost", headers: headers, body: body))
        return TestResponse(
            head: response.head, body: response.body ?? ByteBuffer(), trailerHeaders: response.trailerHeaders)
    }
}

extension MeterrApplication {
    /// A running application, on a free loopback port.
    struct Live {
        let port: Int
        let group: ServiceGroup
        let running: Task<Void, any Error>

        /// Shuts down gracefully (the ledger commits what it was given) and waits until it has.
        func stop() async throws {
            await group.triggerGracefulShutdown()
            try await running.value
        }
    }

    /// Starts the application on a free loopback port, as `meterr serve` runs it.
    func startLive() async throws -> Live {
        var app = self
        app.host = "127.0.0.1"
        app.port = 0
        let (ports, found) = AsyncStream<Int>.makeStream()
        let listening = app.listening
        app.listening = { channel in
            listening(channel)
            found.yield(channel.localAddress?.port ?? 0)
        }
        let group = ServiceGroup(configuration: .init(services: [app], logger: app.logger))
        let running = Task {
            defer { found.finish() }
            try await group.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            try await running.value
            throw CancellationError()
        }
        return Live(port: port, group: group, running: running)
    }

    /// Runs the application on a free loopback port, hands `body` a client connected to it, then shuts
    /// the application down gracefully.
    func testLive<Value: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> Value) async throws
        -> Value
    {
        let live = try await startLive()
        let client = HummingbirdTesting.TestClient(
            host: "127.0.0.1", port: live.port, configuration: .init(timeout: .seconds(20)))
        client.connect()
        let value: Value
        do {
            value = try await body(LiveClient(client: client, port: live.port))
        } catch {
            try? await client.shutdown()
            try? await live.stop()
            throw error
        }
        try await client.shutdown()
        try await live.stop()
        return value
    }
}
