import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A transport for the app's provider requests that meters each one: it passes the request on
/// unchanged, reads the usage from the response (JSON or a stream) and reports the event.
///
/// Wraps any `HTTPTransport`, so the same metering works over URLSession and AsyncHTTPClient. The
/// response is read whole; for a stream that the app reads as it arrives, see
/// `HTTPClient.executeMetered(_:body:timeout:metering:)`.
public struct MeteredTransport: HTTPTransport {
    /// The transport that sends.
    public let base: any HTTPTransport
    /// How the calls are metered.
    public let metering: Metering

    /// Creates a metered transport over another one.
    public init(_ base: any HTTPTransport, metering: Metering) {
        self.base = base
        self.metering = metering
    }

    /// Sends a provider request and reports its usage; the response is returned as it came.
    public func send(_ request: TransportRequest, timeout: Duration) async throws -> TransportResponse {
        let call = MeteredCall(metering: metering, url: request.url, requestBody: request.body)
        // No response, no usage: a call that failed to send reports nothing.
        let response = try await base.send(request, timeout: timeout)
        call.receivedHead(status: response.status, headers: response.headers)
        call.received(response.body)
        call.finish()
        return response
    }
}

extension URLSession {
    /// Loads a provider request like `data(for:)` and reports its usage (JSON or a stream, read
    /// whole) to meterr; the data and response are returned as they came.
    public func meteredData(for request: URLRequest, metering: Metering) async throws -> (Data, URLResponse) {
        let call = MeteredCall(
            metering: metering, url: request.url?.absoluteString ?? "", requestBody: Array(request.httpBody ?? Data()))
        let (data, response) = try await data(for: request)
        let head = TransportResponse(httpResponse: response, body: Data())
        call.receivedHead(status: head.status, headers: head.headers)
        call.received(data)
        call.finish()
        return (data, response)
    }
}
