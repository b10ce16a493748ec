/// A meterr key as the management API shows it (`GET /api/keys`, and the answer to creating or
/// rotating one, which alone carries the secret).
public struct KeyInfo: Sendable, Hashable, Codable {
    /// The key's id (`key_…`).
    public var id: String
    /// Its name.
    public var name: String
    /// The secret (`mk_…`): only in the answer that created or rotated it.
    public var key: String?
    /// The visible start of the secret.
    public var prefix: String
    /// What it may do: `gateway`, `ingest`, `read`, `admin`, `operator`.
    public var scopes: [String]
    /// The team it is bound to.
    public var team: String?
    /// The user it is bound to.
    public var user: String?
    /// The project it is bound to.
    public var project: String?
    /// Its rate-limit tier.
    public var tier: String?
    /// Its requests-per-minute limit.
    public var rpm: Int?
    /// Its tokens-per-minute limit.
    public var tpm: Int?
    /// `active`, `rotating`, `expired` or `revoked`.
    public var status: String
    /// When it was created.
    public var createdAt: Timestamp
    /// When it stops working by itself.
    public var expiresAt: Timestamp?
    /// When it was last used.
    public var lastUsedAt: Timestamp?
    /// When it was (or will be, when rotating) revoked.
    public var revokedAt: Timestamp?

    /// Creates a key's description.
    public init(
        id: String, name: String, key: String? = nil, prefix: String, scopes: [String], team: String? = nil,
        user: String? = nil, project: String? = nil, tier: String? = nil, rpm: Int? = nil, tpm: Int? = nil,
        status: String, createdAt: Timestamp, expiresAt: Timestamp? = nil, lastUsedAt: Timestamp? = nil,
        revokedAt: Timestamp? = nil
    ) {
        self.id = id
        self.name = name
        self.key = key
        self.prefix = prefix
        self.scopes = scopes
        self.team = team
        self.user = user
        self.project = project
        self.tier = tier
        self.rpm = rpm
        self.tpm = tpm
        self.status = status
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name, key, prefix, scopes, team, user, project, tier, rpm, tpm, status
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case lastUsedAt = "last_used_at"
        case revokedAt = "revoked_at"
    }

    /// Encodes every key, `null` for absent values; `key` only when the secret is there.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encodeIfPresent(key, forKey: .key)
        try c.encode(prefix, forKey: .prefix)
        try c.encode(scopes, forKey: .scopes)
        try c.encode(team, forKey: .team)
        try c.encode(user, forKey: .user)
        try c.encode(project, forKey: .project)
        try c.encode(tier, forKey: .tier)
        try c.encode(rpm, forKey: .rpm)
        try c.encode(tpm, forKey: .tpm)
        try c.encode(status, forKey: .status)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(expiresAt, forKey: .expiresAt)
        try c.encode(lastUsedAt, forKey: .lastUsedAt)
        try c.encode(revokedAt, forKey: .revokedAt)
    }
}

/// `GET /api/keys`.
public struct KeyList: Sendable, Hashable, Codable {
    /// The organisation's keys, without their secrets.
    public var keys: [KeyInfo]

    /// Creates a list.
    public init(keys: [KeyInfo]) { self.keys = keys }
}
