import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import MeterrStore

/// A signed-in person: who they are, their session's CSRF token, and the principal their role
/// gives them (the same scope checks as a key: owners and admins get every scope of the
/// organisation, members and viewers `read`).
struct DashboardSession: Sendable {
    let user: UserRecord
    let csrf: String
    let tokenHash: String
    let principal: Principal

    init(user: UserRecord, csrf: String, tokenHash: String) {
        self.user = user
        self.csrf = csrf
        self.tokenHash = tokenHash
        self.principal = Principal(
            orgId: user.orgId, keyId: "user:" + user.id, scopes: user.role.canManage ? .all : [.read])
    }

    var canManage: Bool { principal.scopes.contains(.admin) }
}

/// The context of a dashboard request before the session is known.
struct DashboardRequestContext: ChildRequestContext {
    var coreContext: CoreRequestContextStorage
    var session: DashboardSession?

    init(context: MeterrRequestContext) {
        self.coreContext = context.coreContext
        self.session = nil
    }
}

/// The context of a signed-in dashboard request: pages that show an organisation's numbers take
/// this one, so they cannot run without a session.
struct DashboardContext: ChildRequestContext {
    var coreContext: CoreRequestContextStorage
    let session: DashboardSession

    init(context: DashboardRequestContext) throws {
        guard let session = context.session else { throw MeterrError(.unauthenticated, "not signed in") }
        self.coreContext = context.coreContext
        self.session = session
    }

    var orgId: String { session.principal.orgId }

    /// Refuses (403) a person whose role lacks `scope`.
    func require(_ scope: KeyScopes) throws {
        guard session.principal.scopes.contains(scope) else {
            throw MeterrError(.forbidden, "your role (\(session.user.role.rawValue)) cannot do this")
        }
    }

    /// Refuses (403) a form whose CSRF token is not this session's.
    func checkCSRF(_ form: FormData) throws {
        guard let sent = form["csrf"], APIKey.constantTimeEqual(Array(sent.utf8), Array(session.csrf.utf8)) else {
            throw MeterrError(.forbidden, "missing or wrong CSRF token: reload the page and try again")
        }
    }
}

/// Finds the session of the request's cookie; a page request without one is sent to the sign-in
/// page, anything else gets a 401.
struct SessionMiddleware: RouterMiddleware {
    typealias Context = DashboardRequestContext
    let users: any UserStore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        if let token = request.cookies[SignInRoutes.cookieName]?.value, !token.isEmpty {
            let hash = SignInRoutes.tokenHash(token)
            if let (user, csrf) = try await users.session(tokenHash: hash) {
                var context = context
                context.session = DashboardSession(user: user, csrf: csrf, tokenHash: hash)
                return try await next(request, context)
            }
        }
        guard request.method == .get, request.uri.path != "/events" else {
            throw MeterrError(.unauthenticated, "not signed in")
        }
        let next =
            request.uri.path == "/"
            ? "" : "?next=" + (request.uri.path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        return Response(status: .seeOther, headers: [.location: "/login" + next])
    }
}

/// The fields of an `application/x-www-form-urlencoded` body or a query string.
struct FormData: Sendable {
    let pairs: [(String, String)]

    init(_ text: String) {
        pairs = text.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String {
                let spaced = part.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    /// Reads a form body of at most `limit` bytes.
    static func read(_ request: Request, limit: Int = 256 * 1024) async throws -> FormData {
        let body = try await collectBody(request, limit: limit)
        return FormData(String(buffer: body))
    }

    /// The first value of a field; `nil` when absent.
    subscript(name: String) -> String? { pairs.first { $0.0 == name }?.1 }

    /// The value of a field, `nil` when absent or empty.
    func nonEmpty(_ name: String) -> String? {
        guard let value = self[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    /// Every value of a repeated field.
    func all(_ name: String) -> [String] { pairs.filter { $0.0 == name }.map(\.1) }
}
