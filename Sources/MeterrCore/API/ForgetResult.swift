/// The answer to `POST /api/users/{id}/forget` (and `meterr users forget`).
public struct ForgetResult: Sendable, Hashable, Codable {
    /// The irreversible token that now stands where the person's id and email stood.
    public var token: String
    /// Whether a dashboard account was deleted.
    public var accountDeleted: Bool
    /// Events whose attribution was replaced; their tokens and cost are unchanged.
    public var events: Int
    /// Keys bound to the person, now bound to the token.
    public var keys: Int

    /// Creates an answer.
    public init(token: String, accountDeleted: Bool, events: Int, keys: Int) {
        self.token = token
        self.accountDeleted = accountDeleted
        self.events = events
        self.keys = keys
    }

    enum CodingKeys: String, CodingKey {
        case token
        case accountDeleted = "account_deleted"
        case events, keys
    }
}
