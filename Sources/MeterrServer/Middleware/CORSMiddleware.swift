import HTTPTypes
import Hummingbird

/// Cross-origin access: closed unless origins are configured (`cors_origins`); then those origins,
/// and only they, may call meterr from a browser.
struct AllowedOriginsMiddleware: RouterMiddleware {
    typealias Context = MeterrRequestContext

    let origins: Set<String>

    static let allowOrigin = HTTPField.Name("Access-Control-Allow-Origin")!
    static let allowMethods = HTTPField.Name("Access-Control-Allow-Methods")!
    static let allowHeaders = HTTPField.Name("Access-Control-Allow-Headers")!
    static let exposeHeaders = HTTPField.Name("Access-Control-Expose-Headers")!
    static let maxAge = HTTPField.Name("Access-Control-Max-Age")!
    static let vary = HTTPField.Name("Vary")!
    /// The response headers a browser app may read.
    static let exposed = "x-meterr-request-id, x-meterr-cost-usd, server-timing, retry-after"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let origin = request.headers[.origin], origins.contains(origin) else {
            return try await next(request, context)
        }
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            var headers = HTTPFields()
            headers[Self.allowOrigin] = origin
            headers[Self.allowMethods] = "GET, POST, PUT, DELETE, OPTIONS"
            headers[Self.allowHeaders] =
                "authorization, content-type, x-api-key, x-goog-api-key, api-key, anthropic-version, x-meterr-key, "
                + "x-meterr-team, x-meterr-user, x-meterr-project, x-meterr-tags"
            headers[Self.maxAge] = "600"
            headers[Self.vary] = "Origin"
            return Response(status: .noContent, headers: headers)
        }
        var response = try await next(request, context)
        response.headers[Self.allowOrigin] = origin
        response.headers[Self.exposeHeaders] = Self.exposed
        response.headers[Self.vary] = "Origin"
        return response
    }
}
