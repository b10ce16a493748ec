import MeterrCore

/// How often an alert kind may speak: a cool-down after an alert of a kind for a subject, during
/// which more of the same are not recorded (unless more severe), and an interval at which an alert
/// nobody has acknowledged is sent to the webhooks again.
public struct AlertRule: Sendable, Hashable {
    /// Minutes after an alert during which the same kind and subject stay quiet; 0: no cool-down.
    public var cooldownMinutes: Int
    /// Minutes after which an unacknowledged alert is sent again; 0: never.
    public var renotifyMinutes: Int

    /// Creates a rule.
    public init(cooldownMinutes: Int, renotifyMinutes: Int) {
        self.cooldownMinutes = cooldownMinutes
        self.renotifyMinutes = renotifyMinutes
    }
}

/// The thresholds of anomaly detection for one organisation.
public struct AnomalySettings: Sendable, Hashable {
    /// Whether anomalies are looked for at all.
    public var enabled = true
    /// The weight of the newest hour in the exponentially weighted baselines (0–1).
    public var alpha = 0.1
    /// How many standard deviations above the baseline an hour must be to count as a spike.
    public var sigma = 3.0
    /// Hours of baseline an entity needs before any spike is reported.
    public var minBaselineHours = 24
    /// Hours of baseline an entity needs before anomaly detection may block or rate-limit it.
    public var warmupHours = 72
    /// Multiples of the baseline: log, alert, block for a while (and open an investigation), block
    /// until lifted (and escalate).
    public var logMultiple = 2.0
    public var alertMultiple = 3.0
    public var blockMultiple = 5.0
    public var escalateMultiple = 10.0
    /// A request rate this many times the hourly baseline is rate-limited for the rest of the hour.
    public var rateMultiple = 5.0
    /// How long a block at `blockMultiple` lasts.
    public var blockMinutes = 60
    /// Hours smaller than these never count as spikes, whatever the baseline (quiet entities).
    public var minHourlyCost = Money(nanos: 100_000_000)
    public var minHourlyTokens = 10_000
    public var minHourlyRequests = 20
    /// Whether a key's first call to a model raises a review alert.
    public var newModelAlerts = true

    /// The defaults.
    public init() {}
}

/// What the gateway does with a call whose model has no price (unpriced is not free).
public enum UnpricedPolicy: Sendable, Hashable {
    /// Refused when a hard budget covers the call, since that budget cannot bound what it cannot price;
    /// let through unpriced otherwise.
    case refuse
    /// Priced as `model` (a catalog name), or with none named as the provider's most expensive model;
    /// the event's `price_id` says so.
    case fallback(model: String?)
    /// Let through unpriced, chosen knowingly: its cost stays unknown and no budget counts it.
    case allow

    /// `refuse`, `fallback` or `allow`.
    public var name: String {
        switch self {
        case .refuse: "refuse"
        case .fallback: "fallback"
        case .allow: "allow"
        }
    }

    /// The fallback model named, if any.
    public var fallbackModel: String? {
        if case .fallback(let model) = self { return model }
        return nil
    }

    /// Reads a policy name and its fallback model (which only `fallback` takes).
    public init(name: String, fallbackModel: String?) throws(MeterrError) {
        switch name {
        case "refuse": self = .refuse
        case "allow": self = .allow
        case "fallback": self = .fallback(model: fallbackModel)
        default: throw MeterrError.invalid("unpriced_policy", "must be refuse, fallback or allow (got \(name))")
        }
        if fallbackModel != nil, name != "fallback" {
            throw MeterrError.invalid("unpriced_fallback_model", "goes with unpriced_policy fallback")
        }
    }
}

/// An organisation's alerting, anomaly and unpriced-call policy (`GET`/`PUT /api/policy`).
public struct OrgPolicy: Sendable, Hashable {
    /// Rules per alert kind; kinds without one are neither cooled down nor re-sent.
    public var alertRules: [String: AlertRule]
    public var anomalies: AnomalySettings
    /// What to do with calls whose model has no price; `nil`: the server's `unpriced_policy`.
    public var unpriced: UnpricedPolicy?
    /// Whether a call may name a team nobody created (`unknown_team`: `accept`, the default, or `refuse`).
    public var refuseUnknownTeams = false
    /// Days raw events are kept (rollups and budget history are kept regardless); `nil`: the server's
    /// `event_retention_days`, or for ever.
    public var eventRetentionDays: Int?
    /// The time zone its days and months are counted in (`time_zone`, an IANA name; UTC by default):
    /// the dashboard's today and this month, its charts' days, date ranges and chargeback months.
    public var calendar = LocalCalendar.utc

    /// The defaults: blocks are re-sent until acknowledged, anomaly spikes cool down for an hour.
    public static let defaults = OrgPolicy(
        alertRules: [
            "budget.threshold": AlertRule(cooldownMinutes: 0, renotifyMinutes: 0),
            "budget.forecast": AlertRule(cooldownMinutes: 0, renotifyMinutes: 0),
            "budget.blocked": AlertRule(cooldownMinutes: 0, renotifyMinutes: 240),
            "anomaly.spike": AlertRule(cooldownMinutes: 60, renotifyMinutes: 0),
            "anomaly.rate": AlertRule(cooldownMinutes: 60, renotifyMinutes: 0),
            "anomaly.block": AlertRule(cooldownMinutes: 0, renotifyMinutes: 60),
            "anomaly.escalation": AlertRule(cooldownMinutes: 0, renotifyMinutes: 60),
            "anomaly.new_model": AlertRule(cooldownMinutes: 0, renotifyMinutes: 0),
        ], anomalies: AnomalySettings())

    /// Creates a policy.
    public init(alertRules: [String: AlertRule], anomalies: AnomalySettings, unpriced: UnpricedPolicy? = nil) {
        self.alertRules = alertRules
        self.anomalies = anomalies
        self.unpriced = unpriced
    }

    /// The rule for an alert kind (no cool-down, no re-sending when it has none).
    public func rule(for kind: String) -> AlertRule {
        alertRules[kind] ?? AlertRule(cooldownMinutes: 0, renotifyMinutes: 0)
    }

    /// The policy as JSON: `{"alerts": {kind: {cooldown_minutes, renotify_minutes}}, "anomalies": {…},
    /// "unpriced_policy": …, "unpriced_fallback_model": …}`.
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.string("unpriced_policy", unpriced?.name)
        json.string("unpriced_fallback_model", unpriced?.fallbackModel)
        json.int("event_retention_days", eventRetentionDays)
        json.string("unknown_team", refuseUnknownTeams ? "refuse" : "accept")
        json.string("time_zone", calendar.identifier)
        json.beginObject("alerts")
        for (kind, rule) in alertRules.sorted(by: { $0.key < $1.key }) {
            json.beginObject(kind)
            json.int("cooldown_minutes", rule.cooldownMinutes)
            json.int("renotify_minutes", rule.renotifyMinutes)
            json.endObject()
        }
        json.endObject()
        let settings = anomalies
        json.beginObject("anomalies")
        json.bool("enabled", settings.enabled)
        json.raw("alpha", Array("\(settings.alpha)".utf8))
        json.raw("sigma", Array("\(settings.sigma)".utf8))
        json.int("min_baseline_hours", settings.minBaselineHours)
        json.int("warmup_hours", settings.warmupHours)
        json.raw("log_multiple", Array("\(settings.logMultiple)".utf8))
        json.raw("alert_multiple", Array("\(settings.alertMultiple)".utf8))
        json.raw("block_multiple", Array("\(settings.blockMultiple)".utf8))
        json.raw("escalate_multiple", Array("\(settings.escalateMultiple)".utf8))
        json.raw("rate_multiple", Array("\(settings.rateMultiple)".utf8))
        json.int("block_minutes", settings.blockMinutes)
        json.string("min_hourly_cost_usd", settings.minHourlyCost.decimalString)
        json.int("min_hourly_tokens", settings.minHourlyTokens)
        json.int("min_hourly_requests", settings.minHourlyRequests)
        json.bool("new_model_alerts", settings.newModelAlerts)
        json.endObject()
        json.endObject()
    }

    /// This policy with the members of `update` laid over it (a partial policy in the JSON form);
    /// a bad member throws, naming it.
    public func merging(_ update: JSONValue) throws(MeterrError) -> OrgPolicy {
        guard case .object(let members) = update else { throw MeterrError.invalid("body", "must be a JSON object") }
        var policy = self
        let sections: Set = [
            "alerts", "anomalies", "unpriced_policy", "unpriced_fallback_model", "event_retention_days", "unknown_team",
            "time_zone",
        ]
        for key in members.keys where !sections.contains(key) {
            throw MeterrError.invalid(key, "is not a policy section (\(sections.sorted().joined(separator: ", ")))")
        }
        if members["unpriced_policy"] != nil || members["unpriced_fallback_model"] != nil {
            func text(_ key: String) throws(MeterrError) -> String? {
                switch members[key] {
                case .none, .null?: return nil
                case .string(let value)?: return value
                default: throw MeterrError.invalid(key, "must be a string or null")
                }
            }
            let model = try text("unpriced_fallback_model")
            if let name = try text("unpriced_policy") {
                policy.unpriced = try UnpricedPolicy(name: name, fallbackModel: model)
            } else if members["unpriced_policy"] != nil {
                // null: back to the server's default.
                guard model == nil else {
                    throw MeterrError.invalid("unpriced_fallback_model", "goes with unpriced_policy fallback")
                }
                policy.unpriced = nil
            } else {
                guard case .fallback = policy.unpriced else {
                    throw MeterrError.invalid("unpriced_fallback_model", "goes with unpriced_policy fallback")
                }
                policy.unpriced = .fallback(model: model)
            }
        }
        switch members["unknown_team"] {
        case .none: break
        case .string("accept")?: policy.refuseUnknownTeams = false
        case .string("refuse")?: policy.refuseUnknownTeams = true
        default: throw MeterrError.invalid("unknown_team", "must be accept or refuse")
        }
        switch members["time_zone"] {
        case .none: break
        case .null?: policy.calendar = .utc
        case .string(let name)?:
            guard let calendar = LocalCalendar(identifier: name) else {
                throw MeterrError.invalid("time_zone", "is not an IANA time zone such as Europe/Berlin (got \(name))")
            }
            policy.calendar = calendar
        default: throw MeterrError.invalid("time_zone", "must be an IANA time zone such as Europe/Berlin, or null")
        }
        switch members["event_retention_days"] {
        case .none: break
        case .null?: policy.eventRetentionDays = nil
        case let value?:
            guard let days = value.int, (1...36_500).contains(days) else {
                throw MeterrError.invalid("event_retention_days", "must be whole days (1–36500) or null")
            }
            policy.eventRetentionDays = days
        }
        if let alerts = members["alerts"] {
            guard case .object(let kinds) = alerts else { throw MeterrError.invalid("alerts", "must be an object") }
            for (kind, value) in kinds {
                guard Self.defaults.alertRules[kind] != nil else {
                    throw MeterrError.invalid(
                        "alerts.\(kind)",
                        "is not an alert kind (\(Self.defaults.alertRules.keys.sorted().joined(separator: ", ")))")
                }
                var rule = policy.rule(for: kind)
                guard case .object(let fields) = value else {
                    throw MeterrError.invalid("alerts.\(kind)", "must be an object")
                }
                for (field, number) in fields {
                    guard let minutes = number.int, (0...525_600).contains(minutes) else {
                        throw MeterrError.invalid("alerts.\(kind).\(field)", "must be whole minutes (0–525600)")
                    }
                    switch field {
                    case "cooldown_minutes": rule.cooldownMinutes = minutes
                    case "renotify_minutes": rule.renotifyMinutes = minutes
                    default:
                        throw MeterrError.invalid(
                            "alerts.\(kind).\(field)", "is not a rule field (cooldown_minutes, renotify_minutes)")
                    }
                }
                policy.alertRules[kind] = rule
            }
        }
        if let anomalies = members["anomalies"] {
            guard case .object(let fields) = anomalies else {
                throw MeterrError.invalid("anomalies", "must be an object")
            }
            for (field, value) in fields { try policy.anomalies.set(field, value) }
            let settings = policy.anomalies
            guard
                settings.logMultiple <= settings.alertMultiple && settings.alertMultiple <= settings.blockMultiple
                    && settings.blockMultiple <= settings.escalateMultiple
            else {
                throw MeterrError.invalid(
                    "anomalies", "multiples must rise: log ≤ alert ≤ block ≤ escalate")
            }
        }
        return policy
    }
}

extension AnomalySettings {
    mutating func set(_ field: String, _ value: JSONValue) throws(MeterrError) {
        let name = "anomalies.\(field)"
        func number(_ range: ClosedRange<Double>) throws(MeterrError) -> Double {
            guard case .number(let text) = value, let number = Double(text), range.contains(number) else {
                throw MeterrError.invalid(name, "must be a number from \(range.lowerBound) to \(range.upperBound)")
            }
            return number
        }
        func whole(_ range: ClosedRange<Int>) throws(MeterrError) -> Int {
            guard let number = value.int, range.contains(number) else {
                throw MeterrError.invalid(
                    name, "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return number
        }
        func flag() throws(MeterrError) -> Bool {
            guard case .bool(let flag) = value else { throw MeterrError.invalid(name, "must be true or false") }
            return flag
        }
        switch field {
        case "enabled": enabled = try flag()
        case "alpha": alpha = try number(0.001...1)
        case "sigma": sigma = try number(0...100)
        case "min_baseline_hours": minBaselineHours = try whole(0...8_784)
        case "warmup_hours": warmupHours = try whole(0...8_784)
        case "log_multiple": logMultiple = try number(1...1000)
        case "alert_multiple": alertMultiple = try number(1...1000)
        case "block_multiple": blockMultiple = try number(1...1000)
        case "escalate_multiple": escalateMultiple = try number(1...1000)
        case "rate_multiple": rateMultiple = try number(1...1000)
        case "block_minutes": blockMinutes = try whole(1...525_600)
        case "min_hourly_cost_usd":
            let text: String? =
                switch value {
                case .string(let text), .number(let text): text
                default: nil
                }
            guard let text, let money = Money(decimalString: text), money.nanos >= 0 else {
                throw MeterrError.invalid(name, "must be an amount such as \"0.10\"")
            }
            minHourlyCost = money
        case "min_hourly_tokens": minHourlyTokens = try whole(0...Int(Int32.max))
        case "min_hourly_requests": minHourlyRequests = try whole(0...Int(Int32.max))
        case "new_model_alerts": newModelAlerts = try flag()
        default: throw MeterrError.invalid(name, "is not an anomaly setting")
        }
    }
}

/// A block placed by anomaly detection on an organisation, team, user or key: calls from it are
/// refused until `until` (or until lifted, when `until` is `nil`). Each block is an open
/// investigation until it is lifted or runs out.
public struct AnomalyBlock: Sendable, Hashable {
    public var id: String
    public var orgId: String
    /// `org`, `team:<name>`, `user:<name>` or `key:<id>`.
    public var entity: String
    /// `block` (for a while) or `escalation` (until lifted).
    public var level: String
    public var reason: String
    public var createdAt: Timestamp
    public var until: Timestamp?
    public var liftedAt: Timestamp?
    public var liftedBy: String?

    /// Creates a block.
    public init(
        id: String, orgId: String, entity: String, level: String, reason: String, createdAt: Timestamp,
        until: Timestamp?, liftedAt: Timestamp? = nil, liftedBy: String? = nil
    ) {
        self.id = id
        self.orgId = orgId
        self.entity = entity
        self.level = level
        self.reason = reason
        self.createdAt = createdAt
        self.until = until
        self.liftedAt = liftedAt
        self.liftedBy = liftedBy
    }

    /// Whether the block holds at `time`.
    public func isActive(at time: Timestamp) -> Bool { liftedAt == nil && (until.map { time < $0 } ?? true) }
}

/// What anomaly detection watches: the organisation, a team, a user or a key, named as blocks,
/// baselines and alert subjects name them (`org`, `team:ml`, `user:ana`, `key:key_…`).
public enum AnomalyEntity {
    public static let organisation = "org"

    public static func team(_ name: String) -> String { "team:" + name }

    public static func user(_ name: String) -> String { "user:" + name }

    public static func key(_ id: String) -> String { "key:" + id }

    /// The entities a call counts for.
    public static func of(team: String?, user: String?, keyId: String?) -> [String] {
        var entities = [organisation]
        if let team { entities.append(self.team(team)) }
        if let user { entities.append(self.user(user)) }
        if let keyId { entities.append(key(keyId)) }
        return entities
    }
}

extension AnomalyEntity {
    /// The rollup dimensions whose hourly totals anomaly detection learns from, each with the entity
    /// name of a value.
    package static let hourlyDimensions: [(RollupDimension, @Sendable (String) -> String)] = [
        (.all, { _ in organisation }), (.team, team), (.user, user), (.key, key),
    ]
}

/// One hour of an entity's usage, from the hourly rollups.
public struct HourlyTotals: Sendable, Hashable {
    /// `org`, `team:<name>`, `user:<name>` or `key:<id>`.
    public var entity: String
    public var hour: Timestamp
    public var requests: Int64
    public var tokens: Int64
    public var costNanos: Int64

    /// Creates one hour's totals.
    public init(entity: String, hour: Timestamp, requests: Int64, tokens: Int64, costNanos: Int64) {
        self.entity = entity
        self.hour = hour
        self.requests = requests
        self.tokens = tokens
        self.costNanos = costNanos
    }
}

/// Policies, anomaly blocks and what anomaly detection learns from the ledger.
public protocol PolicyStore: Sendable {
    /// An organisation's policy (the defaults until one is saved).
    func policy(org: String) async throws -> OrgPolicy
    func setPolicy(org: String, _ policy: OrgPolicy, actor: String) async throws
    func recordBlock(_ block: AnomalyBlock) async throws
    /// Lifts a block of `org`; `nil` if it has none with that id.
    func liftBlock(org: String, id: String, at: Timestamp, actor: String) async throws -> AnomalyBlock?
    /// An organisation's blocks, newest first.
    func blocks(org: String, limit: Int) async throws -> [AnomalyBlock]
    /// Every block not lifted (expired ones included; callers check the time).
    func unliftedBlocks() async throws -> [AnomalyBlock]
    /// Folds the hourly totals of the organisation, its teams, users and keys since `from` into `state`,
    /// each entity's hours oldest first, without holding them all: a large organisation has hundreds of
    /// thousands.
    func foldHourlyTotals<State: Sendable>(
        org: String, from: Timestamp, into state: State,
        _ fold: @escaping @Sendable (inout State, HourlyTotals) -> Void
    ) async throws -> State
    /// The models (`provider/model`) each key of `org` has called.
    func keyModels(org: String) async throws -> [String: Set<String>]
    /// Remembers that a key called a model.
    func recordKeyModel(org: String, keyId: String, model: String, at: Timestamp) async throws
}

extension OrgPolicy {
    /// A policy as a database stores it: its JSON text.
    public var storedText: String {
        var json = JSONWriter()
        write(to: &json)
        return String(decoding: json.bytes, as: UTF8.self)
    }

    /// A stored policy, or the defaults when there is none (or it cannot be read). Saved policies are
    /// whole, so new defaults only fill what an older save did not name.
    public init(storedText text: String?) {
        guard let text, let saved = JSONValue(parsing: Array(text.utf8)) else {
            self = .defaults
            return
        }
        self = (try? OrgPolicy.defaults.merging(saved)) ?? .defaults
    }
}
