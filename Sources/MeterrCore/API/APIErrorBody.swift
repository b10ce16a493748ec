/// Every `/api` error's body: `{"error": {"code", "message", "field"?}}`, with a stable code
/// (`invalid_request`, `unauthenticated`, `forbidden`, `not_found`, …) and, for bad input, the field.
public struct APIErrorBody: Sendable, Hashable, Codable {
    /// The error itself.
    public struct Detail: Sendable, Hashable, Codable {
        /// The stable code.
        public var code: String
        /// A sentence for people.
        public var message: String
        /// The request field at fault, for bad input.
        public var field: String?

        /// Creates the detail.
        public init(code: String, message: String, field: String? = nil) {
            self.code = code
            self.message = message
            self.field = field
        }
    }

    /// The error.
    public var error: Detail

    /// Creates a body.
    public init(_ error: MeterrError) {
        self.error = Detail(code: error.code.rawValue, message: error.message, field: error.field)
    }
}
