import MeterrCore

/// meterr's answer to a batch of events: how many it got and how many were new.
public struct IngestResult: Sendable, Hashable, Decodable {
    /// Events in the request.
    public var received: Int
    /// Events stored now.
    public var inserted: Int
    /// Events whose id was already stored (a retried batch).
    public var duplicates: Int

    /// Creates a result.
    public init(received: Int, inserted: Int, duplicates: Int) {
        self.received = received
        self.inserted = inserted
        self.duplicates = duplicates
    }
}

/// Which events to list, and which page.
public struct EventQuery: Sendable, Hashable {
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
    /// Only events carrying all these tags.
    public var tags: [String: String]
    /// Events per page (1 to 1,000).
    public var limit: Int
    /// The `nextCursor` of the previous page.
    public var cursor: String?

    /// Creates a query; with no arguments, the newest 100 events.
    public init(
        from: Timestamp? = nil, to: Timestamp? = nil, team: String? = nil, user: String? = nil,
        project: String? = nil, keyId: String? = nil, provider: Provider? = nil, model: String? = nil,
        tags: [String: String] = [:], limit: Int = 100, cursor: String? = nil
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
        self.limit = limit
        self.cursor = cursor
    }

    var queryString: String {
        var items: [(String, String?)] = [
            ("from", from?.rfc3339), ("to", to?.rfc3339), ("team", team), ("user", user), ("project", project),
            ("key_id", keyId), ("provider", provider?.rawValue), ("model", model), ("limit", String(limit)),
            ("cursor", cursor),
        ]
        for key in tags.keys.sorted() { items.append(("tag", "\(key)=\(tags[key] ?? "")")) }
        return QueryString.encode(items.compactMap { name, value in value.map { (name, $0) } })
    }
}

/// One page of usage events.
public struct EventPage: Sendable, Hashable, Decodable {
    /// The events, newest first.
    public var events: [UsageEvent]
    /// The cursor of the next page; `nil` on the last.
    public var nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case events
        case nextCursor = "next_cursor"
    }
}

/// How a usage summary groups its totals.
public enum SummaryGrouping: String, Sendable, Hashable, CaseIterable {
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
}

/// Totals of requests, tokens and cost.
public struct UsageTotals: Sendable, Hashable, Decodable {
    /// Calls counted.
    public var requests: Int
    /// Their token counts, summed.
    public var usage: Usage
    /// Their cost; `nil` when every call was unpriced (unknown, not zero).
    public var cost: Money?
    /// Calls whose model had no price.
    public var unpricedRequests: Int
    /// Their input and output tokens (0 from a meterr that does not report them).
    public var unpricedTokens: Int

    enum CodingKeys: String, CodingKey {
        case requests
        case cost = "cost_usd"
        case unpricedRequests = "unpriced_requests"
        case unpricedTokens = "unpriced_tokens"
    }

    /// Decodes the totals; the token counts sit beside the other fields.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        requests = try container.decode(Int.self, forKey: .requests)
        cost = try container.decodeIfPresent(Money.self, forKey: .cost)
        unpricedRequests = try container.decode(Int.self, forKey: .unpricedRequests)
        unpricedTokens = try container.decodeIfPresent(Int.self, forKey: .unpricedTokens) ?? 0
        usage = try Usage(from: decoder)
    }
}

/// Usage totals over a time range, per group and overall.
public struct UsageSummary: Sendable, Hashable, Decodable {
    /// One group's totals.
    public struct Group: Sendable, Hashable, Decodable {
        /// The group's value (a model name, a team, a day…); `nil` for calls without one.
        public var value: String?
        /// The provider, when grouped by model.
        public var provider: String?
        /// The group's totals.
        public var totals: UsageTotals

        /// Decodes a group, whose value sits under the grouping's name.
        public init(from decoder: any Decoder) throws {
            let grouping = decoder.userInfo[Self.groupingKey] as? String ?? "none"
            let container = try decoder.container(keyedBy: NameKey.self)
            value = try container.decodeIfPresent(String.self, forKey: NameKey(grouping == "key" ? "key_id" : grouping))
            provider = try container.decodeIfPresent(String.self, forKey: NameKey("provider"))
            totals = try UsageTotals(from: decoder)
        }

        static let groupingKey = CodingUserInfoKey(rawValue: "meterr.grouping")!
    }

    /// The range covered (rounded out to whole hours).
    public var from: Timestamp
    /// The end of the range covered.
    public var to: Timestamp
    /// How the groups are formed.
    public var groupBy: SummaryGrouping
    /// The groups.
    public var groups: [Group]
    /// The totals over every group.
    public var totals: UsageTotals

    enum CodingKeys: String, CodingKey {
        case from, to, groups, totals
        case groupBy = "group_by"
    }

    /// Decodes a summary.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        from = try container.decode(Timestamp.self, forKey: .from)
        to = try container.decode(Timestamp.self, forKey: .to)
        let name = try container.decode(String.self, forKey: .groupBy)
        groupBy = SummaryGrouping(rawValue: name) ?? .none
        totals = try container.decode(UsageTotals.self, forKey: .totals)
        var list = try container.nestedUnkeyedContainer(forKey: .groups)
        var groups: [Group] = []
        while !list.isAtEnd {
            let member = try list.superDecoder()
            groups.append(try Group(from: GroupingDecoder(base: member, grouping: name)))
        }
        self.groups = groups
    }
}

/// A decoder that also carries the summary's grouping name to its groups.
private struct GroupingDecoder: Decoder {
    let base: any Decoder
    let grouping: String
    var codingPath: [any CodingKey] { base.codingPath }
    var userInfo: [CodingUserInfoKey: Any] {
        base.userInfo.merging([UsageSummary.Group.groupingKey: grouping]) { $1 }
    }
    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        try base.container(keyedBy: type)
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { try base.unkeyedContainer() }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { try base.singleValueContainer() }
}

/// A coding key made from a name at run time.
struct NameKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// A budget and where its current period stands.
public struct BudgetStatus: Sendable, Hashable, Decodable {
    /// The budget's id.
    public var id: String
    /// Its name.
    public var name: String
    /// What it covers: `org`, `team`, `user`, `project`, `key` or `tag`.
    public var scope: String
    /// The team, user, project, key or `key=value` tag it covers (`nil` for the organisation).
    public var value: String?
    /// `day`, `week`, `month` or `rolling`.
    public var period: String
    /// A rolling budget's window in hours (`nil` for calendar periods).
    public var windowHours: Int?
    /// The time zone its periods follow.
    public var timeZone: String
    /// The limit per period.
    public var limit: Money
    /// Whether calls that would cross it are refused.
    public var hard: Bool
    /// The percentages that raise alerts.
    public var thresholds: [Int]
    /// Spent this period.
    public var spent: Money
    /// Held for calls in progress.
    public var reserved: Money
    /// Spent, in percent of the limit.
    public var percentUsed: Int
    /// The spend the period is on course for; `nil` before there is a pace to go by.
    public var projected: Money?
    /// When the limit would be crossed at the current pace, if it would.
    public var projectedToExceedAt: Timestamp?
    /// When this period began.
    public var periodStart: Timestamp
    /// When the next period begins.
    public var resetsAt: Timestamp

    enum CodingKeys: String, CodingKey {
        case id, name, scope, value, period, hard, thresholds
        case timeZone = "time_zone"
        case windowHours = "window_hours"
        case limit = "limit_usd"
        case spent = "spent_usd"
        case reserved = "reserved_usd"
        case percentUsed = "percent_used"
        case projected = "projected_usd"
        case projectedToExceedAt = "projected_to_exceed_at"
        case periodStart = "period_start"
        case resetsAt = "resets_at"
    }
}

struct BudgetList: Decodable {
    var budgets: [BudgetStatus]
}

/// An alert meterr raised (a budget threshold crossed, an anomaly, say).
public struct Alert: Sendable, Hashable, Decodable {
    /// The alert's id.
    public var id: String
    /// What kind of alert: `budget.threshold`, `budget.forecast`, `budget.blocked`, `anomaly.spike`, ….
    public var kind: String
    /// What it is about (a budget id, say).
    public var subject: String
    /// `info`, `warning` or `critical`.
    public var severity: String
    /// A sentence for people.
    public var message: String
    /// When it was raised.
    public var createdAt: Timestamp
    /// When it was acknowledged, if it was.
    public var acknowledgedAt: Timestamp?
    /// Who acknowledged it.
    public var acknowledgedBy: String?

    enum CodingKeys: String, CodingKey {
        case id, kind, subject, severity, message
        case createdAt = "created_at"
        case acknowledgedAt = "acknowledged_at"
        case acknowledgedBy = "acknowledged_by"
    }
}

struct AlertList: Decodable {
    var alerts: [Alert]
}

/// A meterr key as the management API shows it.
public struct KeyInfo: Sendable, Hashable, Decodable {
    /// The key's id (`key_…`).
    public var id: String
    /// Its name.
    public var name: String
    /// The secret (`mk_…`): only in the answer that created or rotated it.
    public var key: String?
    /// The visible start of the secret.
    public var prefix: String
    /// What it may do: `gateway`, `ingest`, `read`, `admin`, …
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

    enum CodingKeys: String, CodingKey {
        case id, name, key, prefix, scopes, team, user, project, tier, rpm, tpm, status
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case lastUsedAt = "last_used_at"
        case revokedAt = "revoked_at"
    }
}

struct KeyList: Decodable {
    var keys: [KeyInfo]
}

/// What a new key may do and who it bills.
public struct NewKey: Sendable, Hashable, Encodable {
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
    /// Its rate-limit tier (`free`, `pro`, `enterprise`).
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
}
