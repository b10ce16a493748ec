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
    /// Answers the person's calls had left in the response cache, now deleted.
    public var cachedAnswers: Int

    /// Creates an answer.
    public init(token: String, accountDeleted: Bool, events: Int, keys: Int, cachedAnswers: Int = 0) {
        self.token = token
        self.accountDeleted = accountDeleted
        self.events = events
        self.keys = keys
        self.cachedAnswers = cachedAnswers
    }

    enum CodingKeys: String, CodingKey {
        case token
        case accountDeleted = "account_deleted"
        case events, keys
        case cachedAnswers = "cached_answers"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        token = try c.decode(String.self, forKey: .token)
        accountDeleted = try c.decode(Bool.self, forKey: .accountDeleted)
        events = try c.decode(Int.self, forKey: .events)
        keys = try c.decode(Int.self, forKey: .keys)
        cachedAnswers = try c.decodeIfPresent(Int.self, forKey: .cachedAnswers) ?? 0
    }
}
