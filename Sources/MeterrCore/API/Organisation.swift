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
