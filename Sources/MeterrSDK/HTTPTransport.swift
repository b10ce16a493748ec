/// One HTTP request, as the SDK hands it to a transport.
public struct TransportRequest: Sendable {
    /// The method, e.g. `POST`.
    public var method: String
    /// The full URL.
    public var url: String
    /// The header fields, in order.
    public var headers: [(name: String, value: String)]
    /// The body (empty for none).
    public var body: [UInt8]

    /// Creates a request.
    public init(method: String = "GET", url: String, headers: [(name: String, value: String)] = [], body: [UInt8] = [])
    {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// One whole HTTP response.
public struct TransportResponse: Sendable {
    /// The status code.
    public var status: Int
    /// The header fields, in order.
    public var headers: [(name: String, value: String)]
    /// The whole body.
    public var body: [UInt8]

    /// Creates a response.
    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first value of a header, its name compared without regard to case.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// Sends HTTP requests for the SDK: to meterr (reports, management calls) and, through
/// `MeteredTransport`, to providers.
///
/// Two come with the SDK: `AsyncHTTPClientTransport` and `URLSessionTransport`. Another HTTP stack
/// takes a few lines.
public protocol HTTPTransport: Sendable {
    /// Sends a request and reads the whole response; throws when no response arrived in time.
    func send(_ request: TransportRequest, timeout: Duration) async throws -> TransportResponse
}

extension Duration {
    /// The duration in whole milliseconds (rounded down).
    var wholeMilliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
