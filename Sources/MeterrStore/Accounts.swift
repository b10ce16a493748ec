import MeterrCore

/// What a key may do.
public struct KeyScopes: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// Call providers through the gateway.
    public static let gateway = KeyScopes(rawValue: 1)
    /// Report usage events.
    public static let ingest = KeyScopes(rawValue: 2)
    /// Read usage and analytics.
    public static let read = KeyScopes(rawValue: 4)
    /// Manage the organisation: keys, teams, projects, prices.
    public static let admin = KeyScopes(rawValue: 8)
    /// Run the installation: create organisations and act in any of them.
    public static let `operator` = KeyScopes(rawValue: 16)
    /// Everything within an organisation.
    public static let all: KeyScopes = [.gateway, .ingest, .read, .admin]

    /// The scope names of the API and CLI.
    public static let names: [(String, KeyScopes)] = [
        ("gateway", .gateway), ("ingest", .ingest), ("read", .read), ("admin", .admin), ("operator", .operator),
    ]

    /// Parses scope names; `nil` names an unknown scope.
    public init?(names: [String]) {
        var scopes: KeyScopes = []
        for name in names {
            guard let scope = Self.names.first(where: { $0.0 == name })?.1 else { return nil }
            scopes.insert(scope)
        }
        self = scopes
    }

    /// The names of these scopes.
    public var nameList: [String] { Self.names.filter { contains($0.1) }.map(\.0) }
}

/// Who a request acts for, established from its key.
public struct Principal: Sendable, Hashable {
    /// The organisation the key belongs to.
    public var orgId: String
    /// The key's id.
    public var keyId: String
    /// What the key may do.
    public var scopes: KeyScopes
    /// Attribution the key carries: calls through it are billed to this team, user and project.
    public var team: String?
    public var user: String?
    public var project: String?
    /// When the key stops working (expiry, or the end of a rotation's grace), if ever.
    public var validUntil: Timestamp?
    /// The key's rate limits.
    public var limits: RateLimits

    /// Creates a principal.
    public init(
        orgId: String, keyId: String, scopes: KeyScopes, team: String? = nil, user: String? = nil,
        project: String? = nil, validUntil: Timestamp? = nil, limits: RateLimits = RateLimits()
    ) {
        self.limits = limits
        self.orgId = orgId
        self.keyId = keyId
        self.scopes = scopes
        self.team = team
        self.user = user
        self.project = project
        self.validUntil = validUntil
    }
}

/// How fast a key may call: its tier's requests per hour, and optional per-minute limits.
public struct RateLimits: Sendable, Hashable {
    /// The tier (`free`, `pro`, `enterprise`, `unlimited`).
    public var tier: RateTier
    /// Requests per minute, if limited.
    public var requestsPerMinute: Int?
    /// Tokens (input + output) per minute, if limited.
    public var tokensPerMinute: Int?

    /// Creates limits.
    public init(tier: RateTier = .unlimited, requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil) {
        self.tier = tier
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
    }
}

/// Rate-limit tiers: requests per hour.
public enum RateTier: String, Sendable, Hashable, CaseIterable {
    case free, pro, enterprise, unlimited

    /// Requests per hour; `nil` for no limit.
    public var requestsPerHour: Int? {
        switch self {
        case .free: 100
        case .pro: 1_000
        case .enterprise: 10_000
        case .unlimited: nil
        }
    }
}

/// A stored key as it may be shown: never the secret, only its first characters.
public struct KeyRecord: Sendable, Hashable {
    public var id: String
    public var orgId: String
    public var name: String
    /// `mk_` and the first six characters.
    public var displayPrefix: String
    public var scopes: KeyScopes
    public var team: String?
    public var user: String?
    public var project: String?
    public var createdAt: Timestamp
    public var expiresAt: Timestamp?
    public var lastUsedAt: Timestamp?
    public var revokedAt: Timestamp?
    /// The key's own tier (`nil`: its organisation's) and per-minute limits.
    public var tier: RateTier?
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?

    /// Creates a record.
    public init(
        id: String, orgId: String, name: String, displayPrefix: String, scopes: KeyScopes, team: String? = nil,
        user: String? = nil, project: String? = nil, createdAt: Timestamp, expiresAt: Timestamp? = nil,
        lastUsedAt: Timestamp? = nil, revokedAt: Timestamp? = nil, tier: RateTier? = nil,
        requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil
    ) {
        self.tier = tier
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.id = id
        self.orgId = orgId
        self.name = name
        self.displayPrefix = displayPrefix
        self.scopes = scopes
        self.team = team
        self.user = user
        self.project = project
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }
}

/// What a new key is for.
public struct KeyRequest: Sendable, Hashable {
    public var name: String
    public var scopes: KeyScopes
    public var team: String?
    public var user: String?
    public var project: String?
    public var expiresAt: Timestamp?
    /// The key's own tier (`nil`: its organisation's) and per-minute limits.
    public var tier: RateTier?
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?

    /// Creates a request.
    public init(
        name: String, scopes: KeyScopes, team: String? = nil, user: String? = nil, project: String? = nil,
        expiresAt: Timestamp? = nil, tier: RateTier? = nil, requestsPerMinute: Int? = nil,
        tokensPerMinute: Int? = nil
    ) {
        self.tier = tier
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.name = name
        self.scopes = scopes
        self.team = team
        self.user = user
        self.project = project
        self.expiresAt = expiresAt
    }
}

/// A named group inside an organisation: a team (department) or a project.
public struct NamedGroup: Sendable, Hashable {
    public var id: String
    public var orgId: String
    public var name: String
    /// For a project: the team it belongs to.
    public var team: String?
    public var createdAt: Timestamp

    /// Creates a group.
    public init(id: String, orgId: String, name: String, team: String? = nil, createdAt: Timestamp) {
        self.id = id
        self.orgId = orgId
        self.name = name
        self.team = team
        self.createdAt = createdAt
    }
}

/// What the first start of an empty data directory created.
public struct BootstrapResult: Sendable {
    /// The default organisation.
    public var organisation: Organisation
    /// The admin key created now, in plain text; `nil` when one existed already. Shown once.
    public var createdAdminKey: String?

    /// Creates a result.
    package init(organisation: Organisation, createdAdminKey: String?) {
        self.organisation = organisation
        self.createdAdminKey = createdAdminKey
    }
}

/// Organisations and keys.
public protocol AccountStore: Sendable {
    /// Creates the default organisation and an admin key when the store has none.
    ///
    /// - Parameter adminKey: a key to install as an admin key (from `METERR_ADMIN_KEY`) instead of
    ///   a random one; installed if not stored yet.
    func bootstrap(adminKey: String?) async throws -> BootstrapResult

    /// The principal of a live key, or `nil` (unknown, revoked or expired). Candidates are found by
    /// the key's display prefix and matched by SHA-256, compared in constant time.
    func principal(forKey key: String) async throws -> Principal?

    /// Notes that keys were used (at most once a minute per key is enough).
    func markUsed(keyIds: [String], at: Timestamp) async throws

    /// Creates an organisation with a first admin key (returned in plain text, once).
    func createOrganisation(name: String, actor: String) async throws -> (Organisation, String)

    /// Every organisation.
    func organisations() async throws -> [Organisation]

    /// Sets an organisation's rate-limit tier (the default of its keys).
    func setTier(org: String, tier: RateTier, actor: String) async throws

    /// Creates a key in `org`; returns its record and the key in plain text (shown once).
    func createKey(org: String, _ request: KeyRequest, actor: String) async throws -> (KeyRecord, String)

    /// The organisation's keys, newest first.
    func keys(org: String) async throws -> [KeyRecord]

    /// Revokes a key of `org`; returns its hash (to evict caches), or `nil` if `org` has no such key.
    func revokeKey(org: String, id: String, actor: String, actorScopes: KeyScopes) async throws -> String?

    /// Replaces a key of `org` with a new one; the old one keeps working until `graceUntil`.
    /// Returns the new key's record and plain text, and the old key's hash; `nil` if no such key.
    func rotateKey(org: String, id: String, graceUntil: Timestamp, actor: String) async throws
        -> (KeyRecord, String, String)?

    /// Creates a team or a project (`kind` `team` or `project`) in `org`.
    func createGroup(kind: GroupKind, org: String, name: String, team: String?, actor: String) async throws
        -> NamedGroup

    /// The organisation's teams or projects.
    func groups(kind: GroupKind, org: String) async throws -> [NamedGroup]

    /// Removes a team or project of `org`; `false` if it has none with that id. A team that keys,
    /// people, projects or credentials name is kept (a conflict), so nothing is left pointing at nothing.
    func deleteGroup(kind: GroupKind, org: String, id: String, actor: String) async throws -> Bool

    /// The organisation's audit log, newest first.
    func audit(org: String, limit: Int) async throws -> [AuditEntry]
}

/// Teams or projects.
public enum GroupKind: String, Sendable {
    case team, project
}

/// What a person may do in an organisation (dashboard and sign-in).
public enum Role: String, Sendable, Hashable, CaseIterable {
    /// Everything, including making and removing owners.
    case owner
    /// Manage keys, teams, users (not owners), credentials, budgets.
    case admin
    /// Use the gateway and see usage.
    case member
    /// See usage, change nothing.
    case viewer

    /// Whether this role may manage people and keys.
    public var canManage: Bool { self == .owner || self == .admin }
}

/// A person in an organisation.
public struct UserRecord: Sendable, Hashable {
    public var id: String
    public var orgId: String
    public var email: String
    public var name: String?
    public var role: Role
    public var team: String?
    /// Whether the user can sign in with a password.
    public var hasPassword: Bool
    public var createdAt: Timestamp

    /// Creates a record.
    public init(
        id: String, orgId: String, email: String, name: String?, role: Role, team: String?, hasPassword: Bool,
        createdAt: Timestamp
    ) {
        self.id = id
        self.orgId = orgId
        self.email = email
        self.name = name
        self.role = role
        self.team = team
        self.hasPassword = hasPassword
        self.createdAt = createdAt
    }
}

/// People of an organisation, with their roles.
public protocol UserStore: Sendable {
    /// Forgets a person (GDPR erasure) by account id, email or ledger attribution: their account is
    /// deleted and their name replaced by an irreversible token everywhere, totals unchanged.
    func forgetPerson(org: String, person: String, actor: String) async throws -> ForgetResult
    /// Everything held about a person, as one JSON document.
    func exportPerson(org: String, person: String, actor: String) async throws -> [UInt8]
    /// Adds a person; `passwordHash` is a bcrypt hash made by the caller, or `nil`.
    func createUser(
        org: String, email: String, name: String?, role: Role, team: String?, passwordHash: String?, actor: String
    ) async throws -> UserRecord

    /// The organisation's people.
    func users(org: String) async throws -> [UserRecord]

    /// Changes a person's role; `nil` if `org` has no such user.
    func setRole(org: String, id: String, role: Role, actor: String) async throws -> UserRecord?

    /// Removes a person (and their sessions); `false` if `org` has no such user.
    func deleteUser(org: String, id: String, actor: String) async throws -> Bool

    /// The user with this email (any organisation) and their bcrypt hash, for signing in.
    func userForSignIn(email: String) async throws -> [(UserRecord, String)]

    /// Opens a session: stores its token's hash and CSRF token until `expiresAt`.
    func createSession(tokenHash: String, user: UserRecord, csrfToken: String, expiresAt: Timestamp) async throws

    /// The live session of a token hash: its user and CSRF token.
    func session(tokenHash: String) async throws -> (UserRecord, String)?

    /// Ends a session.
    func deleteSession(tokenHash: String) async throws
}

extension Team {
    /// The team as the API shows it.
    public init(_ group: NamedGroup) { self.init(id: group.id, name: group.name, createdAt: group.createdAt) }
}

extension Project {
    /// The project as the API shows it.
    public init(_ group: NamedGroup) {
        self.init(id: group.id, name: group.name, team: group.team, createdAt: group.createdAt)
    }
}
