import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Sends the SDK's requests with Foundation's `URLSession` (FoundationNetworking on Linux).
public struct URLSessionTransport: HTTPTransport {
    /// The session that sends.
    public let session: URLSession

    /// Creates a transport over a session.
    public init(session: URLSession = .shared) { self.session = session }

    /// Sends a request and reads the whole response.
    public func send(_ request: TransportRequest, timeout: Duration) async throws -> TransportResponse {
        guard let url = URL(string: request.url) else { throw URLError(.badURL) }
        var outgoing = URLRequest(url: url)
        outgoing.httpMethod = request.method
        outgoing.timeoutInterval = Double(timeout.wholeMilliseconds) / 1000
        for field in request.headers { outgoing.addValue(field.value, forHTTPHeaderField: field.name) }
        if !request.body.isEmpty { outgoing.httpBody = Data(request.body) }
        let (data, response) = try await session.data(for: outgoing)
        return TransportResponse(httpResponse: response, body: data)
    }
}

extension TransportResponse {
    /// The status and headers of a URLSession response, with its body.
    init(httpResponse response: URLResponse, body: Data) {
        let http = response as? HTTPURLResponse
        var headers: [(name: String, value: String)] = []
        for (name, value) in http?.allHeaderFields ?? [:] {
            if let name = name as? String, let value = value as? String { headers.append((name, value)) }
        }
        self.init(status: http?.statusCode ?? 0, headers: headers, body: Array(body))
    }
}
