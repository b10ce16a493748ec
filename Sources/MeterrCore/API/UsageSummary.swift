/// One group of a summary: its value and its totals.
public struct SummaryGroup: Sendable, Hashable {
    /// The group's value: a model, team, … name (`nil` for unattributed calls), or the bucket start
    /// for `day` and `hour`.
    public var value: String?
    /// The provider, when grouping by model.
    public var provider: String?
    /// The totals of the group.
    public var totals: UsageTotals

    /// Creates a group.
    public init(value: String?, provider: String? = nil, totals: UsageTotals) {
        self.value = value
        self.provider = provider
        self.totals = totals
    }
}

/// Totals over a time range, per group and overall (`GET /api/usage/summary`). Each group carries
/// its value under the grouping's name (`"model": "gpt-4o"`, `"key_id": "key_…"`).
public struct UsageSummary: Sendable, Hashable, Codable {
    /// The summary's groups (the name its SDK callers know).
    public typealias Group = SummaryGroup

    /// The range covered, aligned to the hour.
    public var from: Timestamp
    /// The end of the range covered.
    public var to: Timestamp
    /// How the groups are formed.
    public var groupBy: SummaryGrouping
    /// The groups: by cost, largest first, or by time for `day` and `hour`.
    public var groups: [SummaryGroup]
    /// The totals over every group.
    public var totals: UsageTotals

    /// Creates a summary.
    public init(from: Timestamp, to: Timestamp, groupBy: SummaryGrouping, groups: [SummaryGroup], totals: UsageTotals) {
        self.from = from
        self.to = to
        self.groupBy = groupBy
        self.groups = groups
        self.totals = totals
    }

    enum CodingKeys: String, CodingKey {
        case from, to, groups, totals
        case groupBy = "group_by"
    }

    /// Decodes a summary; a grouping this SDK does not know reads as `none`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        from = try container.decode(Timestamp.self, forKey: .from)
        to = try container.decode(Timestamp.self, forKey: .to)
        let name = try container.decode(String.self, forKey: .groupBy)
        groupBy = SummaryGrouping(rawValue: name) ?? .none
        totals = try container.decode(UsageTotals.self, forKey: .totals)
        let valueKey = NameKey(name == "key" ? "key_id" : name)
        var list = try container.nestedUnkeyedContainer(forKey: .groups)
        var groups: [SummaryGroup] = []
        while !list.isAtEnd {
            let member = try list.superDecoder()
            let fields = try member.container(keyedBy: NameKey.self)
            groups.append(
                SummaryGroup(
                    value: try fields.decodeIfPresent(String.self, forKey: valueKey),
                    provider: try fields.decodeIfPresent(String.self, forKey: NameKey("provider")),
                    totals: try UsageTotals(from: member)))
        }
        self.groups = groups
    }

    /// Encodes a summary; `provider` is in each group only when grouping by model.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(from, forKey: .from)
        try container.encode(to, forKey: .to)
        try container.encode(groupBy, forKey: .groupBy)
        var list = container.nestedUnkeyedContainer(forKey: .groups)
        for group in groups {
            let member = list.superEncoder()
            var fields = member.container(keyedBy: NameKey.self)
            try fields.encode(group.value, forKey: NameKey(groupBy.valueKey))
            if groupBy == .model { try fields.encode(group.provider, forKey: NameKey("provider")) }
            try group.totals.encode(to: member)
        }
        try container.encode(totals, forKey: .totals)
    }
}

/// A coding key made from a name at run time (a summary group's key is the grouping's name).
private struct NameKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
