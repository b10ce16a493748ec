import MeterrCore
import MeterrPricing
import MeterrStore

/// The savings report's findings, computed from the ledger's calls and shapes with the cost engine's
/// exact prices. Each finding prices what the calls did against what they would have done: the same
/// tokens as cache reads, the same usage on a cheaper model, nothing for a call a cache would answer.
struct SavingsAnalysis {
    let engine: CostEngine
    let from: Timestamp
    let to: Timestamp
    /// How long the response cache would keep an answer (`response_cache.ttl_seconds`).
    let responseCacheTTL: Int64
    let org: String

    /// The providers' prompt caches keep a prefix about five minutes after its last use.
    static let promptCacheTTL: Int64 = 5 * 60_000
    /// "Short output" for the model-choice finding.
    static let shortOutput = 256
    /// Embedding surfaces, as events name them: no output to compare.
    static let embeddings: Set<String> = ["embeddings", "embedContent", "embed"]

    /// `1 call`, `2 calls`.
    static func count(_ number: Int, _ noun: String, _ plural: String? = nil) -> String {
        "\(number) " + (number == 1 ? noun : plural ?? noun + "s")
    }

    /// The window's length, for the monthly pace.
    var windowMilliseconds: Int64 { max(1, to.milliseconds - from.milliseconds) }

    func monthly(_ saving: Money) -> Money {
        Money(nanos: Int64((Double(saving.nanos) * 30 * 86_400_000 / Double(windowMilliseconds)).rounded()))
    }

    func cost(_ model: String, _ provider: Provider, _ usage: Usage, at time: Timestamp) -> Money? {
        (try? engine.cost(model: model, provider: provider, usage: usage, at: time, org: org))?.map(\.cost)
    }

    /// Calls that went to a provider and answered: what the findings are about.
    static func served(_ call: ShapedCall) -> Bool {
        let event = call.event
        return !event.cacheHit && (event.status ?? 200) < 400 && event.cost != nil
            && !(event.route ?? "").hasPrefix("refused:")
    }

    func findings(_ calls: [ShapedCall]) -> [SavingsFinding] {
        var findings = promptCaching(calls) + duplicates(calls) + modelChoice(calls) + retries(calls)
        findings += oversizedMaxTokens(calls)
        return findings.sorted {
            ($0.monthlySavingUSD.nanos, $0.kind.rawValue, $0.model) > (
                $1.monthlySavingUSD.nanos, $1.kind.rawValue, $1.model
            )
        }
    }

    // MARK: Grouping

    /// Calls with what each saves, gathered per provider and model into findings.
    struct Tally {
        var calls = 0
        var saving = Money.zero
        var teams: [String: (calls: Int, saving: Money)] = [:]
        var examples: [String] = []
        var numbers: [String: Int64] = [:]

        mutating func add(_ event: UsageEvent, saving: Money) {
            calls += 1
            self.saving = Money(nanos: self.saving.nanos + saving.nanos)
            let team = event.team ?? ""
            let previous = teams[team] ?? (0, .zero)
            teams[team] = (previous.calls + 1, Money(nanos: previous.saving.nanos + saving.nanos))
            if examples.count < 5 { examples.append(event.requestId ?? event.id) }
        }

        mutating func count(_ name: String, _ value: Int64 = 1) { numbers[name, default: 0] += value }

        var teamSavings: [TeamSaving] {
            teams.map { TeamSaving(team: $0.key, calls: $0.value.calls, savingUSD: $0.value.saving) }
                .sorted { ($0.savingUSD.nanos, $1.team) > ($1.savingUSD.nanos, $0.team) }
        }
    }

    struct ModelKey: Hashable {
        var provider: Provider
        var model: String
    }

    func finding(
        _ kind: SavingsFinding.Kind, _ confidence: SavingsFinding.Confidence, _ key: ModelKey, _ tally: Tally,
        title: String, action: String, calculation: String, evidence: [String: String]
    ) -> SavingsFinding {
        SavingsFinding(
            kind: kind, confidence: confidence, provider: key.provider, model: key.model, title: title, action: action,
            calls: tally.calls, savingUSD: tally.saving,
            monthlySavingUSD: confidence == .budget ? .zero : monthly(tally.saving), calculation: calculation,
            evidence: evidence, teams: tally.teamSavings, examples: tally.examples)
    }

    // MARK: Provider prompt caching

    /// The fewest prompt tokens a provider caches for a model; `nil` where it has no prompt cache.
    static func promptCacheMinimum(provider: Provider, model: String) -> Int? {
        switch provider {
        case .openai, .azure, .mistral: return 1024
        case .anthropic:
            if model.contains("opus-5") { return 512 }
            if model.contains("haiku-4-5") || model.contains("opus-4-5") || model.contains("opus-4-6") { return 4096 }
            if model.contains("3-haiku") || model.contains("3-5-haiku") { return 2048 }
            return 1024
        case .gemini: return model.contains("pro") ? 4096 : 1024
        case .cohere: return nil
        }
    }

    /// Repeated prefixes at least the provider's minimum long, sent again within the prompt cache's
    /// lifetime but billed as plain input: priced as cache reads instead, net of the write premium
    /// (Anthropic's 1.25×) each new prefix would pay.
    func promptCaching(_ calls: [ShapedCall]) -> [SavingsFinding] {
        let eligible = calls.filter { Self.served($0) && !($0.shape?.prefixes.isEmpty ?? true) }
        // How many calls share each prefix.
        var sharing: [String: Int] = [:]
        func id(_ event: UsageEvent, _ prefix: CallShape.Prefix) -> String {
            "\(event.provider.rawValue)|\(event.model)|\(prefix.tokens)|\(prefix.hash)"
        }
        for call in eligible { for prefix in call.shape!.prefixes { sharing[id(call.event, prefix), default: 0] += 1 } }
        // Each call's longest prefix that another call shares and the provider would cache.
        var groups: [String: (key: ModelKey, tokens: Int, calls: [UsageEvent])] = [:]
        for call in eligible {
            let event = call.event
            guard let minimum = Self.promptCacheMinimum(provider: event.provider, model: event.model),
                let prefix = call.shape!.prefixes.filter({ $0.tokens >= minimum && sharing[id(event, $0)]! > 1 })
                    .max(by: { $0.tokens < $1.tokens })
            else { continue }
            groups[
                id(event, prefix), default: (ModelKey(provider: event.provider, model: event.model), prefix.tokens, [])
            ]
            .calls.append(event)
        }
        var tallies: [ModelKey: Tally] = [:]
        for group in groups.values {
            var lastUse: Int64?
            for event in group.calls.sorted(by: { $0.ts.milliseconds < $1.ts.milliseconds }) {
                defer { lastUse = event.ts.milliseconds }
                let tokens = group.tokens
                if let last = lastUse, event.ts.milliseconds - last <= Self.promptCacheTTL {
                    // A read: the part of the prefix not already read from the provider's cache.
                    let missed = max(0, tokens - event.usage.cacheReadTokens)
                    guard missed > 0,
                        let plain = cost(event.model, event.provider, Usage(inputTokens: missed), at: event.ts),
                        let read = cost(
                            event.model, event.provider, Usage(inputTokens: missed, cacheReadTokens: missed),
                            at: event.ts)
                    else { continue }
                    let saving = Money(nanos: plain.nanos - read.nanos)
                    tallies[group.key, default: Tally()].add(event, saving: saving)
                    tallies[group.key]!.count("reads")
                    tallies[group.key]!.count("read_tokens", Int64(missed))
                    tallies[group.key]!.count("read_saving_nanos", saving.nanos)
                } else {
                    // A write: the prefix enters the cache, at the provider's write premium.
                    let caching =
                        event.usage.cacheReadTokens + event.usage.cacheWriteTokens
                        + event.usage.cacheWrite1hTokens > 0
                    var premium = Money.zero
                    if !caching,
                        let plain = cost(event.model, event.provider, Usage(inputTokens: tokens), at: event.ts),
                        let written = cost(
                            event.model, event.provider, Usage(inputTokens: tokens, cacheWriteTokens: tokens),
                            at: event.ts)
                    {
                        premium = Money(nanos: max(0, written.nanos - plain.nanos))
                    }
                    tallies[group.key, default: Tally()].add(event, saving: Money(nanos: -premium.nanos))
                    tallies[group.key]!.count("writes")
                    tallies[group.key]!.count("write_premium_nanos", premium.nanos)
                }
                tallies[group.key]!.count("prefix_tokens_total", Int64(tokens))
            }
            tallies[group.key, default: Tally()].count("prefixes")
        }
        return tallies.compactMap { key, tally in
            let reads = tally.numbers["reads"] ?? 0
            guard reads > 0, tally.saving.nanos > 0 else { return nil }
            let writes = tally.numbers["writes"] ?? 0
            let readSaving = Money(nanos: tally.numbers["read_saving_nanos"] ?? 0)
            let premium = Money(nanos: tally.numbers["write_premium_nanos"] ?? 0)
            let average = (tally.numbers["prefix_tokens_total"] ?? 0) / Int64(max(1, tally.calls))
            let action =
                switch key.provider {
                case .anthropic:
                    "Mark the repeated prefix with cache_control (after the tools and system prompt); keep it first and unchanged."
                case .gemini:
                    "Keep the repeated part first and unchanged and send such calls close together, or create an explicit cachedContents entry."
                default:
                    "Keep the repeated part first and byte-for-byte unchanged (no timestamps or ids before it), and send prompt_cache_key to keep such calls together."
                }
            return finding(
                .promptCaching, .measured, key, tally,
                title:
                    "\(Self.count(Int(tally.numbers["prefixes"] ?? 0), "prompt prefix", "prompt prefixes")) of about \(average) tokens repeat within five minutes but are billed as fresh input",
                action: action,
                calculation:
                    "\(reads) repeats × their uncached prefix tokens (\(tally.numbers["read_tokens"] ?? 0) in all) priced as input less the same tokens as cache reads = \(readSaving.decimalString) USD; less \(writes) prefix writes at the cache-write premium = \(premium.decimalString) USD; net \(tally.saving.decimalString) USD",
                evidence: [
                    "prefixes": String(tally.numbers["prefixes"] ?? 0), "average_prefix_tokens": String(average),
                    "repeats": String(reads), "writes": String(writes),
                    "uncached_prefix_tokens": String(tally.numbers["read_tokens"] ?? 0),
                    "read_saving_usd": readSaving.decimalString, "write_premium_usd": premium.decimalString,
                    "minimum_tokens": String(Self.promptCacheMinimum(provider: key.provider, model: key.model) ?? 0),
                    "cache_lifetime_seconds": String(Self.promptCacheTTL / 1000),
                ])
        }
    }

    // MARK: Duplicate calls

    /// Calls identical to one made less than the response cache's lifetime before: a cache would have
    /// answered them at no cost.
    func duplicates(_ calls: [ShapedCall]) -> [SavingsFinding] {
        var byRequest: [String: [UsageEvent]] = [:]
        for call in calls where Self.served(call) {
            guard let hash = call.shape?.requestHash else { continue }
            byRequest[hash, default: []].append(call.event)
        }
        var tallies: [ModelKey: Tally] = [:]
        for events in byRequest.values where events.count > 1 {
            var storedAt: Int64?
            var repeated = false
            for event in events.sorted(by: { $0.ts.milliseconds < $1.ts.milliseconds }) {
                if let stored = storedAt, event.ts.milliseconds - stored < responseCacheTTL {
                    let key = ModelKey(provider: event.provider, model: event.model)
                    tallies[key, default: Tally()].add(event, saving: event.cost ?? .zero)
                    repeated = true
                } else {
                    storedAt = event.ts.milliseconds
                }
            }
            if repeated, let first = events.first {
                tallies[ModelKey(provider: first.provider, model: first.model), default: Tally()].count("requests")
            }
        }
        let ttl = responseCacheTTL / 1000
        return tallies.compactMap { key, tally in
            guard tally.saving.nanos > 0 else { return nil }
            return finding(
                .duplicateCalls, .measured, key, tally,
                title:
                    "\(Self.count(tally.calls, "call")) repeated an identical request within \(ttl) s of the first: a response cache would have answered them",
                action:
                    "Turn on the response cache for these calls: response_cache rules naming \(key.model), or x-meterr-cache: on.",
                calculation:
                    "the \(tally.calls) repeats cost \(tally.saving.decimalString) USD; answered from the cache they cost 0",
                evidence: [
                    "repeated_requests": String(tally.numbers["requests"] ?? 0), "repeats": String(tally.calls),
                    "cache_lifetime_seconds": String(ttl),
                ])
        }
    }

    // MARK: Model choice

    /// The next cheaper model of the same family in the catalog, if any.
    func cheaperSibling(of model: String, provider: Provider) -> String? {
        guard let entry = engine.resolve(model: model, provider: provider) else { return nil }
        let name = entry.model
        let steps: [(String, String)] = [
            ("-opus-", "-sonnet-"), ("-sonnet-", "-haiku-"), ("-2.5-pro", "-2.5-flash"), ("-3-pro", "-3-flash"),
            ("-flash", "-flash-lite"), ("mistral-large", "mistral-medium"), ("mistral-medium", "mistral-small"),
            ("command-r-plus", "command-r"), ("command-a", "command-r7b"), ("-mini", "-nano"),
        ]
        var candidates: [String] = []
        for (from, to) in steps where name.contains(from) && !name.contains(to) {
            candidates.append(name.replacingOccurrences(of: from, with: to))
        }
        if provider == .openai || provider == .azure, name.hasPrefix("gpt-"), !name.contains("-mini"),
            !name.contains("-nano")
        {
            candidates.append(name.replacingOccurrences(of: "-pro", with: "") + "-mini")
        }
        for candidate in candidates {
            // The exact sibling, else the family's newest of the same major version (`claude-haiku-4-…`).
            if let sibling = engine.resolve(model: candidate, provider: provider), sibling.model != name {
                return sibling.model
            }
            var stem = candidate
            while let dash = stem.lastIndex(of: "-"), stem[stem.index(after: dash)...].allSatisfy(\.isNumber) {
                stem = String(stem[..<dash])
                let family = engine.catalog.entries.filter {
                    $0.provider == provider && ($0.model == stem || $0.model.hasPrefix(stem + "-"))
                        && $0.mode == entry.mode
                }
                if let newest = family.map(\.model).max() { return newest }
            }
        }
        return nil
    }

    /// Short, tool-free calls to a model with a cheaper sibling: the same usage priced on the sibling.
    /// A candidate: whether the sibling answers as well is for the team to try.
    func modelChoice(_ calls: [ShapedCall]) -> [SavingsFinding] {
        var siblings: [ModelKey: String?] = [:]
        var tallies: [ModelKey: Tally] = [:]
        for call in calls where Self.served(call) {
            let event = call.event
            guard let shape = call.shape, !shape.tools, event.usage.outputTokens <= Self.shortOutput,
                !Self.embeddings.contains(event.endpoint ?? ""), let actual = event.cost
            else { continue }
            let key = ModelKey(provider: event.provider, model: event.model)
            if siblings[key] == nil { siblings[key] = .some(cheaperSibling(of: event.model, provider: event.provider)) }
            guard let sibling = siblings[key]!, let instead = cost(sibling, event.provider, event.usage, at: event.ts),
                instead.nanos < actual.nanos
            else { continue }
            tallies[key, default: Tally()].add(event, saving: Money(nanos: actual.nanos - instead.nanos))
            tallies[key]!.count("actual_nanos", actual.nanos)
            tallies[key]!.count("instead_nanos", instead.nanos)
        }
        return tallies.compactMap { key, tally in
            guard let sibling = siblings[key] ?? nil, tally.saving.nanos > 0 else { return nil }
            let actual = Money(nanos: tally.numbers["actual_nanos"] ?? 0)
            let instead = Money(nanos: tally.numbers["instead_nanos"] ?? 0)
            return finding(
                .modelChoice, .candidate, key, tally,
                title:
                    "\(Self.count(tally.calls, "call")) with at most \(Self.shortOutput) output tokens and no tools could go to \(sibling)",
                action:
                    "Try \(sibling) for these calls (a virtual model with a fallback to \(key.model) keeps the risk small) and compare answers before switching.",
                calculation:
                    "their usage cost \(actual.decimalString) USD on \(key.model); the same tokens on \(sibling) cost \(instead.decimalString) USD",
                evidence: [
                    "cheaper_model": sibling, "cost_usd": actual.decimalString,
                    "cost_on_cheaper_usd": instead.decimalString,
                    "max_output_tokens": String(Self.shortOutput),
                ])
        }
    }

    // MARK: Oversized max_tokens

    /// Calls whose `max_tokens` (or, unset, the model's output limit) dwarfs what they produce: budgets
    /// hold the worst case while a call runs, so such holds refuse calls that would have fit.
    func oversizedMaxTokens(_ calls: [ShapedCall]) -> [SavingsFinding] {
        var outputs: [ModelKey: [Int]] = [:]
        var tallies: [ModelKey: Tally] = [:]
        var refusals: [String: Int] = [:]
        for call in calls {
            let event = call.event
            if (event.route ?? "").hasPrefix("refused:budget:") {
                refusals[event.model, default: 0] += 1
                continue
            }
            guard Self.served(call), let shape = call.shape,
                let asked = shape.maxTokens
                    ?? engine.resolve(model: event.model, provider: event.provider)?
                    .maxOutputTokens,
                let held = cost(event.model, event.provider, Usage(outputTokens: asked), at: event.ts),
                let used = cost(
                    event.model, event.provider, Usage(outputTokens: event.usage.outputTokens), at: event.ts)
            else { continue }
            let key = ModelKey(provider: event.provider, model: event.model)
            outputs[key, default: []].append(event.usage.outputTokens)
            tallies[key, default: Tally()].add(event, saving: .zero)
            tallies[key]!.count("asked_tokens", Int64(asked))
            tallies[key]!.count("held_nanos", held.nanos)
            tallies[key]!.count("used_nanos", used.nanos)
        }
        return tallies.compactMap { key, tally in
            let sorted = (outputs[key] ?? []).sorted()
            guard tally.calls >= 5, let largest = sorted.last else { return nil }
            let p95 = sorted[min(sorted.count - 1, sorted.count * 95 / 100)]
            let averageAsked = (tally.numbers["asked_tokens"] ?? 0) / Int64(tally.calls)
            let refused = refusals[key.model] ?? 0
            guard averageAsked > Int64(max(p95, 1)) * 4 || refused > 0 else { return nil }
            let held = Money(nanos: tally.numbers["held_nanos"] ?? 0)
            let used = Money(nanos: tally.numbers["used_nanos"] ?? 0)
            let suggested = max(256, (p95 * 2 + 255) / 256 * 256)
            return finding(
                .oversizedMaxTokens, .budget, key, tally,
                title:
                    "calls ask for \(averageAsked) output tokens on average and use at most \(largest) (95% use \(p95) or fewer)",
                action:
                    "Set max_tokens near \(suggested) for these calls: budgets hold the worst case while a call runs, so smaller holds leave room for more calls.",
                calculation:
                    "output held against budgets: \(held.decimalString) USD; output used: \(used.decimalString) USD; \(refused) calls refused by budgets in the window",
                evidence: [
                    "average_max_tokens": String(averageAsked), "p95_output_tokens": String(p95),
                    "largest_output_tokens": String(largest), "held_output_usd": held.decimalString,
                    "used_output_usd": used.decimalString, "budget_refusals": String(refused),
                    "suggested_max_tokens": String(suggested),
                ])
        }
    }

    // MARK: Retries and fallbacks

    /// What routed attempts that failed (an error, or a stream cut short) were billed before another
    /// deployment answered.
    func retries(_ calls: [ShapedCall]) -> [SavingsFinding] {
        var tallies: [ModelKey: Tally] = [:]
        for call in calls {
            let event = call.event
            guard let route = event.route, route.contains(" attempt="), let cost = event.cost, cost.nanos > 0,
                (event.status ?? 200) >= 400 || event.usageSource == .estimated
            else { continue }
            let key = ModelKey(provider: event.provider, model: event.model)
            tallies[key, default: Tally()].add(event, saving: cost)
        }
        return tallies.compactMap { key, tally in
            finding(
                .retrySpend, .measured, key, tally,
                title:
                    "\(Self.count(tally.calls, "routed attempt")) on \(key.provider.rawValue)/\(key.model) failed after they were billed",
                action:
                    "Look at this deployment's failures (GET /api/routes/health); lower its priority or weight, or shorten its deadline so calls move on sooner.",
                calculation: "the failed attempts' billed usage cost \(tally.saving.decimalString) USD",
                evidence: ["failed_attempts": String(tally.calls)])
        }
    }
}
