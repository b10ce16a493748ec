import Crypto
import Dispatch
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import MeterrCore
import MeterrStore

/// Runs slow, CPU-bound work (bcrypt) on a dispatch queue, off Swift's cooperative pool.
func offCooperativePool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: work()) }
    }
}

/// `/auth/…`: signing people in to the dashboard. A session is a random token in an HttpOnly,
/// SameSite=Strict cookie (stored only as its SHA-256), with a CSRF token that state-changing
/// dashboard requests must echo in `x-csrf-token`.
struct SignInRoutes: Sendable {
    let users: any UserStore
    let throttle: AuthenticationThrottle
    let secureCookies: Bool
    let clock: WallClock
    static let cookieName = "meterr_session"
    static let lifetimeSeconds = 12 * 3600

    func register(on router: Router<MeterrRequestContext>) {
        router.post("auth/login", use: login)
        router.post("auth/logout", use: logout)
        router.get("auth/session", use: session)
    }

    static func tokenHash(_ token: String) -> String { APIKey.hash(token) }

    func cookie(_ value: String, maxAge: Int) -> String {
        "\(Self.cookieName)=\(value); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(maxAge)"
            + (secureCookies ? "; Secure" : "")
    }

    @Sendable func login(_ request: Request, context: MeterrRequestContext) async throws -> Response {
        // The dashboard's sign-in form posted without its script: the same sign-in, answered with
        // redirects (to the overview, or back to the form saying what went wrong).
        let body = try await collectBody(request, limit: 16 * 1024)
        // `curl -d '{…}'` labels JSON as a form: a body that is a JSON object is read as JSON.
        let looksLikeJSON =
            body.readableBytesView.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 } == 0x7B
        if request.headers[.contentType]?.hasPrefix("application/x-www-form-urlencoded") == true && !looksLikeJSON {
            let form = FormData(String(buffer: body))
            var fields: [String: JSONValue] = [
                "email": .string(form["email"] ?? ""), "password": .string(form["password"] ?? ""),
            ]
            if let org = form.nonEmpty("org") { fields["org"] = .string(org) }
            do {
                let signedIn = try await signIn(fields, context: context)
                var response = Response(status: .seeOther, headers: [.location: "/"])
                response.headers[.setCookie] = signedIn.headers[.setCookie]
                return response
            } catch let error as MeterrError {
                let reason = error.code == .rateLimited ? "wait" : error.field == "org" ? "org" : "failed"
                return Response(status: .seeOther, headers: [.location: "/login?error=\(reason)"])
            }
        }
        guard let json = JSONValue(parsing: body.readableBytesView), case .object(let members) = json else {
            throw MeterrError.invalid("body", "must be {\"email\", \"password\"}")
        }
        return try await signIn(members, context: context)
    }

    /// Signs a person in from `email`, `password` and (when the email is in several organisations) `org`.
    func signIn(_ members: [String: JSONValue], context: MeterrRequestContext) async throws -> Response {
        if let wait = throttle.blocked(context.remoteAddress) {
            var response = MeterrError(.rateLimited, "too many failed sign-ins from this address").response()
            response.headers[.retryAfter] = String(wait)
            return response
        }
        guard let email = members["email"]?.string, let password = members["password"]?.string else {
            throw MeterrError.invalid("body", "must be {\"email\", \"password\"}")
        }
        let candidates = try await users.userForSignIn(email: email)
        let wanted = members["org"]?.string
        let matches = candidates.filter { wanted == nil || $0.0.orgId == wanted }
        // Verify against every candidate (or a dummy hash), so timing does not tell whether the email exists.
        let hashes = matches.isEmpty ? [Self.dummyHash] : matches.map(\.1)
        let verified = await offCooperativePool { hashes.map { Bcrypt.verify(password, hash: $0) } }
        let signedIn = zip(matches, verified).filter { $0.1 }.map { $0.0.0 }
        guard let user = signedIn.first else {
            throttle.failed(context.remoteAddress)
            throw MeterrError(.unauthenticated, "wrong email or password")
        }
        if signedIn.count > 1 {
            throw MeterrError.invalid("org", "this email belongs to several organisations: name one")
        }
        let token = Identifier.random(length: 43)
        let csrf = Identifier.random(length: 32)
        try await users.createSession(
            tokenHash: Self.tokenHash(token), user: user, csrfToken: csrf,
            expiresAt: clock.now().adding(milliseconds: Int64(Self.lifetimeSeconds) * 1000))
        var response = try jsonResponse(Self.sessionBody(user, csrf: csrf))
        response.headers[.setCookie] = cookie(token, maxAge: Self.lifetimeSeconds)
        return response
    }

    @Sendable func session(_ request: Request, context: MeterrRequestContext) async throws -> Response {
        guard let (user, csrf) = try await current(request) else {
            throw MeterrError(.unauthenticated, "not signed in")
        }
        return try jsonResponse(Self.sessionBody(user, csrf: csrf))
    }

    @Sendable func logout(_ request: Request, context: MeterrRequestContext) async throws -> Response {
        guard let token = request.cookies[Self.cookieName]?.value, let (_, csrf) = try await current(request) else {
            throw MeterrError(.unauthenticated, "not signed in")
        }
        guard let sent = request.headers[.csrfToken], APIKey.constantTimeEqual(Array(sent.utf8), Array(csrf.utf8))
        else {
            throw MeterrError(.forbidden, "missing or wrong x-csrf-token")
        }
        try await users.deleteSession(tokenHash: Self.tokenHash(token))
        var response = Response(status: .noContent)
        response.headers[.setCookie] = cookie("", maxAge: 0)
        return response
    }

    /// The signed-in user of a request's cookie, and the session's CSRF token.
    func current(_ request: Request) async throws -> (UserRecord, String)? {
        guard let token = request.cookies[Self.cookieName]?.value, !token.isEmpty else { return nil }
        return try await users.session(tokenHash: Self.tokenHash(token))
    }

    static func sessionBody(_ user: UserRecord, csrf: String) -> [String: String] {
        ["user_id": user.id, "email": user.email, "org": user.orgId, "role": user.role.rawValue, "csrf_token": csrf]
    }

    /// A bcrypt hash of nothing anyone can type, verified when no account matches.
    static let dummyHash = Bcrypt.hash(Identifier.random(length: 40), cost: 12)
}

extension HTTPField.Name {
    static let csrfToken = HTTPField.Name("x-csrf-token")!
}
