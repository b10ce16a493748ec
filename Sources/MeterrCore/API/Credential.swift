/// A provider key stored for an organisation or one of its teams, shown masked (`GET /api/credentials`).
public struct Credential: Sendable, Hashable, Codable {
    /// The provider it is for.
    public var provider: Provider
    /// The team it is for; `nil` for the whole organisation.
    public var team: String?
    /// The key, masked (`sk-…x7Qa`).
    public var key: String
    /// The organisation's own upstream for this provider, if it set one.
    public var baseURL: String?
    /// When it was last set.
    public var updatedAt: Timestamp

    /// Creates a credential's description.
    public init(provider: Provider, team: String?, key: String, baseURL: String?, updatedAt: Timestamp) {
        self.provider = provider
        self.team = team
        self.key = key
        self.baseURL = baseURL
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case provider, team, key
        case baseURL = "base_url"
        case updatedAt = "updated_at"
    }

    /// Encodes every key, `null` for absent values.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(provider, forKey: .provider)
        try c.encode(team, forKey: .team)
        try c.encode(key, forKey: .key)
        try c.encode(baseURL, forKey: .baseURL)
        try c.encode(updatedAt, forKey: .updatedAt)
    }
}

/// `GET /api/credentials`.
public struct CredentialList: Sendable, Hashable, Codable {
    /// The organisation's credentials, masked.
    public var credentials: [Credential]

    /// Creates a list.
    public init(credentials: [Credential]) { self.credentials = credentials }
}
