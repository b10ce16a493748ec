/// Whether an event's token counts came from the provider or from meterr's own count.
public enum UsageSource: String, Sendable, Hashable, Codable {
    /// The provider's own numbers.
    case reported
    /// Counted locally, because the provider's count never arrived.
    case estimated
}

/// One metered call: the ledger's row, the SDK's payload and the export line.
///
/// The JSON form is the contract of DESIGN.md: snake_case keys, `ts` in RFC 3339 UTC with
/// milliseconds, `cost_usd` a decimal string or `null` when the model has no price.
public struct UsageEvent: Sendable, Hashable, Codable {
    /// The event id; a retried event with the same id is stored once. Generated when a report
    /// leaves it out (such a report is then not safe to retry).
    public var id: String
    /// When the call happened; the time of receipt when a report leaves it out.
    public var ts: Timestamp
    /// The organisation the call is billed to.
    public var org: String
    /// Attribution below the organisation.
    public var team: String?
    public var user: String?
    public var project: String?
    /// The meterr key the call came through.
    public var keyId: String?
    /// Free-form attribution.
    public var tags: [String: String]
    /// The provider that served the call.
    public var provider: Provider
    /// The model the provider reports.
    public var model: String
    /// The model as the caller asked for it.
    public var modelRequested: String?
    /// The API surface, e.g. `chat.completions`, `messages`, `generateContent`.
    public var endpoint: String?
    /// The token counts.
    public var usage: Usage
    /// The exact cost; `nil` when the model has no price (unpriced is not free).
    public var cost: Money?
    /// The catalog entry and version that priced the call.
    public var priceId: String?
    /// Where the counts came from.
    public var usageSource: UsageSource
    /// Whether the call streamed.
    public var stream: Bool
    /// The HTTP status the provider answered.
    public var status: Int?
    /// Total time of the call.
    public var latencyMs: Int?
    /// Time to first token (streams).
    public var ttftMs: Int?
    /// meterr's request id.
    public var requestId: String?
    /// The provider's request id.
    public var upstreamRequestId: String?
    /// Which deployment served the call and why.
    public var route: String?
    /// Whether meterr's response cache answered the call (no provider was called, nothing was billed).
    public var cacheHit: Bool
    /// What a cache hit would have cost at today's prices: the avoided spend (`nil` for other calls).
    public var saved: Money?

    /// Creates an event.
    public init(
        id: String, ts: Timestamp, org: String, team: String? = nil, user: String? = nil, project: String? = nil,
        keyId: String? = nil, tags: [String: String] = [:], provider: Provider, model: String,
        modelRequested: String? = nil, endpoint: String? = nil, usage: Usage, cost: Money? = nil,
        priceId: String? = nil, usageSource: UsageSource = .reported, stream: Bool = false, status: Int? = nil,
        latencyMs: Int? = nil, ttftMs: Int? = nil, requestId: String? = nil, upstreamRequestId: String? = nil,
        route: String? = nil, cacheHit: Bool = false, saved: Money? = nil
    ) {
        self.id = id
        self.ts = ts
        self.org = org
        self.team = team
        self.user = user
        self.project = project
        self.keyId = keyId
        self.tags = tags
        self.provider = provider
        self.model = model
        self.modelRequested = modelRequested
        self.endpoint = endpoint
        self.usage = usage
        self.cost = cost
        self.priceId = priceId
        self.usageSource = usageSource
        self.stream = stream
        self.status = status
        self.latencyMs = latencyMs
        self.ttftMs = ttftMs
        self.requestId = requestId
        self.upstreamRequestId = upstreamRequestId
        self.route = route
        self.cacheHit = cacheHit
        self.saved = saved
    }

    enum CodingKeys: String, CodingKey {
        case id, ts, org, team, user, project
        case keyId = "key_id"
        case tags, provider, model
        case modelRequested = "model_requested"
        case endpoint
        case inputTokens = "input_tokens"
        case cacheReadTokens = "cache_read_tokens"
        case cacheWriteTokens = "cache_write_tokens"
        case cacheWrite1hTokens = "cache_write_1h_tokens"
        case outputTokens = "output_tokens"
        case reasoningTokens = "reasoning_tokens"
        case cost = "cost_usd"
        case priceId = "price_id"
        case usageSource = "usage_source"
        case stream, status
        case latencyMs = "latency_ms"
        case ttftMs = "ttft_ms"
        case requestId = "request_id"
        case upstreamRequestId = "upstream_request_id"
        case route
        case cacheHit = "cache_hit"
        case saved = "saved_usd"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(String.self, forKey: .id) ?? Identifier.ordered("evt", length: 22)
        ts = try c.decode(Timestamp.self, forKey: .ts)
        org = try c.decodeIfPresent(String.self, forKey: .org) ?? ""
        team = try c.decodeIfPresent(String.self, forKey: .team)
        user = try c.decodeIfPresent(String.self, forKey: .user)
        project = try c.decodeIfPresent(String.self, forKey: .project)
        keyId = try c.decodeIfPresent(String.self, forKey: .keyId)
        tags = try c.decodeIfPresent([String: String].self, forKey: .tags) ?? [:]
        provider = try c.decode(Provider.self, forKey: .provider)
        model = try c.decode(String.self, forKey: .model)
        modelRequested = try c.decodeIfPresent(String.self, forKey: .modelRequested)
        endpoint = try c.decodeIfPresent(String.self, forKey: .endpoint)
        usage = Usage(
            inputTokens: try c.decode(Int.self, forKey: .inputTokens),
            cacheReadTokens: try c.decodeIfPresent(Int.self, forKey: .cacheReadTokens) ?? 0,
            cacheWriteTokens: try c.decodeIfPresent(Int.self, forKey: .cacheWriteTokens) ?? 0,
            cacheWrite1hTokens: try c.decodeIfPresent(Int.self, forKey: .cacheWrite1hTokens) ?? 0,
            outputTokens: try c.decode(Int.self, forKey: .outputTokens),
            reasoningTokens: try c.decodeIfPresent(Int.self, forKey: .reasoningTokens) ?? 0)
        cost = try c.decodeIfPresent(Money.self, forKey: .cost)
        priceId = try c.decodeIfPresent(String.self, forKey: .priceId)
        usageSource = try c.decodeIfPresent(UsageSource.self, forKey: .usageSource) ?? .reported
        stream = try c.decodeIfPresent(Bool.self, forKey: .stream) ?? false
        status = try c.decodeIfPresent(Int.self, forKey: .status)
        latencyMs = try c.decodeIfPresent(Int.self, forKey: .latencyMs)
        ttftMs = try c.decodeIfPresent(Int.self, forKey: .ttftMs)
        requestId = try c.decodeIfPresent(String.self, forKey: .requestId)
        upstreamRequestId = try c.decodeIfPresent(String.self, forKey: .upstreamRequestId)
        route = try c.decodeIfPresent(String.self, forKey: .route)
        cacheHit = try c.decodeIfPresent(Bool.self, forKey: .cacheHit) ?? false
        saved = try c.decodeIfPresent(Money.self, forKey: .saved)
    }

    /// Encodes every key, with `null` for absent values, in the contract's order.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(ts, forKey: .ts)
        try c.encode(org, forKey: .org)
        try c.encode(team, forKey: .team)
        try c.encode(user, forKey: .user)
        try c.encode(project, forKey: .project)
        try c.encode(keyId, forKey: .keyId)
        try c.encode(tags, forKey: .tags)
        try c.encode(provider, forKey: .provider)
        try c.encode(model, forKey: .model)
        try c.encode(modelRequested, forKey: .modelRequested)
        try c.encode(endpoint, forKey: .endpoint)
        try c.encode(usage.inputTokens, forKey: .inputTokens)
        try c.encode(usage.cacheReadTokens, forKey: .cacheReadTokens)
        try c.encode(usage.cacheWriteTokens, forKey: .cacheWriteTokens)
        try c.encode(usage.cacheWrite1hTokens, forKey: .cacheWrite1hTokens)
        try c.encode(usage.outputTokens, forKey: .outputTokens)
        try c.encode(usage.reasoningTokens, forKey: .reasoningTokens)
        try c.encode(cost, forKey: .cost)
        try c.encode(priceId, forKey: .priceId)
        try c.encode(usageSource, forKey: .usageSource)
        try c.encode(stream, forKey: .stream)
        try c.encode(status, forKey: .status)
        try c.encode(latencyMs, forKey: .latencyMs)
        try c.encode(ttftMs, forKey: .ttftMs)
        try c.encode(requestId, forKey: .requestId)
        try c.encode(upstreamRequestId, forKey: .upstreamRequestId)
        try c.encode(route, forKey: .route)
        try c.encode(cacheHit, forKey: .cacheHit)
        try c.encode(saved, forKey: .saved)
    }

    /// Checks the event's values: ids and names in bounds, counts not negative, parts within totals.
    /// - Parameter prefix: the path of this event in the caller's input (`events[3].`), for error messages.
    public func validate(prefix: String = "") throws(MeterrError) {
        if id.isEmpty || id.utf8.count > 128 { throw .invalid(prefix + "id", "must be 1 to 128 characters") }
        if model.isEmpty || model.utf8.count > 256 { throw .invalid(prefix + "model", "must be 1 to 256 characters") }
        let names: [(String, String?)] = [
            ("team", team), ("user", user), ("project", project), ("key_id", keyId),
            ("model_requested", modelRequested), ("endpoint", endpoint), ("price_id", priceId),
            ("request_id", requestId), ("upstream_request_id", upstreamRequestId), ("route", route),
        ]
        for (name, value) in names where (value?.utf8.count ?? 0) > 256 {
            throw .invalid(prefix + name, "must be at most 256 characters")
        }
        if tags.count > 64 { throw .invalid(prefix + "tags", "at most 64 tags") }
        for (key, value) in tags where key.isEmpty || key.utf8.count > 128 || value.utf8.count > 256 {
            throw .invalid(prefix + "tags", "tag keys must be 1 to 128 characters and values at most 256")
        }
        // Years 1970 to 9999: anything else is a clock or encoding mistake.
        if ts.milliseconds < 0 || ts.milliseconds >= 253_402_300_800_000 {
            throw .invalid(prefix + "ts", "must be between 1970 and 9999")
        }
        try usage.validate(prefix: prefix)
        if let cost, cost.nanos < 0 { throw .invalid(prefix + "cost_usd", "must not be negative") }
        if let saved, saved.nanos < 0 { throw .invalid(prefix + "saved_usd", "must not be negative") }
        for (name, value) in [("status", status), ("latency_ms", latencyMs), ("ttft_ms", ttftMs)] {
            if let value, value < 0 { throw .invalid(prefix + name, "must not be negative") }
        }
    }
}
