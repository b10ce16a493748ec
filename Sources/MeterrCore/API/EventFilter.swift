/// Which events a query selects; `nil` fields do not filter.
public struct EventFilter: Sendable, Hashable {
    /// From this time on (inclusive).
    public var from: Timestamp?
    /// Before this time (exclusive).
    public var to: Timestamp?
    /// Only this team's events.
    public var team: String?
    /// Only this user's events.
    public var user: String?
    /// Only this project's events.
    public var project: String?
    /// Only events of this meterr key.
    public var keyId: String?
    /// Only this provider's events.
    public var provider: Provider?
    /// Only this model's events.
    public var model: String?
    /// Every tag listed must be present with this value.
    public var tags: [String: String]

    /// Creates a filter.
    public init(
        from: Timestamp? = nil, to: Timestamp? = nil, team: String? = nil, user: String? = nil,
        project: String? = nil, keyId: String? = nil, provider: Provider? = nil, model: String? = nil,
        tags: [String: String] = [:]
    ) {
        self.from = from
        self.to = to
        self.team = team
        self.user = user
        self.project = project
        self.keyId = keyId
        self.provider = provider
        self.model = model
        self.tags = tags
    }
}
