/// `GET /api/routes`: the router's virtual models and `meterr/auto`'s tiers.
public struct RouteList: Sendable, Hashable, Codable {
    public var routes: [VirtualModelInfo]
    /// The virtual model each `meterr/auto` tier goes to (`simple`, `medium`, `complex`, `reasoning`).
    public var autoTiers: [String: String]?

    public init(routes: [VirtualModelInfo], autoTiers: [String: String]?) {
        self.routes = routes
        self.autoTiers = autoTiers
    }

    enum CodingKeys: String, CodingKey {
        case routes
        case autoTiers = "auto_tiers"
    }
}

/// A virtual model: callers name it (`fast`, `meterr/fast`), the router picks among its deployments.
public struct VirtualModelInfo: Sendable, Hashable, Codable {
    public var name: String
    public var policy: String
    public var deployments: [DeploymentInfo]
    /// `config` (the configuration file's `router:` section) or `api` (the organisation's own, which
    /// takes precedence over a configured one of the same name).
    public var source: String

    public init(name: String, policy: String, deployments: [DeploymentInfo], source: String) {
        self.name = name
        self.policy = policy
        self.deployments = deployments
        self.source = source
    }
}

/// One deployment of a virtual model.
public struct DeploymentInfo: Sendable, Hashable, Codable {
    public var id: String
    public var provider: String
    public var model: String
    public var weight: Int
    public var priority: Int
    public var region: String?
    /// `native` (translated to the provider's own API) or `compatible` (its OpenAI-compatible surface).
    public var surface: String

    public init(
        id: String, provider: String, model: String, weight: Int, priority: Int, region: String?, surface: String
    ) {
        self.id = id
        self.provider = provider
        self.model = model
        self.weight = weight
        self.priority = priority
        self.region = region
        self.surface = surface
    }
}

/// `POST /api/route/explain`: the decision a call would get, as a dry run.
public struct RouteExplanation: Sendable, Hashable, Codable {
    /// The model as the call named it.
    public var requested: String
    /// The virtual model that decides (for `meterr/auto`, its tier's).
    public var route: String
    public var policy: String
    /// `meterr/auto`'s tier, score and the signals that made it.
    public var tier: String?
    public var complexityScore: Double?
    public var signals: [String]
    /// The prompt's tokens, as the tokenizer counts them.
    public var inputTokens: Int
    /// Every deployment: the eligible first, in the order they would be tried.
    public var candidates: [RouteCandidateInfo]
    /// The first deployment that would be tried, if any.
    public var chosen: String?

    public init(
        requested: String, route: String, policy: String, tier: String?, complexityScore: Double?, signals: [String],
        inputTokens: Int, candidates: [RouteCandidateInfo], chosen: String?
    ) {
        self.requested = requested
        self.route = route
        self.policy = policy
        self.tier = tier
        self.complexityScore = complexityScore
        self.signals = signals
        self.inputTokens = inputTokens
        self.candidates = candidates
        self.chosen = chosen
    }

    enum CodingKeys: String, CodingKey {
        case requested, route, policy, tier, signals, candidates, chosen
        case complexityScore = "complexity_score"
        case inputTokens = "input_tokens"
    }
}

/// One deployment in a decision: why it cannot take the call, or what the call is expected to cost there.
public struct RouteCandidateInfo: Sendable, Hashable, Codable {
    public var deployment: String
    public var eligible: Bool
    public var excluded: String?
    public var expectedCostUSD: Money?
    public var expectedOutputTokens: Int
    public var ttftMs: Int?
    public var inFlight: Int

    public init(
        deployment: String, eligible: Bool, excluded: String?, expectedCostUSD: Money?, expectedOutputTokens: Int,
        ttftMs: Int?, inFlight: Int
    ) {
        self.deployment = deployment
        self.eligible = eligible
        self.excluded = excluded
        self.expectedCostUSD = expectedCostUSD
        self.expectedOutputTokens = expectedOutputTokens
        self.ttftMs = ttftMs
        self.inFlight = inFlight
    }

    enum CodingKeys: String, CodingKey {
        case deployment, eligible, excluded
        case expectedCostUSD = "expected_cost_usd"
        case expectedOutputTokens = "expected_output_tokens"
        case ttftMs = "ttft_ms"
        case inFlight = "in_flight"
    }
}

/// `GET /api/routes/health`: each deployment's breaker, and why it is out.
public struct RouteHealth: Sendable, Hashable, Codable {
    public var deployments: [DeploymentHealthInfo]

    public init(deployments: [DeploymentHealthInfo]) { self.deployments = deployments }
}

/// One deployment's health: its breaker (`closed`, `open` until a time, `half_open`), its last failure,
/// its counts, and capabilities its answers showed it lacks.
public struct DeploymentHealthInfo: Sendable, Hashable, Codable {
    public var id: String
    public var state: String
    public var openUntil: Timestamp?
    public var consecutiveFailures: Int
    public var lastFailure: String?
    public var lastFailureAt: Timestamp?
    public var calls: Int
    public var failures: Int
    public var inFlight: Int
    public var ttftMs: Int?
    public var lacks: [String]

    public init(
        id: String, state: String, openUntil: Timestamp?, consecutiveFailures: Int, lastFailure: String?,
        lastFailureAt: Timestamp?, calls: Int, failures: Int, inFlight: Int, ttftMs: Int?, lacks: [String]
    ) {
        self.id = id
        self.state = state
        self.openUntil = openUntil
        self.consecutiveFailures = consecutiveFailures
        self.lastFailure = lastFailure
        self.lastFailureAt = lastFailureAt
        self.calls = calls
        self.failures = failures
        self.inFlight = inFlight
        self.ttftMs = ttftMs
        self.lacks = lacks
    }

    enum CodingKeys: String, CodingKey {
        case id, state, calls, failures, lacks
        case openUntil = "open_until"
        case consecutiveFailures = "consecutive_failures"
        case lastFailure = "last_failure"
        case lastFailureAt = "last_failure_at"
        case inFlight = "in_flight"
        case ttftMs = "ttft_ms"
    }
}
