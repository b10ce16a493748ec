import MeterrCore

/// A provider credential as it may be shown: masked.
public struct CredentialRecord: Sendable, Hashable {
    public var provider: Provider
    /// The team it serves; `nil` for the whole organisation.
    public var team: String?
    /// `sk-…x7Qa`.
    public var masked: String
    public var updatedAt: Timestamp
    /// The organisation's own upstream for this provider, if it has one.
    public var baseURL: String?

    /// Creates a record.
    public init(provider: Provider, team: String?, masked: String, updatedAt: Timestamp, baseURL: String? = nil) {
        self.baseURL = baseURL
        self.provider = provider
        self.team = team
        self.masked = masked
        self.updatedAt = updatedAt
    }
}

/// Provider credentials per organisation (optionally per team), sealed at rest.
public protocol CredentialStore: Sendable {
    /// Stores (or replaces) a credential, sealed with `vault`, with an optional upstream base URL
    /// (checked by the caller).
    func setCredential(
        org: String, team: String?, provider: Provider, secret: String, baseURL: String?, vault: CredentialVault,
        actor: String
    ) async throws -> CredentialRecord

    /// The organisation's credentials, masked.
    func credentials(org: String) async throws -> [CredentialRecord]

    /// Removes a credential; `false` if there was none.
    func deleteCredential(org: String, team: String?, provider: Provider, actor: String) async throws -> Bool

    /// The credential for a call: the team's if it has one, else the organisation's; `nil` if neither.
    func credentialSecret(org: String, team: String?, provider: Provider, vault: CredentialVault) async throws
        -> StoredCredential?

    /// The fingerprints of the master keys that sealed the stored credentials.
    func credentialFingerprints() async throws -> Set<String>

    /// Re-seals every credential from one master key to another, in one transaction; returns how many.
    func resealCredentials(from old: CredentialVault, to new: CredentialVault) async throws -> Int
}

/// A credential opened for a call.
public struct StoredCredential: Sendable, Hashable {
    /// The provider key.
    public var secret: String
    /// The organisation's own upstream, if any.
    public var baseURL: String?

    /// Creates one.
    public init(secret: String, baseURL: String?) {
        self.secret = secret
        self.baseURL = baseURL
    }
}
