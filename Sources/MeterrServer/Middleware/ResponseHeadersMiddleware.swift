import HTTPTypes
import Hummingbird
import Logging
import MeterrCore

/// The outermost middleware: every response, errors included, gets the security headers of
/// DESIGN.md and an `x-meterr-request-id`; an error that reached this far becomes a JSON error.
struct ResponseHeadersMiddleware: RouterMiddleware {
    typealias Context = MeterrRequestContext

    /// Whether meterr serves HTTPS, so browsers may be told to use nothing else.
    let servesTLS: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let requestId = context.requestId
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let failure = MeterrError.from(error)
            if failure.code == .internal {
                context.logger.error(
                    "request failed", metadata: ["request_id": "\(requestId)", "error": "\(String(reflecting: error))"])
            }
            response = failure.response()
        }
        response.headers.setCommonHeaders(requestId: requestId, servesTLS: servesTLS)
        return response
    }
}

extension HTTPFields {
    /// What every response of meterr's carries (the gateway's too): its request id and the security
    /// headers of DESIGN.md; `Strict-Transport-Security` only over HTTPS, where browsers heed it
    /// (on plain HTTP it is ignored, and would pin a host that later serves both).
    mutating func setCommonHeaders(requestId: String, servesTLS: Bool) {
        self[.meterrRequestId] = requestId
        for field in Self.securityHeaders(servesTLS: servesTLS) { self[field.name] = field.value }
    }

    /// The security headers of DESIGN.md.
    static func securityHeaders(servesTLS: Bool) -> [HTTPField] { servesTLS ? overTLS : plain }

    private static let plain: [HTTPField] = [
        HTTPField(name: .xFrameOptions, value: "DENY"),
        HTTPField(name: .xContentTypeOptions, value: "nosniff"),
        HTTPField(name: .contentSecurityPolicy, value: "default-src 'self'"),
        HTTPField(name: .referrerPolicy, value: "no-referrer"),
    ]
    private static let overTLS =
        plain + [HTTPField(name: .strictTransportSecurity, value: "max-age=31536000; includeSubDomains")]
}

extension HTTPField.Name {
    /// meterr's id of a request, on every response.
    static let meterrRequestId = HTTPField.Name(MeterrHeader.requestId)!
    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
}
