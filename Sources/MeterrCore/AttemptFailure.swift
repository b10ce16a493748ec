/// Why an attempt failed, for the breaker and the retry loop.
public enum AttemptFailure: String, Sendable, Hashable {
    case rateLimited = "rate_limited"
    case overloaded
    case serverError = "server_error"
    case timeout
    case connection
    case contextLength = "context_length"
    case lacksTools = "no_tools"
    case authentication
    case notFound = "not_found"
    /// The call itself is wrong: every deployment would refuse it.
    case badRequest = "bad_request"

    /// Whether another deployment may succeed where this one failed.
    public var fallsBack: Bool { self != .badRequest }
    /// Whether the failure counts against the deployment's health (a prompt too long for it does not).
    public var countsAgainst: Bool { self != .contextLength && self != .badRequest && self != .lacksTools }
}
