import MeterrCore
import Synchronization

/// What a call needs of a deployment, read from the call before it is routed.
public struct RouteNeeds: Sendable, Hashable {
    /// The prompt's tokens (counted with the tokenizer).
    public var inputTokens: Int
    /// The output limit the call sets, if any.
    public var maxOutputTokens: Int?
    public var tools: Bool
    public var vision: Bool
    public var jsonSchema: Bool
    /// The last user message's text, for `meterr/auto`'s complexity reading.
    public var lastUserText: String

    public init(
        inputTokens: Int, maxOutputTokens: Int? = nil, tools: Bool = false, vision: Bool = false,
        jsonSchema: Bool = false, lastUserText: String = ""
    ) {
        self.inputTokens = inputTokens
        self.maxOutputTokens = maxOutputTokens
        self.tools = tools
        self.vision = vision
        self.jsonSchema = jsonSchema
        self.lastUserText = lastUserText
    }
}

/// What the price catalog knows of a deployment's model; `nil` fields are unknown, and a call that
/// needs an unknown capability does not go there.
public struct DeploymentFacts: Sendable, Hashable {
    public var maxInputTokens: Int?
    public var maxOutputTokens: Int?
    public var tools: Bool?
    public var vision: Bool?
    public var jsonSchema: Bool?

    public init(
        maxInputTokens: Int? = nil, maxOutputTokens: Int? = nil, tools: Bool? = nil, vision: Bool? = nil,
        jsonSchema: Bool? = nil
    ) {
        self.maxInputTokens = maxInputTokens
        self.maxOutputTokens = maxOutputTokens
        self.tools = tools
        self.vision = vision
        self.jsonSchema = jsonSchema
    }
}

/// One deployment as a decision saw it: why it was left out, or what it was expected to cost.
public struct RouteCandidate: Sendable, Hashable {
    public var deployment: Deployment
    /// Why it cannot take this call (a capability, its context window, no price, an open breaker).
    public var excluded: String?
    /// This call's expected cost there: its exact prompt tokens, the output its recent calls produced.
    public var expectedCost: Money?
    public var expectedOutputTokens: Int
    /// Its moving average time to first token, once it has served.
    public var timeToFirstTokenMs: Int?
    public var inFlight: Int

    public var eligible: Bool { excluded == nil }
}

/// A routing decision: the virtual model, the tier `meterr/auto` chose, and every candidate, the
/// eligible ones first in the order they will be tried.
public struct RouteDecision: Sendable, Hashable {
    /// The virtual model that served (`fast`; for `meterr/auto`, the tier's model).
    public var route: String
    /// The model as the call named it (`meterr/auto`, `fast`).
    public var requested: String
    public var policy: RoutePolicy
    public var complexity: Complexity.Reading?
    public var candidates: [RouteCandidate]

    /// The deployments to try, in order.
    public var order: [Deployment] { candidates.filter(\.eligible).map(\.deployment) }
}

/// A deployment's health, as `GET /api/routes/health` shows it.
public struct DeploymentHealth: Sendable, Hashable {
    public enum State: String, Sendable {
        case closed, open
        /// Its cool-down is over: the next call is a probe.
        case halfOpen = "half_open"
    }

    public var id: String
    public var state: State
    /// Until when an open breaker keeps it out.
    public var openUntil: Timestamp?
    public var consecutiveFailures: Int
    public var lastFailure: String?
    public var lastFailureAt: Timestamp?
    public var calls: Int
    public var failures: Int
    public var inFlight: Int
    public var timeToFirstTokenMs: Int?
    /// Capabilities its answers showed it lacks (`tools`).
    public var lacks: [String]
}

/// Chooses deployments for virtual models and keeps what calls taught it: each deployment's breaker,
/// its calls in flight, and moving averages of its time to first token, output size and cache share.
/// One lock, held for microseconds; nothing here does I/O.
public final class ModelRouter: Sendable {
    public let table: RouteTable
    private let state = Mutex<[String: Memory]>([:])
    /// Virtual models organisations defined (`/api/routes`), by organisation and name: they take
    /// precedence over the configuration's of the same name, for that organisation only.
    private let organisations = Mutex<[String: [String: VirtualModel]]>([:])

    /// What the router remembers of one deployment.
    struct Memory {
        var consecutiveFailures = 0
        var openUntil: Timestamp?
        var probing = false
        var lastFailure: String?
        var lastFailureAt: Timestamp?
        var calls = 0
        var failures = 0
        var inFlight = 0
        var timeToFirstToken: Double?
        var outputTokens: Double?
        var cacheShare: Double?
        var lacks: Set<String> = []
    }

    /// The weight of the newest observation in the moving averages.
    static let smoothing = 0.2
    /// The output a deployment that has not served yet is expected to produce (or the call's limit, if lower).
    public static let defaultOutputTokens = 256

    public init(table: RouteTable) { self.table = table }

    /// Sets (or, with `nil`, removes) an organisation's virtual model.
    public func setModel(_ model: VirtualModel?, named name: String, org: String) {
        organisations.withLock { $0[org, default: [:]][name] = model }
    }

    /// An organisation's own virtual models.
    public func models(org: String) -> [String: VirtualModel] { organisations.withLock { $0[org] ?? [:] } }

    /// The organisations that have virtual models of their own.
    public var organisationsWithModels: [String] { organisations.withLock { Array($0.keys) } }

    /// The virtual model a name means for an organisation: its own, else the configuration's.
    public func virtualModel(named name: String, org: String?) -> VirtualModel? {
        if let org, let own = organisations.withLock({ $0[org]?[name] }) { return own }
        return table.models[name]
    }

    /// The virtual model a call's model names for an organisation (`fast`, `meterr/fast`, `meterr/auto`).
    public func routeName(_ model: String, org: String?) -> String? {
        table.routeName(model) { virtualModel(named: $0, org: org) != nil }
    }

    /// The decision for a call naming `model`, or `nil` when it names no virtual model.
    /// - Parameters:
    ///   - facts: what the catalog knows of a deployment's model (`nil`: not in the catalog).
    ///   - price: a usage's cost at a deployment (`nil`: unpriced).
    ///   - roll: a number in `0..<1` that decides the `weighted` policy's draw.
    public func decide(
        model: String, org: String? = nil, needs: RouteNeeds, facts: (Deployment) -> DeploymentFacts?,
        price: (Deployment, Usage) -> Money?, now: Timestamp, roll: Double
    ) -> RouteDecision? {
        guard let name = routeName(model, org: org) else { return nil }
        var complexity: Complexity.Reading?
        var routeName = name
        if name == RouteTable.autoName, let auto = table.auto {
            let reading = Complexity.read(
                lastUserText: needs.lastUserText, promptTokens: needs.inputTokens, hasTools: needs.tools)
            complexity = reading
            routeName = auto.model(for: reading.tier)
        }
        guard let virtual = virtualModel(named: routeName, org: org) else { return nil }
        // What the decision needs of each deployment's memory, read under the lock in one pass.
        let memories = state.withLock { state in
            virtual.deployments.map { deployment in state[deployment.id].map(Glance.init) ?? Glance() }
        }
        var candidates: [RouteCandidate] = []
        candidates.reserveCapacity(virtual.deployments.count)
        for (deployment, memory) in zip(virtual.deployments, memories) {
            let expectedOutput =
                memory.outputTokens.map { Int($0.rounded()) }
                ?? min(needs.maxOutputTokens ?? Self.defaultOutputTokens, Self.defaultOutputTokens)
            var candidate = RouteCandidate(
                deployment: deployment, excluded: nil, expectedCost: nil, expectedOutputTokens: expectedOutput,
                timeToFirstTokenMs: memory.timeToFirstToken.map { Int($0.rounded()) }, inFlight: memory.inFlight)
            candidate.excluded = Self.exclusion(
                deployment, needs: needs, facts: facts(deployment), memory: memory, now: now)
            if candidate.excluded == nil {
                let cached = Int((Double(needs.inputTokens) * (memory.cacheShare ?? 0)).rounded())
                candidate.expectedCost = price(
                    deployment,
                    Usage(inputTokens: needs.inputTokens, cacheReadTokens: cached, outputTokens: expectedOutput))
                if candidate.expectedCost == nil { candidate.excluded = "its model has no price" }
            }
            candidates.append(candidate)
        }
        var ordered = Self.rank(candidates, policy: virtual.policy, roll: roll).map { candidates[$0] }
        ordered.append(contentsOf: candidates.lazy.filter { !$0.eligible })
        return RouteDecision(
            route: routeName, requested: model, policy: virtual.policy, complexity: complexity, candidates: ordered)
    }

    /// Why a deployment cannot take a call, or `nil`.
    /// The part of a deployment's memory a decision reads.
    struct Glance {
        var openUntil: Timestamp?
        var probing = false
        var lastFailure: String?
        var inFlight = 0
        var timeToFirstToken: Double?
        var outputTokens: Double?
        var cacheShare: Double?
        var lacksTools = false

        init() {}

        init(_ memory: Memory) {
            openUntil = memory.openUntil
            probing = memory.probing
            lastFailure = memory.lastFailure
            inFlight = memory.inFlight
            timeToFirstToken = memory.timeToFirstToken
            outputTokens = memory.outputTokens
            cacheShare = memory.cacheShare
            lacksTools = memory.lacks.contains("tools")
        }
    }

    static func exclusion(
        _ deployment: Deployment, needs: RouteNeeds, facts: DeploymentFacts?, memory: Glance, now: Timestamp
    ) -> String? {
        guard let facts else { return "its model is not in the price catalog" }
        if needs.tools {
            if memory.lacksTools { return "an earlier answer showed it takes no tools" }
            if facts.tools != true { return facts.tools == nil ? "not known to take tools" : "takes no tools" }
        }
        if needs.vision, facts.vision != true {
            return facts.vision == nil ? "not known to take images" : "takes no images"
        }
        if needs.jsonSchema, facts.jsonSchema != true {
            return facts.jsonSchema == nil ? "not known to follow a JSON schema" : "does not follow JSON schemas"
        }
        guard let window = facts.maxInputTokens else { return "its context window is not known" }
        let needed = needs.inputTokens + (needs.maxOutputTokens ?? 0)
        if needed > window { return "needs \(needed) tokens, over its context window of \(window)" }
        if let limit = needs.maxOutputTokens, let most = facts.maxOutputTokens, limit > most {
            return "asks for \(limit) output tokens, over its most of \(most)"
        }
        if let until = memory.openUntil {
            if until > now { return "its breaker is open until \(until.rfc3339) (\(memory.lastFailure ?? "failures"))" }
            if memory.probing { return "its breaker is half open and a probe call is in flight" }
        }
        return nil
    }

    /// The eligible candidates' positions, in the order they are to be tried.
    static func rank(_ candidates: [RouteCandidate], policy: RoutePolicy, roll: Double) -> [Int] {
        let eligible = candidates.indices.filter { candidates[$0].eligible }
        /// Sorts by a key, ties kept in the listed order.
        func sorted(by key: (RouteCandidate) -> Int64) -> [Int] {
            eligible.map { (key: key(candidates[$0]), position: $0) }.sorted {
                ($0.key, $0.position) < ($1.key, $1.position)
            }
            .map(\.position)
        }
        switch policy {
        case .cheapest: return sorted { $0.expectedCost?.nanos ?? 0 }
        case .priority: return sorted { Int64($0.deployment.priority) }
        case .leastBusy: return sorted { Int64($0.inFlight) }
        // Deployments not yet measured go first, so each gets measured.
        case .lowestLatency: return sorted { Int64($0.timeToFirstTokenMs ?? -1) }
        case .weighted:
            func weight(_ position: Int) -> Int { max(0, candidates[position].deployment.weight) }
            let total = eligible.reduce(0) { $0 + weight($1) }
            guard total > 0 else { return eligible }
            var target = roll * Double(total)
            var first = eligible.count - 1
            for (index, position) in eligible.enumerated() {
                target -= Double(weight(position))
                if target < 0 {
                    first = index
                    break
                }
            }
            var rest = eligible
            let chosen = rest.remove(at: first)
            rest.sort { (weight($0), -$0) > (weight($1), -$1) }
            return [chosen] + rest
        }
    }

    /// Whether a deployment may take an attempt now (its breaker closed, or half open with no probe out).
    public func available(_ deployment: Deployment, now: Timestamp) -> Bool {
        state.withLock { state in
            guard let memory = state[deployment.id], let until = memory.openUntil else { return true }
            return until <= now && !memory.probing
        }
    }

    /// When the first of these deployments' open breakers lets a probe through, if any is open.
    public func earliestReopening(_ deployments: [Deployment]) -> Timestamp? {
        state.withLock { state in deployments.compactMap { state[$0.id]?.openUntil }.min() }
    }

    /// An attempt goes to a deployment; a half-open breaker's attempt is its probe.
    public func started(_ deployment: Deployment, now: Timestamp) {
        state.withLock { state in
            var memory = state[deployment.id] ?? Memory()
            memory.inFlight += 1
            memory.calls += 1
            if let until = memory.openUntil, until <= now { memory.probing = true }
            state[deployment.id] = memory
        }
    }

    /// An attempt succeeded: the breaker closes, the averages learn its time to first token, output
    /// and cache share.
    public func succeeded(_ deployment: Deployment, timeToFirstTokenMs: Int?, usage: Usage?) {
        state.withLock { state in
            var memory = state[deployment.id] ?? Memory()
            memory.inFlight = max(0, memory.inFlight - 1)
            memory.consecutiveFailures = 0
            memory.openUntil = nil
            memory.probing = false
            if let ttft = timeToFirstTokenMs {
                memory.timeToFirstToken = Self.average(memory.timeToFirstToken, Double(ttft))
            }
            if let usage {
                memory.outputTokens = Self.average(memory.outputTokens, Double(usage.outputTokens))
                if usage.inputTokens > 0 {
                    memory.cacheShare = Self.average(
                        memory.cacheShare, Double(usage.cacheReadTokens) / Double(usage.inputTokens))
                }
            }
            state[deployment.id] = memory
        }
    }

    /// An attempt failed. Failures that count against the deployment open its breaker after
    /// `breakerFailures` in a row (a rate limit at once, for at least its `Retry-After`); a failed probe
    /// opens it again. Re-opening extends the cool-down, never shortens it.
    public func failed(_ deployment: Deployment, failure: AttemptFailure, retryAfter: Int?, now: Timestamp) {
        state.withLock { state in
            var memory = state[deployment.id] ?? Memory()
            memory.inFlight = max(0, memory.inFlight - 1)
            memory.failures += 1
            memory.lastFailure = failure.rawValue
            memory.lastFailureAt = now
            if failure == .lacksTools { memory.lacks.insert("tools") }
            let wasProbe = memory.probing
            memory.probing = false
            if failure.countsAgainst {
                memory.consecutiveFailures += 1
                if wasProbe || failure == .rateLimited || memory.consecutiveFailures >= table.breakerFailures {
                    let coolDown = max(
                        Int64(table.breakerCoolDown.components.seconds) * 1000, Int64(retryAfter ?? 0) * 1000)
                    let until = now.adding(milliseconds: coolDown)
                    memory.openUntil = max(memory.openUntil ?? until, until)
                }
            }
            state[deployment.id] = memory
        }
    }

    /// An attempt ended without an answer to judge it by (the caller left): only its slot is freed.
    public func released(_ deployment: Deployment) {
        state.withLock { state in
            guard var memory = state[deployment.id] else { return }
            memory.inFlight = max(0, memory.inFlight - 1)
            memory.probing = false
            state[deployment.id] = memory
        }
    }

    /// The health of every deployment the configuration and the organisation's own models name.
    public func health(now: Timestamp, org: String? = nil) -> [DeploymentHealth] {
        let own = org.map(models(org:)) ?? [:]
        let ids =
            table.models.keys.sorted().flatMap { table.models[$0]!.deployments.map(\.id) }
            + own.keys.sorted().flatMap { own[$0]!.deployments.map(\.id) }
        var seen = Set<String>()
        return state.withLock { state in
            ids.filter { seen.insert($0).inserted }.map { id in
                let memory = state[id] ?? Memory()
                let status: DeploymentHealth.State =
                    memory.openUntil.map { $0 > now ? .open : .halfOpen } ?? .closed
                return DeploymentHealth(
                    id: id, state: status, openUntil: memory.openUntil, consecutiveFailures: memory.consecutiveFailures,
                    lastFailure: memory.lastFailure, lastFailureAt: memory.lastFailureAt, calls: memory.calls,
                    failures: memory.failures, inFlight: memory.inFlight,
                    timeToFirstTokenMs: memory.timeToFirstToken.map { Int($0.rounded()) }, lacks: memory.lacks.sorted())
            }
        }
    }

    static func average(_ current: Double?, _ value: Double) -> Double {
        guard let current else { return value }
        return current + smoothing * (value - current)
    }
}
