import MeterrCore

/// The configuration file's `response_cache:` section: where answers are kept, how much room they
/// may take, and which calls are cached (none unless a rule or the call itself turns it on).
public struct ResponseCacheSettings: Sendable {
    /// Where answers are kept.
    public enum Storage: String, Sendable {
        /// A SQLite file beside the ledger (`response-cache.sqlite`): survives restarts.
        case database
        /// In memory: for small deployments; empty after a restart.
        case memory
    }

    /// Which calls a rule turns the cache on for: each list that is given must name the call's
    /// organisation, team, key or model (the model as the call names it: `gpt-4.1-mini`,
    /// `anthropic/claude-haiku-4-5`, a virtual model `meterr/support`); a rule with no lists matches
    /// every call.
    public struct Rule: Sendable, Hashable {
        public var orgs: [String] = []
        public var teams: [String] = []
        public var keys: [String] = []
        public var models: [String] = []
        /// How long answers stored under this rule are served.
        public var ttl: Duration?

        public init(
            orgs: [String] = [], teams: [String] = [], keys: [String] = [], models: [String] = [], ttl: Duration? = nil
        ) {
            self.orgs = orgs
            self.teams = teams
            self.keys = keys
            self.models = models
            self.ttl = ttl
        }

        func matches(org: String, team: String?, key: String, model: String?) -> Bool {
            func given(_ list: [String], _ value: String?) -> Bool {
                list.isEmpty || value.map(list.contains) == true
            }
            // A virtual model is named with or without `meterr/`.
            func bare(_ name: String) -> String { name.hasPrefix("meterr/") ? String(name.dropFirst(7)) : name }
            return given(orgs, org) && given(teams, team) && given(keys, key)
                && given(models.map(bare), model.map(bare))
        }
    }

    public var storage = Storage.database
    /// The most the cache holds; least recently used answers go first.
    public var maxBytes = 256 << 20
    /// How long an answer is served when neither its rule nor the call says.
    public var ttl: Duration = .seconds(3600)
    public var rules: [Rule] = []

    public init() {}

    /// The longest time-to-live a call may ask for (`x-meterr-cache-ttl`).
    static let maxTTLSeconds = 30 * 86_400

    /// The first rule that covers a call.
    func rule(org: String, team: String?, key: String, model: String?) -> Rule? {
        rules.first { $0.matches(org: org, team: team, key: key, model: model) }
    }
}

extension ResponseCacheSettings {
    /// Reads the section (already parsed YAML).
    init(yaml value: Any, source: String) throws(MeterrError) {
        self.init()
        guard let map = value as? [String: Any] else { throw Self.invalid(source, "must be a mapping") }
        for (key, item) in map {
            switch key {
            case "storage":
                guard let storage = Storage(rawValue: "\(item)") else {
                    throw Self.invalid(source, "storage must be database or memory")
                }
                self.storage = storage
            case "max_size_mb":
                guard let size = Int("\(item)"), size >= 1, size <= 1 << 20 else {
                    throw Self.invalid(source, "max_size_mb must be a whole number of megabytes, 1 or more")
                }
                maxBytes = size << 20
            case "ttl_seconds": ttl = .seconds(try Self.seconds(item, "ttl_seconds", source))
            case "rules":
                guard let list = item as? [Any] else { throw Self.invalid(source, "rules must be a list") }
                for (index, entry) in list.enumerated() {
                    rules.append(try Self.rule(entry, source: "\(source).rules[\(index)]"))
                }
            default:
                throw Self.invalid(source, "unknown setting \(key) (storage, max_size_mb, ttl_seconds, rules)")
            }
        }
    }

    static func rule(_ value: Any, source: String) throws(MeterrError) -> Rule {
        guard let map = value as? [String: Any] else {
            throw invalid(source, "must be a mapping of orgs, teams, keys, models and ttl_seconds")
        }
        var rule = Rule()
        for (key, item) in map {
            let list = (item as? [Any])?.map { "\($0)" } ?? ["\(item)"]
            switch key {
            case "orgs": rule.orgs = list
            case "teams": rule.teams = list
            case "keys": rule.keys = list
            case "models": rule.models = list
            case "ttl_seconds": rule.ttl = .seconds(try seconds(item, key, source))
            default: throw invalid(source, "unknown setting \(key) (orgs, teams, keys, models, ttl_seconds)")
            }
        }
        return rule
    }

    static func seconds(_ value: Any, _ key: String, _ source: String) throws(MeterrError) -> Int {
        guard let seconds = Int("\(value)"), seconds >= 1, seconds <= maxTTLSeconds else {
            throw invalid(source, "\(key) must be a number of seconds from 1 to \(maxTTLSeconds)")
        }
        return seconds
    }

    static func invalid(_ source: String, _ message: String) -> MeterrError {
        MeterrError(.configuration, "\(source): \(message)")
    }
}
