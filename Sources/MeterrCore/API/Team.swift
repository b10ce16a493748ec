/// A team (`GET /api/teams`).
public struct Team: Sendable, Hashable, Codable {
    /// Its id (`team_…`).
    public var id: String
    /// Its name, the value events carry in `team`.
    public var name: String
    /// When it was created.
    public var createdAt: Timestamp

    /// Creates a team.
    public init(id: String, name: String, createdAt: Timestamp) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name
        case createdAt = "created_at"
    }
}

/// `GET /api/teams`.
public struct TeamList: Sendable, Hashable, Codable {
    /// The organisation's teams.
    public var teams: [Team]

    /// Creates a list.
    public init(teams: [Team]) { self.teams = teams }
}
