import MeterrCore

/// An organisation: the tenant every stored row belongs to.
public struct Organisation: Sendable, Hashable {
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
    /// Manage the organisation.
    public static let admin = KeyScopes(rawValue: 8)
    /// Everything.
    public static let all: KeyScopes = [.gateway, .ingest, .read, .admin]
}

/// Who a request acts for, established from its key.
public struct Principal: Sendable, Hashable {
    /// The organisation the key belongs to.
    public var orgId: String
    /// The key's id.
    public var keyId: String
    /// What the key may do.
    public var scopes: KeyScopes

    /// Creates a principal.
    public init(orgId: String, keyId: String, scopes: KeyScopes) {
        self.orgId = orgId
        self.keyId = keyId
        self.scopes = scopes
    }
}

/// What the first start of an empty data directory created.
public struct BootstrapResult: Sendable {
    /// The default organisation.
    public var organisation: Organisation
    /// The admin key created now, in plain text; `nil` when one existed already. Shown once.
    public var createdAdminKey: String?
}

/// Organisations and keys.
public protocol AccountStore: Sendable {
    /// Creates the default organisation and an admin key when the store has none.
    ///
    /// - Parameter adminKey: a key to install as an admin key (from `METERR_ADMIN_KEY`) instead of
    ///   a random one; installed if not stored yet.
    func bootstrap(adminKey: String?) async throws -> BootstrapResult

    /// The principal of the live key whose SHA-256 (hex) is `hash`, or `nil`.
    func principal(forKeyHash hash: String) async throws -> Principal?
}
