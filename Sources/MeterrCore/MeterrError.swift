/// An error with a stable code, a message safe to show a caller, and optionally the input field at fault.
///
/// The `description` never includes the underlying error's text, so keys, prompts and SQL
/// arguments cannot leak through it; `underlying` is kept for logs that choose to show it.
public struct MeterrError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; extensible, compared by its raw value.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The caller sent something malformed or out of range.
        public static let invalidRequest = Code(rawValue: "invalid_request")
        /// The request body is larger than the configured limit.
        public static let payloadTooLarge = Code(rawValue: "payload_too_large")
        /// No valid credential was presented.
        public static let unauthenticated = Code(rawValue: "unauthenticated")
        /// The credential is valid but may not do this.
        public static let forbidden = Code(rawValue: "forbidden")
        /// Too many requests: a rate limit or a back-off.
        public static let rateLimited = Code(rawValue: "rate_limited")
        /// The thing asked for does not exist (or belongs to someone else).
        public static let notFound = Code(rawValue: "not_found")
        /// The request conflicts with what is stored.
        public static let conflict = Code(rawValue: "conflict")
        /// meterr cannot serve this right now (shutting down, storage unavailable).
        public static let unavailable = Code(rawValue: "unavailable")
        /// Storage failed.
        public static let storage = Code(rawValue: "storage_error")
        /// A configuration file or setting is wrong.
        public static let configuration = Code(rawValue: "configuration_error")
        /// An upstream (a provider) could not be reached, or answered with something unreadable.
        public static let badGateway = Code(rawValue: "bad_gateway")
        /// An upstream did not answer in time.
        public static let gatewayTimeout = Code(rawValue: "gateway_timeout")
        /// A bug: something that should not happen did.
        public static let `internal` = Code(rawValue: "internal_error")
    }

    /// The kind of failure.
    public var code: Code
    /// A message for the caller, free of secrets.
    public var message: String
    /// The input field at fault (`events[3].input_tokens`), when there is one.
    public var field: String?
    /// The cause, for logs.
    public var underlying: (any Error & Sendable)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, field: String? = nil, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.field = field
        self.underlying = underlying
    }

    public var description: String {
        if let field { return "\(code): \(field): \(message)" }
        return "\(code): \(message)"
    }

    /// An `invalidRequest` error about one field.
    public static func invalid(_ field: String, _ message: String) -> MeterrError {
        MeterrError(.invalidRequest, message, field: field)
    }
}
