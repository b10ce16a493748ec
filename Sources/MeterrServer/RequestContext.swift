import Hummingbird
import MeterrCore
import MeterrStore

/// The context of every request: what the framework needs, plus the principal once a key proved one.
public struct MeterrRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by the authentication middleware.
    public var principal: Principal?
    /// meterr's id of this request, sent back as `x-meterr-request-id`.
    public var requestId: String
    /// The caller's IP address, for backing off repeated failed authentication.
    public let remoteAddress: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.principal = nil
        self.requestId = Identifier.ordered("req")
        self.remoteAddress = source.channel.remoteAddress?.ipAddress
    }
}

/// The context of a request that a key authenticated: handlers that need a tenant take this one,
/// so they cannot run without one.
public struct AuthenticatedContext: ChildRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Who the request acts for.
    public let principal: Principal

    public init(context: MeterrRequestContext) throws {
        guard let principal = context.principal else {
            throw APIError(.unauthenticated, "a valid meterr key is required")
        }
        self.coreContext = context.coreContext
        self.principal = principal
    }
}

extension AuthenticatedContext {
    /// Refuses (403) a request whose key lacks `scope`.
    func require(_ scope: KeyScopes) throws {
        guard principal.scopes.contains(scope) else {
            throw MeterrError(.forbidden, "this key lacks the \(scope.nameList.joined(separator: "+")) scope")
        }
    }
}
