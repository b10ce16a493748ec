/// A project, and the team it belongs to (`GET /api/projects`).
public struct Project: Sendable, Hashable, Codable {
    /// Its id (`proj_…`).
    public var id: String
    /// Its name, the value events carry in `project`.
    public var name: String
    /// The team it belongs to.
    public var team: String?
    /// When it was created.
    public var createdAt: Timestamp

    /// Creates a project.
    public init(id: String, name: String, team: String?, createdAt: Timestamp) {
        self.id = id
        self.name = name
        self.team = team
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name, team
        case createdAt = "created_at"
    }

    /// Encodes every key (`team` is `null` for a project of no team).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(team, forKey: .team)
        try c.encode(createdAt, forKey: .createdAt)
    }
}

/// `GET /api/projects`.
public struct ProjectList: Sendable, Hashable, Codable {
    /// The organisation's projects.
    public var projects: [Project]

    /// Creates a list.
    public init(projects: [Project]) { self.projects = projects }
}
