/// `POST /api/keys`: what a new key may do and who it bills.
public struct NewKey: Sendable, Hashable, Codable {
    /// Its name.
    public var name: String
    /// Its scopes (`gateway` when empty).
    public var scopes: [String]
    /// Binds it to a team.
    public var team: String?
    /// Binds it to a user.
    public var user: String?
    /// Binds it to a project.
    public var project: String?
    /// When it stops working.
    public var expiresAt: Timestamp?
    /// Its rate-limit tier (`free`, `pro`, `enterprise`, `unlimited`).
    public var tier: String?
    /// A requests-per-minute limit.
    public var rpm: Int?
    /// A tokens-per-minute limit.
    public var tpm: Int?

    /// Describes a key.
    public init(
        name: String, scopes: [String] = ["gateway"], team: String? = nil, user: String? = nil,
        project: String? = nil, expiresAt: Timestamp? = nil, tier: String? = nil, rpm: Int? = nil, tpm: Int? = nil
    ) {
        self.name = name
        self.scopes = scopes
        self.team = team
        self.user = user
        self.project = project
        self.expiresAt = expiresAt
        self.tier = tier
        self.rpm = rpm
        self.tpm = tpm
    }

    enum CodingKeys: String, CodingKey {
        case name, scopes, team, user, project, tier, rpm, tpm
        case expiresAt = "expires_at"
    }

    /// Reads a request body's members; a wrong type or value is an `invalid_request` naming the field.
    public init(members: [String: JSONValue]) throws(MeterrError) {
        guard let name = try Self.string(members, "name") else { throw .invalid("name", "is required") }
        self.init(name: name)
        if let list = members["scopes"], !list.isNull {
            guard let names = list.array?.compactMap(\.string), names.count == list.array?.count else {
                throw .invalid("scopes", "must be a list of scope names")
            }
            scopes = names
        }
        team = try Self.string(members, "team")
        user = try Self.string(members, "user")
        project = try Self.string(members, "project")
        if let text = try Self.string(members, "expires_at") {
            guard let time = Timestamp(rfc3339: text) else { throw .invalid("expires_at", "must be an RFC 3339 time") }
            expiresAt = time
        }
        tier = try Self.string(members, "tier")
        rpm = try Self.limit(members, "rpm")
        tpm = try Self.limit(members, "tpm")
    }

    private static func string(_ members: [String: JSONValue], _ key: String) throws(MeterrError) -> String? {
        guard let value = members[key], !value.isNull else { return nil }
        guard let text = value.string else { throw .invalid(key, "must be a string") }
        return text
    }

    private static func limit(_ members: [String: JSONValue], _ key: String) throws(MeterrError) -> Int? {
        guard let value = members[key], !value.isNull else { return nil }
        guard let count = value.int, count >= 1 else { throw .invalid(key, "must be a whole number of at least 1") }
        return count
    }
}
