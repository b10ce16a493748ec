import MeterrCore

/// What in a provider's error answer says why it failed, beyond its status: the structured codes first,
/// message fragments only as a last resort (each provider words them differently, and changes them).
public struct FailureMarkers: Sendable {
    /// `error.code` / `error.status` / `error.type` values that mean the prompt is too long.
    public var contextCodes: Set<String> = ["context_length_exceeded"]
    /// Message fragments (lowercased) that mean the prompt is too long.
    public var contextMessages: [String] = []
    /// Message fragments (lowercased) that mean the model takes no tools.
    public var toolMessages: [String] = [
        "does not support tools", "tools is not supported", "tool use is not supported",
        "function calling is not supported", "does not support function calling",
    ]

    public init(contextMessages: [String] = [], toolMessages: [String]? = nil) {
        self.contextMessages = contextMessages
        if let toolMessages { self.toolMessages = toolMessages }
    }
}

/// Classifies a provider's failed answer for the router: whether another deployment may succeed, and
/// whether the failure counts against this one's health.
public enum FailureClassifier {
    /// The failure an answer's status and error body describe, or `nil` for a success.
    public static func classify(status: Int, body: [UInt8], markers: FailureMarkers) -> AttemptFailure? {
        guard status >= 400 else { return nil }
        let json = JSONValue(parsing: body)
        let error = json?["error"]
        let codes = [error?["code"]?.string, error?["status"]?.string, error?["type"]?.string, json?["type"]?.string]
            .compactMap { $0 }
        switch status {
        case 429: return .rateLimited
        case 408: return .timeout
        case 401, 403: return .authentication
        case 404: return .notFound
        case 500...:
            return status == 503 || status == 529 || codes.contains("overloaded_error") ? .overloaded : .serverError
        default: break
        }
        if codes.contains(where: markers.contextCodes.contains) { return .contextLength }
        let message = (error?["message"]?.string ?? json?["message"]?.string ?? error?.string ?? "").lowercased()
        if markers.contextMessages.contains(where: message.contains) { return .contextLength }
        if markers.toolMessages.contains(where: message.contains) { return .lacksTools }
        return .badRequest
    }
}
