import MeterrCore

/// One place a call can be sent: a provider's model (with an optional region label, for two
/// deployments of one model), and its weight and priority in its virtual model.
public struct Deployment: Sendable, Hashable {
    public let provider: Provider
    public let model: String
    /// The share of calls it gets under the `weighted` policy.
    public var weight: Int
    /// Lower goes first under the `priority` policy.
    public var priority: Int
    public let region: String?
    /// Whether calls go to the provider's OpenAI-compatible surface instead of being translated to its
    /// native API (`surface: compatible`).
    public var compatibleSurface: Bool
    /// Its own upstream (another region's endpoint, say) instead of the provider's configured one.
    public var baseURL: String?
    /// The environment variable that holds its own provider key (the configuration file names the
    /// variable, never the key).
    public var keyVariable: String?
    /// `anthropic/claude-haiku-4-5`, or `…@eu` with a region: the name its breaker and history go by.
    public let id: String

    public init(
        provider: Provider, model: String, weight: Int = 1, priority: Int = 0, region: String? = nil,
        compatibleSurface: Bool = false, baseURL: String? = nil, keyVariable: String? = nil
    ) {
        self.provider = provider
        self.model = model
        self.weight = weight
        self.priority = priority
        self.region = region
        self.compatibleSurface = compatibleSurface
        self.baseURL = baseURL
        self.keyVariable = keyVariable
        id = "\(provider.rawValue)/\(model)" + (region.map { "@\($0)" } ?? "")
    }
}

/// How a virtual model orders its deployments.
public enum RoutePolicy: String, Sendable, CaseIterable {
    /// The lowest expected cost of this very call first.
    case cheapest
    /// By `priority`, then as listed.
    case priority
    /// At random, in proportion to `weight`.
    case weighted
    /// The fewest calls in flight first.
    case leastBusy = "least_busy"
    /// The lowest time to first token (a moving average per deployment) first.
    case lowestLatency = "lowest_latency"
}

/// A model name callers use (`fast`, `meterr/fast`) that stands for several deployments.
public struct VirtualModel: Sendable, Hashable {
    public var name: String
    public var policy: RoutePolicy
    public var deployments: [Deployment]

    public init(name: String, policy: RoutePolicy, deployments: [Deployment]) {
        self.name = name
        self.policy = policy
        self.deployments = deployments
    }
}

/// The virtual models `meterr/auto` chooses among, by how demanding the call looks.
public struct AutoTiers: Sendable, Hashable {
    public var simple: String
    public var medium: String
    public var complex: String
    public var reasoning: String

    public init(simple: String, medium: String, complex: String, reasoning: String) {
        self.simple = simple
        self.medium = medium
        self.complex = complex
        self.reasoning = reasoning
    }

    public func model(for tier: Complexity.Tier) -> String {
        switch tier {
        case .simple: simple
        case .medium: medium
        case .complex: complex
        case .reasoning: reasoning
        }
    }
}

/// The router's configuration: the virtual models, `meterr/auto`'s tiers, and how failures are handled.
public struct RouteTable: Sendable, Hashable {
    public var models: [String: VirtualModel]
    public var auto: AutoTiers?
    /// The most attempts one call makes, the first included.
    public var maxAttempts: Int
    /// The longest one call may take over all its attempts (and the waits between them).
    public var deadline: Duration
    /// The first wait between attempts; it doubles (with jitter) up to `maxBackoff`.
    public var backoff: Duration
    public var maxBackoff: Duration
    /// Consecutive failures that open a deployment's breaker.
    public var breakerFailures: Int
    /// How long an open breaker keeps its deployment out before one probe call is let through.
    public var breakerCoolDown: Duration

    public init(
        models: [String: VirtualModel] = [:], auto: AutoTiers? = nil, maxAttempts: Int = 3,
        deadline: Duration = .seconds(60), backoff: Duration = .milliseconds(100), maxBackoff: Duration = .seconds(2),
        breakerFailures: Int = 3, breakerCoolDown: Duration = .seconds(30)
    ) {
        self.models = models
        self.auto = auto
        self.maxAttempts = maxAttempts
        self.deadline = deadline
        self.backoff = backoff
        self.maxBackoff = maxBackoff
        self.breakerFailures = breakerFailures
        self.breakerCoolDown = breakerCoolDown
    }

    /// The name `meterr/auto` goes by.
    public static let autoName = "auto"

    /// The virtual model a call's model names (`fast` or `meterr/fast`; `meterr/auto` when tiers are
    /// configured), if any.
    public func routeName(_ model: String) -> String? {
        routeName(model) { models[$0] != nil }
    }

    /// The virtual model a call's model names, given which names are virtual models.
    func routeName(_ model: String, isVirtual: (String) -> Bool) -> String? {
        let name = model.hasPrefix("meterr/") ? String(model.dropFirst(7)) : model
        if name == Self.autoName { return auto == nil ? nil : name }
        return isVirtual(name) ? name : nil
    }
}

extension RouteTable {
    /// Reads the `router:` section of the configuration file (already parsed YAML).
    public init(yaml value: Any, source: String) throws(MeterrError) {
        self.init()
        guard let map = value as? [String: Any] else { throw Self.invalid(source, "must be a mapping") }
        for (key, item) in map {
            switch key {
            case "models":
                guard let models = item as? [String: Any] else {
                    throw Self.invalid(source, "models must map virtual model names to their deployments")
                }
                for (name, spec) in models {
                    self.models[name] = try Self.virtualModel(name, spec, source: "\(source).models.\(name)")
                }
            case "auto":
                guard let tiers = item as? [String: Any] else {
                    throw Self.invalid(source, "auto must map simple, medium, complex and reasoning to virtual models")
                }
                func tier(_ name: String) throws(MeterrError) -> String {
                    guard let value = tiers[name].map({ "\($0)" }) else {
                        throw Self.invalid(source, "auto needs \(name): a virtual model")
                    }
                    return value
                }
                auto = AutoTiers(
                    simple: try tier("simple"), medium: try tier("medium"), complex: try tier("complex"),
                    reasoning: try tier("reasoning"))
            case "max_attempts": maxAttempts = try Self.count(item, key, source, minimum: 1)
            case "deadline_seconds": deadline = .seconds(try Self.count(item, key, source, minimum: 1))
            case "backoff_ms": backoff = .milliseconds(try Self.count(item, key, source, minimum: 0))
            case "max_backoff_ms": maxBackoff = .milliseconds(try Self.count(item, key, source, minimum: 0))
            case "breaker_failures": breakerFailures = try Self.count(item, key, source, minimum: 1)
            case "breaker_cooldown_seconds": breakerCoolDown = .seconds(try Self.count(item, key, source, minimum: 1))
            default:
                throw Self.invalid(
                    source,
                    "unknown setting \(key) (models, auto, max_attempts, deadline_seconds, backoff_ms, max_backoff_ms, "
                        + "breaker_failures, breaker_cooldown_seconds)")
            }
        }
        try validate(source: source)
    }

    /// Checks that names resolve: every auto tier names a virtual model.
    public func validate(source: String) throws(MeterrError) {
        if let auto {
            for name in [auto.simple, auto.medium, auto.complex, auto.reasoning] where models[name] == nil {
                throw Self.invalid(source, "auto names \(name), which is not one of models")
            }
        }
        if models[Self.autoName] != nil {
            throw Self.invalid(source, "\(Self.autoName) is meterr/auto's own name: configure it under auto")
        }
    }

    /// Reads one virtual model's definition: `{policy, deployments: ["provider/model" or {model, weight,
    /// priority, region}]}`, from YAML or JSON (already parsed).
    public static func virtualModel(_ name: String, _ spec: Any, source: String) throws(MeterrError) -> VirtualModel {
        guard let map = spec as? [String: Any], let list = map["deployments"] as? [Any], !list.isEmpty else {
            throw invalid(source, "needs deployments: a list of provider/model names")
        }
        var policy = RoutePolicy.cheapest
        if let text = map["policy"].map({ "\($0)" }) {
            guard let given = RoutePolicy(rawValue: text) else {
                throw invalid(
                    source,
                    "policy \(text) is not one of \(RoutePolicy.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            policy = given
        }
        for key in map.keys where key != "deployments" && key != "policy" {
            throw invalid(source, "unknown setting \(key) (policy, deployments)")
        }
        var deployments: [Deployment] = []
        for (index, item) in list.enumerated() {
            let at = "\(source).deployments[\(index)]"
            let fields = item as? [String: Any] ?? ["model": item]
            guard let full = fields["model"].map({ "\($0)" }), let slash = full.firstIndex(of: "/"),
                let provider = Provider(rawValue: String(full[..<slash]))
            else {
                throw invalid(at, "must name provider/model (openai/gpt-4.1-mini, anthropic/claude-haiku-4-5, …)")
            }
            var weight = 1
            var priority = 0
            var region: String?
            var compatible = false
            var baseURL: String?
            var keyVariable: String?
            for (key, value) in fields {
                switch key {
                case "model": break
                case "weight": weight = try count(value, key, at, minimum: 0)
                case "priority": priority = try count(value, key, at, minimum: 0)
                case "region": region = "\(value)"
                case "base_url": baseURL = "\(value)"
                case "key_env": keyVariable = "\(value)"
                case "surface":
                    switch "\(value)" {
                    case "native": compatible = false
                    case "compatible": compatible = true
                    default: throw invalid(at, "surface must be native or compatible")
                    }
                default:
                    throw invalid(
                        at, "unknown setting \(key) (model, weight, priority, region, surface, base_url, key_env)")
                }
            }
            var deployment = Deployment(
                provider: provider, model: String(full[full.index(after: slash)...]), weight: weight,
                priority: priority, region: region, compatibleSurface: compatible)
            deployment.baseURL = baseURL
            deployment.keyVariable = keyVariable
            if deployments.contains(where: { $0.id == deployment.id }) {
                throw invalid(at, "\(deployment.id) is listed twice: give one a region to tell them apart")
            }
            deployments.append(deployment)
        }
        return VirtualModel(name: name, policy: policy, deployments: deployments)
    }

    static func count(_ value: Any, _ key: String, _ source: String, minimum: Int) throws(MeterrError) -> Int {
        guard let number = Int("\(value)"), number >= minimum else {
            throw invalid(source, "\(key) must be a whole number of at least \(minimum)")
        }
        return number
    }

    static func invalid(_ source: String, _ message: String) -> MeterrError {
        MeterrError(.configuration, "\(source): \(message)")
    }
}
