import AsyncHTTPClient
import NIOCore

extension HTTPClient {
    /// Executes a provider request like `execute(_:timeout:)` and meters it: the response body
    /// streams to the app as it arrives, its usage is read on the way, and the event is reported
    /// when the body ends (or, read in part, when it is released).
    /// - Parameters:
    ///   - request: the request; its body is set to `body`.
    ///   - body: the request body (the metering reads the model and stream flag from it).
    public func executeMetered(
        _ request: HTTPClientRequest, body: [UInt8], timeout: TimeAmount, metering: Metering
    ) async throws -> HTTPClientResponse {
        var outgoing = request
        outgoing.body = .bytes(ByteBuffer(bytes: body))
        let call = MeteredCall(metering: metering, url: request.url, requestBody: body)
        // No response, no usage: a call that failed to send reports nothing.
        let response = try await execute(outgoing, timeout: timeout)
        call.receivedHead(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) })
        return HTTPClientResponse(
            version: response.version, status: response.status, headers: response.headers,
            body: .stream(MeteredBody(base: response.body, call: call)), history: response.history)
    }
}

/// A response body that feeds each chunk to its call's meter as the app reads it.
struct MeteredBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let base: HTTPClientResponse.Body
    let call: MeteredCall

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: HTTPClientResponse.Body.AsyncIterator
        let call: MeteredCall

        mutating func next() async throws -> ByteBuffer? {
            do {
                guard let chunk = try await base.next() else {
                    call.finish()
                    return nil
                }
                call.received(chunk.readableBytesView)
                return chunk
            } catch {
                call.finish(complete: false)
                throw error
            }
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), call: call) }
}
