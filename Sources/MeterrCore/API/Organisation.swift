/// An organisation: the tenant every stored row belongs to (`GET /api/orgs`).
public struct Organisation: Sendable, Hashable, Codable {
    /// Its id (`org_…`).
    public var id: String
    /// Its display name.
    public var name: String

    /// Creates an organisation.
    public init(id: String, name: String) {
        self.id = id
        self.name = name
    }
}

/// `GET /api/orgs`: every organisation for an operator, the key's own otherwise.
public struct OrganisationList: Sendable, Hashable, Codable {
    /// The organisations.
    public var orgs: [Organisation]

    /// Creates a list.
    public init(orgs: [Organisation]) { self.orgs = orgs }
}

/// The answer to `POST /api/orgs`: the new organisation and its first admin key, shown once.
public struct CreatedOrganisation: Sendable, Hashable, Codable {
    /// Its id.
    public var id: String
    /// Its name.
    public var name: String
    /// Its admin key (`mk_…`).
    public var adminKey: String

    /// Creates the answer.
    public init(id: String, name: String, adminKey: String) {
        self.id = id
        self.name = name
        self.adminKey = adminKey
    }

    enum CodingKeys: String, CodingKey {
        case id, name
        case adminKey = "admin_key"
    }
}

/// The answer to `PUT /api/orgs/{id}/tier`.
public struct OrganisationTier: Sendable, Hashable, Codable {
    /// The organisation's id.
    public var id: String
    /// Its rate-limit tier now.
    public var tier: String

    /// Creates the answer.
    public init(id: String, tier: String) {
        self.id = id
        self.tier = tier
    }
}

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

/// `GET /api/teams`.
public struct TeamList: Sendable, Hashable, Codable {
    /// The organisation's teams.
    public var teams: [Team]

    /// Creates a list.
    public init(teams: [Team]) { self.teams = teams }
}

/// `GET /api/projects`.
public struct ProjectList: Sendable, Hashable, Codable {
    /// The organisation's projects.
    public var projects: [Project]

    /// Creates a list.
    public init(projects: [Project]) { self.projects = projects }
}

/// One line of the audit log (`GET /api/audit`).
public struct AuditEntry: Sendable, Hashable, Codable {
    /// When it happened.
    public var at: Timestamp
    /// The key (or `cli`) that acted.
    public var actor: String
    /// What it did, e.g. `key.create`.
    public var action: String
    /// What it acted on (an id).
    public var target: String?
    /// More about it, for people.
    public var detail: String?

    /// Creates an entry.
    public init(at: Timestamp, actor: String, action: String, target: String? = nil, detail: String? = nil) {
        self.at = at
        self.actor = actor
        self.action = action
        self.target = target
        self.detail = detail
    }

    /// Encodes every key, `null` for absent values.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(at, forKey: .at)
        try c.encode(actor, forKey: .actor)
        try c.encode(action, forKey: .action)
        try c.encode(target, forKey: .target)
        try c.encode(detail, forKey: .detail)
    }
}

/// `GET /api/audit`.
public struct AuditLog: Sendable, Hashable, Codable {
    /// The entries, newest first.
    public var entries: [AuditEntry]

    /// Creates a log.
    public init(entries: [AuditEntry]) { self.entries = entries }
}
