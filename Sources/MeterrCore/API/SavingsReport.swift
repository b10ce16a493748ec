/// `GET /api/optimize`: where an organisation (or one team, or one route) could spend less, each
/// finding with its evidence, the exact calculation from the ledger's own prices, and a monthly
/// saving at the window's pace.
public struct SavingsReport: Sendable, Hashable, Codable {
    public var org: String
    public var team: String?
    /// A model or virtual model the report is limited to.
    public var route: String?
    public var from: Timestamp
    public var to: Timestamp
    /// Metered calls in the window (refusals not counted) and what they cost.
    public var calls: Int
    public var spendUSD: Money
    /// Calls whose request shape was recorded (the ones the prompt and duplicate findings can see).
    public var analysedCalls: Int
    /// Whether the window held more calls than one report reads (the findings then cover the first ones).
    public var truncated: Bool
    /// Calls the response cache answered in the window, and what they would have cost.
    public var cacheHits: Int
    public var cacheSavedUSD: Money
    public var findings: [SavingsFinding]
    /// The findings' monthly savings added up (budget findings save no spend).
    public var monthlySavingUSD: Money
    public var generatedAt: Timestamp

    public init(
        org: String, team: String?, route: String?, from: Timestamp, to: Timestamp, calls: Int, spendUSD: Money,
        analysedCalls: Int, truncated: Bool, cacheHits: Int, cacheSavedUSD: Money, findings: [SavingsFinding],
        monthlySavingUSD: Money, generatedAt: Timestamp
    ) {
        self.org = org
        self.team = team
        self.route = route
        self.from = from
        self.to = to
        self.calls = calls
        self.spendUSD = spendUSD
        self.analysedCalls = analysedCalls
        self.truncated = truncated
        self.cacheHits = cacheHits
        self.cacheSavedUSD = cacheSavedUSD
        self.findings = findings
        self.monthlySavingUSD = monthlySavingUSD
        self.generatedAt = generatedAt
    }

    enum CodingKeys: String, CodingKey {
        case org, team, route, from, to, calls, truncated, findings
        case spendUSD = "spend_usd"
        case analysedCalls = "analysed_calls"
        case cacheHits = "cache_hits"
        case cacheSavedUSD = "cache_saved_usd"
        case monthlySavingUSD = "monthly_saving_usd"
        case generatedAt = "generated_at"
    }

    /// Encodes every key (`team` and `route` are `null` when the report is not limited).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(org, forKey: .org)
        try c.encode(team, forKey: .team)
        try c.encode(route, forKey: .route)
        try c.encode(from, forKey: .from)
        try c.encode(to, forKey: .to)
        try c.encode(calls, forKey: .calls)
        try c.encode(spendUSD, forKey: .spendUSD)
        try c.encode(analysedCalls, forKey: .analysedCalls)
        try c.encode(truncated, forKey: .truncated)
        try c.encode(cacheHits, forKey: .cacheHits)
        try c.encode(cacheSavedUSD, forKey: .cacheSavedUSD)
        try c.encode(findings, forKey: .findings)
        try c.encode(monthlySavingUSD, forKey: .monthlySavingUSD)
        try c.encode(generatedAt, forKey: .generatedAt)
    }
}

/// One way to spend less, for one provider and model.
public struct SavingsFinding: Sendable, Hashable, Codable {
    /// What kind of finding it is.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// Repeated long prompt prefixes the provider's prompt cache is not serving.
        case promptCaching = "prompt_caching"
        /// Identical calls the response cache would have answered.
        case duplicateCalls = "duplicate_calls"
        /// Short, tool-free calls to a model whose cheaper sibling could take them.
        case modelChoice = "model_choice"
        /// `max_tokens` far above what calls use: holds that crowd budgets.
        case oversizedMaxTokens = "oversized_max_tokens"
        /// Spend on routed attempts that failed before another deployment answered.
        case retrySpend = "retry_spend"
    }

    /// How sure the saving is.
    public enum Confidence: String, Sendable, Hashable, Codable {
        /// Exact: the calls would have cost this much less.
        case measured
        /// Exact arithmetic on a premise to check (a cheaper model answering as well).
        case candidate
        /// Frees budget headroom; the bill does not change.
        case budget
    }

    public var kind: Kind
    public var confidence: Confidence
    public var provider: Provider
    public var model: String
    /// One line: what was found.
    public var title: String
    /// What to do about it.
    public var action: String
    /// The calls the finding is about.
    public var calls: Int
    /// What those calls would have cost less in the window, and at that pace over 30 days.
    public var savingUSD: Money
    public var monthlySavingUSD: Money
    /// The arithmetic, with the window's numbers.
    public var calculation: String
    /// The facts behind it, by name.
    public var evidence: [String: String]
    /// The saving by team (`""` for calls without one), largest first.
    public var teams: [TeamSaving]
    /// Request ids of some of the calls.
    public var examples: [String]

    public init(
        kind: Kind, confidence: Confidence, provider: Provider, model: String, title: String, action: String,
        calls: Int, savingUSD: Money, monthlySavingUSD: Money, calculation: String, evidence: [String: String],
        teams: [TeamSaving], examples: [String]
    ) {
        self.kind = kind
        self.confidence = confidence
        self.provider = provider
        self.model = model
        self.title = title
        self.action = action
        self.calls = calls
        self.savingUSD = savingUSD
        self.monthlySavingUSD = monthlySavingUSD
        self.calculation = calculation
        self.evidence = evidence
        self.teams = teams
        self.examples = examples
    }

    enum CodingKeys: String, CodingKey {
        case kind, confidence, provider, model, title, action, calls, calculation, evidence, teams, examples
        case savingUSD = "saving_usd"
        case monthlySavingUSD = "monthly_saving_usd"
    }
}

/// One team's share of a finding.
public struct TeamSaving: Sendable, Hashable, Codable {
    public var team: String
    public var calls: Int
    public var savingUSD: Money

    public init(team: String, calls: Int, savingUSD: Money) {
        self.team = team
        self.calls = calls
        self.savingUSD = savingUSD
    }

    enum CodingKeys: String, CodingKey {
        case team, calls
        case savingUSD = "saving_usd"
    }
}
