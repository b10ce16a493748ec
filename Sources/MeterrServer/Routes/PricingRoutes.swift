import Foundation
import Hummingbird
import MeterrCore
import MeterrPricing
import MeterrStore
import MeterrTokenizer
import NIOCore

/// `/api/prices` (the catalog) and `/api/cost/estimate` (the exact cost of given token counts).
struct PricingRoutes: Sendable {
    let prices: PriceBook
    /// The cost engine in force (SIGHUP may replace it).
    var engine: CostEngine { prices.engine }
    let ledger: any UsageLedger
    let maxBodyBytes: Int
    let clock: WallClock

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.get("prices", use: prices)
        group.get("prices/unpriced", use: unpriced)
        group.post("cost/estimate", use: estimate)
    }

    /// The catalog in meterr's format, or in LiteLLM's with `?format=litellm`.
    @Sendable func prices(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        switch request.uri.queryParameters.get("format") ?? "meterr" {
        case "meterr": return jsonResponse(bytes: Array(engine.catalog.encode().utf8))
        case "litellm": return jsonResponse(bytes: Array(LiteLLM.export(engine.catalog, at: clock.now()).utf8))
        default: throw MeterrError.invalid("format", "must be meterr or litellm")
        }
    }

    /// The organisation's calls whose model had no price, by `provider/model`: the prices to add.
    /// Counted from the ledger, as the usage summary and the dashboard count them (the cost
    /// engine's own counters also count estimates and other organisations' calls).
    @Sendable func unpriced(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let summary = try await ledger.summary(
            org: context.principal.orgId, groupBy: .model, from: Timestamp(milliseconds: 0), to: clock.now())
        var models: [String: Int] = [:]
        for group in summary.groups where group.totals.unpricedRequests > 0 {
            let name = [group.provider, group.value].compactMap { $0 }.joined(separator: "/")
            models[name, default: 0] += group.totals.unpricedRequests
        }
        return try jsonResponse(UnpricedCalls(unpricedCalls: summary.totals.unpricedRequests, models: models))
    }

    /// Prices token counts: `{"model", "input_tokens", "output_tokens" | "max_tokens", …}`.
    ///
    /// With `max_tokens` and no `output_tokens`, the output is taken at its maximum: the worst case
    /// a budget reserves before a call.
    @Sendable func estimate(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let body = try await collectBody(request, limit: maxBodyBytes)
        guard let json = JSONValue(parsing: body.readableBytesView), case .object = json else {
            throw MeterrError.invalid("body", "must be a JSON object with model and token counts")
        }
        guard let model = json["model"]?.string, !model.isEmpty else {
            throw MeterrError.invalid("model", "is required")
        }
        var provider: Provider?
        if let name = json["provider"], !name.isNull {
            guard let value = name.string.flatMap(Provider.init(rawValue:)) else {
                throw MeterrError.invalid("provider", "unknown provider")
            }
            provider = value
        }
        func count(_ key: String) throws -> Int? {
            guard let value = json[key], !value.isNull else { return nil }
            guard case .number(let text) = value, let count = Int(text) else {
                throw MeterrError.invalid(key, "must be a whole number")
            }
            return count
        }
        // Input: given as a count, or counted by the tokenizer from text, messages, tools or input.
        var counted: TokenCount?
        if json["input_tokens"] == nil || json["input_tokens"]?.isNull == true,
            json["text"] != nil || json["messages"] != nil || json["tools"] != nil || json["input"] != nil
        {
            counted = try TokenizerCount.of(requestJSON: Data(body.readableBytesView))
        }
        guard let input = try count("input_tokens") ?? counted?.count else {
            throw MeterrError.invalid("input_tokens", "is required (or text, messages, tools or input to count)")
        }
        guard let output = try count("output_tokens") ?? count("max_tokens") else {
            throw MeterrError.invalid("output_tokens", "is required (or max_tokens for the worst case)")
        }
        let usage = Usage(
            inputTokens: input, cacheReadTokens: try count("cache_read_tokens") ?? 0,
            cacheWriteTokens: try count("cache_write_tokens") ?? 0,
            cacheWrite1hTokens: try count("cache_write_1h_tokens") ?? 0, outputTokens: output,
            reasoningTokens: try count("reasoning_tokens") ?? 0)
        try usage.validate()
        var at = clock.now()
        if let text = json["at"]?.string {
            guard let time = Timestamp(rfc3339: text) else {
                throw MeterrError.invalid("at", "must be an RFC 3339 time")
            }
            at = time
        }
        let batch = json["batch"] == .bool(true)
        guard
            let quote = try engine.cost(
                model: model, provider: provider, usage: usage, at: at, batch: batch,
                serviceTier: json["service_tier"]?.string, org: context.principal.orgId)
        else {
            throw MeterrError.invalid("model", "no price for \"\(model)\" at \(at.rfc3339)")
        }
        var answer = quote.json
        if let counted, case .object(var members) = answer {
            members.append(("input_tokens_counted", .number(String(counted.count))))
            members.append(("input_tokens_exact", .bool(counted.exact)))
            answer = .object(members)
        }
        return jsonResponse(bytes: Array(OrderedJSONWriter.write(answer).utf8))
    }
}
