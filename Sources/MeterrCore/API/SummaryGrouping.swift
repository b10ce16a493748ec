/// How a usage summary groups its totals (`group_by`).
public enum SummaryGrouping: String, Sendable, Hashable, CaseIterable, Codable {
    /// One group: the totals alone.
    case none
    /// One group per model the providers reported (with its provider).
    case model
    /// One group per provider.
    case provider
    /// One group per team, user, meterr key or project.
    case team, user, key, project
    /// One group per UTC day or hour.
    case day, hour

    /// The key a group's value sits under (`key_id` for keys, the grouping's name otherwise).
    public var valueKey: String { self == .key ? "key_id" : rawValue }
}
