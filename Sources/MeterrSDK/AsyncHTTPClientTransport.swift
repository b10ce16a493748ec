import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// Sends the SDK's requests with AsyncHTTPClient (SwiftNIO): the default on every platform.
public struct AsyncHTTPClientTransport: HTTPTransport {
    /// The client that sends; the process-wide shared one unless the app brings its own.
    public let client: HTTPClient
    /// The largest response body read; a larger one fails the request.
    public let maxResponseBytes: Int

    /// Creates a transport over a client.
    public init(client: HTTPClient = .shared, maxResponseBytes: Int = 64 << 20) {
        self.client = client
        self.maxResponseBytes = maxResponseBytes
    }

    /// Sends a request and reads the whole response.
    public func send(_ request: TransportRequest, timeout: Duration) async throws -> TransportResponse {
        var outgoing = HTTPClientRequest(url: request.url)
        outgoing.method = HTTPMethod(rawValue: request.method)
        for field in request.headers { outgoing.headers.add(name: field.name, value: field.value) }
        if !request.body.isEmpty { outgoing.body = .bytes(ByteBuffer(bytes: request.body)) }
        let response = try await client.execute(outgoing, timeout: .milliseconds(timeout.wholeMilliseconds))
        let body = try await response.body.collect(upTo: maxResponseBytes)
        return TransportResponse(
            status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
            body: Array(body.readableBytesView))
    }
}
