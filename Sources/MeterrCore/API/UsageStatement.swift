/// `GET /api/statements/{month}`: what an organisation (or one of its teams) spent in a calendar month
/// of its time zone (UTC unless its policy names one), as line items per team, project, provider and model, ready to feed an invoicing system.
public struct UsageStatement: Sendable, Hashable, Codable {
    public var org: String
    /// The team the statement is for; `nil` for the whole organisation.
    public var team: String?
    /// `2026-11`.
    public var month: String
    /// The month's first instant and the next month's.
    public var from: Timestamp
    public var to: Timestamp
    /// The time zone the month is counted in (an IANA name).
    public var timeZone: String
    public var currency: String
    /// One line per team, project, provider and model, dearest first.
    public var lines: [UsageStatementLine]
    /// The lines added up.
    public var totals: UsageTotals
    /// The same month's totals from the ledger's rollups: equal to `totals` unless raw events were
    /// removed by retention (then `complete` is false and these are the month's true totals).
    public var ledgerTotals: UsageTotals
    public var complete: Bool
    public var generatedAt: Timestamp

    public init(
        org: String, team: String?, month: String, from: Timestamp, to: Timestamp, currency: String,
        lines: [UsageStatementLine], totals: UsageTotals, ledgerTotals: UsageTotals, complete: Bool,
        generatedAt: Timestamp, timeZone: String = "UTC"
    ) {
        self.timeZone = timeZone
        self.org = org
        self.team = team
        self.month = month
        self.from = from
        self.to = to
        self.currency = currency
        self.lines = lines
        self.totals = totals
        self.ledgerTotals = ledgerTotals
        self.complete = complete
        self.generatedAt = generatedAt
    }

    enum CodingKeys: String, CodingKey {
        case org, team, month, from, to, currency, lines, totals, complete
        case ledgerTotals = "ledger_totals"
        case generatedAt = "generated_at"
        case timeZone = "time_zone"
    }

    /// Decodes a statement; one without `time_zone` (an older server) is in UTC.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            org: try c.decode(String.self, forKey: .org), team: try c.decodeIfPresent(String.self, forKey: .team),
            month: try c.decode(String.self, forKey: .month), from: try c.decode(Timestamp.self, forKey: .from),
            to: try c.decode(Timestamp.self, forKey: .to), currency: try c.decode(String.self, forKey: .currency),
            lines: try c.decode([UsageStatementLine].self, forKey: .lines),
            totals: try c.decode(UsageTotals.self, forKey: .totals),
            ledgerTotals: try c.decode(UsageTotals.self, forKey: .ledgerTotals),
            complete: try c.decode(Bool.self, forKey: .complete),
            generatedAt: try c.decode(Timestamp.self, forKey: .generatedAt),
            timeZone: try c.decodeIfPresent(String.self, forKey: .timeZone) ?? "UTC")
    }

    /// Encodes every key (`team` is `null` for the organisation's statement).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(org, forKey: .org)
        try c.encode(team, forKey: .team)
        try c.encode(month, forKey: .month)
        try c.encode(from, forKey: .from)
        try c.encode(to, forKey: .to)
        try c.encode(timeZone, forKey: .timeZone)
        try c.encode(currency, forKey: .currency)
        try c.encode(lines, forKey: .lines)
        try c.encode(totals, forKey: .totals)
        try c.encode(ledgerTotals, forKey: .ledgerTotals)
        try c.encode(complete, forKey: .complete)
        try c.encode(generatedAt, forKey: .generatedAt)
    }

    /// The statement as CSV: a header, one row per line, and a `TOTAL` row; costs in dollars to the
    /// nano-dollar, an unpriced line's cost empty.
    public var csv: String {
        var out =
            "month,team,project,provider,model,requests,input_tokens,cache_read_tokens,cache_write_tokens,"
            + "output_tokens,reasoning_tokens,cost_usd,unpriced_requests\n"
        func row(_ fields: [String?], _ totals: UsageTotals) {
            let usage = totals.usage
            let cells =
                fields.map { UsageEventCSV.quote($0 ?? "") } + [
                    String(totals.requests), String(usage.inputTokens), String(usage.cacheReadTokens),
                    String(usage.cacheWriteTokens + usage.cacheWrite1hTokens), String(usage.outputTokens),
                    String(usage.reasoningTokens), totals.cost?.decimalString ?? "", String(totals.unpricedRequests),
                ]
            out += cells.joined(separator: ",") + "\n"
        }
        for line in lines { row([month, line.team, line.project, line.provider, line.model], line.totals) }
        row([month, team, "TOTAL", nil, nil], totals)
        return out
    }
}

/// One line of a statement: a team, project, provider and model (`nil`: calls without that attribute).
public struct UsageStatementLine: Sendable, Hashable, Codable {
    public var team: String?
    public var project: String?
    public var provider: String?
    public var model: String?
    public var totals: UsageTotals

    public init(team: String?, project: String?, provider: String?, model: String?, totals: UsageTotals) {
        self.team = team
        self.project = project
        self.provider = provider
        self.model = model
        self.totals = totals
    }

    enum CodingKeys: String, CodingKey {
        case team, project, provider, model, totals
    }

    /// Encodes every key (`null` for a missing attribute).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(team, forKey: .team)
        try c.encode(project, forKey: .project)
        try c.encode(provider, forKey: .provider)
        try c.encode(model, forKey: .model)
        try c.encode(totals, forKey: .totals)
    }
}
