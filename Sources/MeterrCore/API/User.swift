/// A person of an organisation and their role (`GET /api/users`).
public struct User: Sendable, Hashable, Codable {
    /// Their id (`usr_…`).
    public var id: String
    /// Their email address, which they sign in with.
    public var email: String
    /// Their name, if given.
    public var name: String?
    /// `owner`, `admin`, `member` or `viewer`.
    public var role: String
    /// The team they belong to.
    public var team: String?
    /// Whether they have a password, so can sign in to the dashboard.
    public var canSignIn: Bool
    /// When they were added.
    public var createdAt: Timestamp

    /// Creates a person's description.
    public init(
        id: String, email: String, name: String?, role: String, team: String?, canSignIn: Bool, createdAt: Timestamp
    ) {
        self.id = id
        self.email = email
        self.name = name
        self.role = role
        self.team = team
        self.canSignIn = canSignIn
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, email, name, role, team
        case canSignIn = "can_sign_in"
        case createdAt = "created_at"
    }

    /// Encodes every key, `null` for absent values.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(email, forKey: .email)
        try c.encode(name, forKey: .name)
        try c.encode(role, forKey: .role)
        try c.encode(team, forKey: .team)
        try c.encode(canSignIn, forKey: .canSignIn)
        try c.encode(createdAt, forKey: .createdAt)
    }
}

/// `GET /api/users`.
public struct UserList: Sendable, Hashable, Codable {
    /// The organisation's people.
    public var users: [User]

    /// Creates a list.
    public init(users: [User]) { self.users = users }
}
