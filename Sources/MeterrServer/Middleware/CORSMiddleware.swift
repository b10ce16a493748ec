import HTTPTypes
import Hummingbird
import MeterrCore
import MeterrProviders

/// Which browser origins may call meterr (`cors_origins`): one rule for the gateway, `/api` and the
/// dashboard alike. None by default.
struct CORSPolicy: Sendable {
    let origins: Set<String>

    static let allowOrigin = HTTPField.Name("Access-Control-Allow-Origin")!
    static let allowMethods = HTTPField.Name("Access-Control-Allow-Methods")!
    static let allowHeaders = HTTPField.Name("Access-Control-Allow-Headers")!
    static let exposeHeaders = HTTPField.Name("Access-Control-Expose-Headers")!
    static let maxAge = HTTPField.Name("Access-Control-Max-Age")!
    static let vary = HTTPField.Name("Vary")!
    /// The request headers a browser app may send: the providers' SDKs' and meterr's own.
    static let requestHeaders =
        (["content-type"] + Providers.all.flatMap { $0.keyHeaders + $0.sdkHeaders }
        + [MeterrHeader.key, MeterrHeader.team, MeterrHeader.user, MeterrHeader.project, MeterrHeader.tags])
        .reduce(into: [String]()) { names, name in if !names.contains(name) { names.append(name) } }
        .joined(separator: ", ")
    /// The response headers a browser app may read.
    static let exposed = "x-meterr-request-id, x-meterr-cost-usd, server-timing, retry-after"

    /// The request's origin, if it is allowed.
    func allowed(_ origin: String?) -> String? {
        guard let origin, origins.contains(origin) else { return nil }
        return origin
    }

    /// Lets an allowed origin read the answer (and its meterr headers).
    func decorate(_ headers: inout HTTPFields, origin: String?) {
        guard let origin = allowed(origin) else { return }
        headers[Self.allowOrigin] = origin
        headers[Self.exposeHeaders] = Self.exposed
        headers[Self.vary] = "Origin"
    }

    /// `decorate` for an answer the gateway writes.
    func decorate(_ headers: inout OutgoingHeaders, origin: String?) {
        guard let origin = allowed(origin) else { return }
        headers.set(Self.allowOrigin.rawName, origin)
        headers.set(Self.exposeHeaders.rawName, Self.exposed)
        headers.set(Self.vary.rawName, "Origin")
    }

    /// The answer to an allowed origin's preflight: the methods and the headers the providers' SDKs send.
    func preflight(origin: String) -> HTTPFields {
        var headers = HTTPFields()
        headers[Self.allowOrigin] = origin
        headers[Self.allowMethods] = "GET, POST, PUT, DELETE, OPTIONS"
        headers[Self.allowHeaders] = Self.requestHeaders
        headers[Self.maxAge] = "600"
        headers[Self.vary] = "Origin"
        return headers
    }
}

/// Applies the `CORSPolicy` to every route Hummingbird serves (the gateway applies it itself).
struct AllowedOriginsMiddleware: RouterMiddleware {
    typealias Context = MeterrRequestContext

    let policy: CORSPolicy

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let origin = policy.allowed(request.headers[.origin]) else { return try await next(request, context) }
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            return Response(status: .noContent, headers: policy.preflight(origin: origin))
        }
        var response = try await next(request, context)
        policy.decorate(&response.headers, origin: origin)
        return response
    }
}
