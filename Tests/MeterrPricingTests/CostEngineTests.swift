import MeterrCore
import Testing

@testable import MeterrPricing

/// The shipped catalog, loaded once for all tests.
let shipped: PriceCatalog = try! PriceCatalog.shipped()

func at(_ text: String) -> Timestamp { Timestamp(rfc3339: text)! }

func usd(_ quote: CostQuote?) -> String? { quote?.cost.decimalString }

@Suite("Cost engine: hand-computed costs per provider")
struct CostEngineTests {
    let engine = CostEngine(catalog: shipped)

    @Test("OpenAI cached input is billed once, at the cached price, never on top of the full input")
    func openAICachedInput() throws {
        // gpt-4o: $2.50 in, $1.25 cached, $10 out per M. 10,000 prompt tokens of which 4,000 cached:
        // 6,000 × 2.5 + 4,000 × 1.25 + 500 × 10 = 15,000 + 5,000 + 5,000 = 25,000 $·tok/M = $0.025.
        let usage = Usage(inputTokens: 10_000, cacheReadTokens: 4_000, outputTokens: 500)
        let quote = try engine.cost(model: "gpt-4o", provider: .openai, usage: usage, at: at("2026-11-01T12:00:00Z"))
        #expect(usd(quote) == "0.025000000")
        #expect(quote?.priceId == "openai/gpt-4o@2024-10-02")
        // Billing the cached tokens twice (full input + cached) would have cost $0.030.
        #expect(quote?.lines.map(\.component) == ["input", "cache_read", "output"])
    }

    @Test("Anthropic cache reads and 5-minute and 1-hour writes are parts of the input, each at its own price")
    func anthropicCacheWrites() throws {
        // claude-sonnet-4-5: in 3, read 0.3, write 5m 3.75, write 1h 6, out 15 per M.
        // 1,000 uncached + 20,000 read + 3,000 write 5m + 2,000 write 1h = 26,000 input tokens.
        // 3,000 + 6,000 + 11,250 + 12,000 + 800 × 15 = 44,250 → $0.04425.
        let usage = Usage(
            inputTokens: 26_000, cacheReadTokens: 20_000, cacheWriteTokens: 3_000, cacheWrite1hTokens: 2_000,
            outputTokens: 800)
        let quote = try engine.cost(
            model: "claude-sonnet-4-5-20250929", provider: .anthropic, usage: usage, at: at("2025-10-15T00:00:00Z"))
        #expect(usd(quote) == "0.044250000")
        #expect(quote?.priceId == "anthropic/claude-sonnet-4-5@2025-09-29")
        #expect(quote?.lines.first { $0.component == "cache_write_1h" }?.amount == Money(nanos: 12_000_000))
    }

    @Test("Reasoning tokens are billed as output when the model has no reasoning price")
    func reasoningAsOutput() throws {
        // o3: in 2, out 8. 1,000 in; 2,000 out of which 1,500 reasoning → 2,000 + 16,000 = $0.018.
        let usage = Usage(inputTokens: 1_000, outputTokens: 2_000, reasoningTokens: 1_500)
        #expect(usd(try engine.cost(model: "o3", usage: usage, at: at("2026-01-01T00:00:00Z"))) == "0.018000000")
    }

    @Test("Reasoning tokens are billed at their own price where the catalog has one")
    func reasoningOwnPrice() throws {
        let catalog = try PriceCatalog(entries: [
            CatalogEntry(
                provider: .gemini, model: "thinker",
                versions: [
                    try PriceVersion(
                        effectiveFrom: "2026-01-01", source: "test",
                        prices: PriceSet(
                            input: .init(nanosPerMillion: 1_000_000_000),
                            output: .init(nanosPerMillion: 10_000_000_000),
                            reasoning: .init(nanosPerMillion: 20_000_000_000)))
                ])
        ])
        // 1,000 output of which 600 reasoning: 400 × 10 + 600 × 20 = 16,000 → $0.016 (+ 100 in × 1 = $0.0001).
        let usage = Usage(inputTokens: 100, outputTokens: 1_000, reasoningTokens: 600)
        let quote = try CostEngine(catalog: catalog).cost(
            model: "thinker", usage: usage, at: at("2026-02-01T00:00:00Z"))
        #expect(usd(quote) == "0.016100000")
    }

    @Test("Gemini 2.5 Pro switches the whole request to the long-context tier above 200,000 prompt tokens")
    func geminiLongContext() throws {
        let when = at("2026-06-01T00:00:00Z")
        // Exactly 200,000: standard. 200,000 × 1.25 + 1,000 × 10 = 260,000 → $0.26.
        let atBoundary = try engine.cost(
            model: "gemini-2.5-pro", provider: .gemini, usage: Usage(inputTokens: 200_000, outputTokens: 1_000),
            at: when)
        #expect(usd(atBoundary) == "0.260000000")
        #expect(atBoundary?.longContext == false)
        // 200,001: long tier for everything. 200,001 × 2.5 + 1,000 × 15 = 515,002.5 → $0.5150025.
        let above = try engine.cost(
            model: "gemini-2.5-pro", provider: .gemini, usage: Usage(inputTokens: 200_001, outputTokens: 1_000),
            at: when)
        #expect(usd(above) == "0.515002500")
        #expect(above?.longContext == true)
        // Cached tokens count toward the threshold and are billed at the long-tier cache price:
        // 100,001 × 2.5 + 100,000 × 0.25 + 1,000 × 15 = 250,002.5 + 25,000 + 15,000 → $0.2900025.
        let cached = try engine.cost(
            model: "models/gemini-2.5-pro", provider: .gemini,
            usage: Usage(inputTokens: 200_001, cacheReadTokens: 100_000, outputTokens: 1_000), at: when)
        #expect(usd(cached) == "0.290002500")
    }

    @Test("Claude Sonnet 4.5 counts cache reads toward the 200k long-context threshold")
    func anthropicLongContext() throws {
        let when = at("2026-01-10T00:00:00Z")
        // 140,000 uncached + 60,000 read = 200,000: standard. 420,000 + 18,000 + 15,000 → $0.453.
        let standard = try engine.cost(
            model: "claude-sonnet-4-5", provider: .anthropic,
            usage: Usage(inputTokens: 200_000, cacheReadTokens: 60_000, outputTokens: 1_000), at: when)
        #expect(usd(standard) == "0.453000000")
        // 150,000 uncached + 60,000 read = 210,000 > 200,000 although the uncached part alone is below:
        // 150,000 × 6 + 60,000 × 0.6 + 1,000 × 22.5 = 900,000 + 36,000 + 22,500 → $0.9585.
        let long = try engine.cost(
            model: "claude-sonnet-4-5", provider: .anthropic,
            usage: Usage(inputTokens: 210_000, cacheReadTokens: 60_000, outputTokens: 1_000), at: when)
        #expect(usd(long) == "0.958500000")
    }

    @Test("Batch halves the token cost")
    func batch() throws {
        // claude-haiku-4-5: 1M in × $1 + 1M out × $5 = $6; batch → $3.
        let usage = Usage(inputTokens: 1_000_000, outputTokens: 1_000_000)
        let when = at("2026-03-01T00:00:00Z")
        #expect(usd(try engine.cost(model: "claude-haiku-4-5", usage: usage, at: when)) == "6.000000000")
        let quote = try engine.cost(model: "claude-haiku-4-5", usage: usage, at: when, batch: true)
        #expect(usd(quote) == "3.000000000")
        #expect(quote?.serviceTier == "batch")
        // A usage event from a batch endpoint is priced the same way.
        let event = UsageEvent(
            id: "evt_1", ts: when, org: "acme", provider: .anthropic, model: "claude-haiku-4-5-20251001",
            endpoint: "batch", usage: usage)
        #expect(engine.price(event)?.cost.decimalString == "3.000000000")
    }

    @Test("Priority and flex tiers apply their multiplier; a tier the model lacks is flagged, not guessed")
    func serviceTiers() throws {
        let usage = Usage(inputTokens: 1_000_000, outputTokens: 100_000)
        let when = at("2026-05-01T00:00:00Z")
        // gpt-5: 1.25 + 0.1 × 10 = $2.25; priority ×2 → $4.50; flex ×0.5 → $1.125.
        #expect(usd(try engine.cost(model: "gpt-5", usage: usage, at: when, serviceTier: "priority")) == "4.500000000")
        #expect(usd(try engine.cost(model: "gpt-5", usage: usage, at: when, serviceTier: "flex")) == "1.125000000")
        let missing = try engine.cost(model: "gpt-5-nano", usage: usage, at: when, serviceTier: "priority")
        #expect(missing?.unpricedServiceTier == "priority")
        // 1M × 0.05 + 0.1M × 0.4 = $0.09 at the standard rate.
        #expect(usd(missing) == "0.090000000")
    }

    @Test("Gemini 2.5 batch halves input and output but not cache reads")
    func geminiBatchKeepsCacheReadPrice() throws {
        // gemini-2.5-pro: 1,000,000 prompt of which 400,000 cached is above 200k: long tier (2.5 / 0.25 / 15).
        // Standard: 600,000 × 2.5 + 400,000 × 0.25 + 10,000 × 15 = 1,500,000 + 100,000 + 150,000 → $1.75.
        // Batch: 750,000 + 100,000 (cache reads not discounted) + 75,000 → $0.925.
        let usage = Usage(inputTokens: 1_000_000, cacheReadTokens: 400_000, outputTokens: 10_000)
        let when = at("2026-09-01T00:00:00Z")
        #expect(usd(try engine.cost(model: "gemini-2.5-pro", usage: usage, at: when)) == "1.750000000")
        let batch = try engine.cost(model: "gemini-2.5-pro", usage: usage, at: when, batch: true)
        #expect(usd(batch) == "0.925000000")
        #expect(batch?.lines.first { $0.component == "cache_read" }?.amount == Money(nanos: 100_000_000))
    }

    @Test("A quote's JSON carries the cost as a decimal string and each line's factor")
    func quoteJSON() throws {
        let quote = try engine.cost(
            model: "gemini-2.5-pro", usage: Usage(inputTokens: 1_000, cacheReadTokens: 500, outputTokens: 100),
            at: at("2026-09-01T00:00:00Z"), batch: true)
        let json = try #require(quote?.json)
        // 500 × 1.25 × 0.5 + 500 × 0.125 + 100 × 10 × 0.5 = 312.5 + 62.5 + 500 = 875 → $0.000875.
        #expect(json["cost_usd"] == .string("0.000875000"))
        #expect(json["price_id"] == .string("gemini/gemini-2.5-pro@2023-01-01"))
        guard case .array(let lines)? = json["lines"] else {
            Issue.record("no lines")
            return
        }
        #expect(lines.map { $0["multiplier"] } == [.string("0.5"), .string("1"), .string("0.5")])
    }

    @Test("A per-part service tier reads and writes back in the catalog format")
    func perPartTierFormat() throws {
        let tier = try PriceCatalog.decodeTier(
            OrderedJSONParser.parse(#"{"multiplier": "0.5", "cache_read": "1"}"#), path: "t")
        #expect(tier.input.partsPerMillion == 500_000 && tier.output.partsPerMillion == 500_000)
        #expect(tier.cacheRead == .one && !tier.isUniform)
        #expect(
            PriceCatalog.encodeTier(tier) == .object([("multiplier", .string("0.5")), ("cache_read", .string("1"))]))
        #expect(PriceCatalog.encodeTier(ServiceTier(.one)) == .string("1"))
        #expect(throws: MeterrError.self) {
            try PriceCatalog.decodeTier(OrderedJSONParser.parse(#"{"cache_read": "1"}"#), path: "t")
        }
    }

    @Test("Gemini, Mistral and Cohere price plain input and output")
    func otherProviders() throws {
        let when = at("2026-08-01T00:00:00Z")
        // gemini-2.5-flash: 10,000 prompt of which 4,000 cached; 2,000 output incl. thoughts.
        // 6,000 × 0.3 + 4,000 × 0.03 + 2,000 × 2.5 = 1,800 + 120 + 5,000 = 6,920 → $0.00692.
        let gemini = try engine.cost(
            model: "gemini-2.5-flash", provider: .gemini,
            usage: Usage(inputTokens: 10_000, cacheReadTokens: 4_000, outputTokens: 2_000, reasoningTokens: 1_500),
            at: when)
        #expect(usd(gemini) == "0.006920000")
        // mistral-medium-2508: 10 × 0.4 + 4 × 2 = 12 → $0.000012.
        let mistral = try engine.cost(
            model: "mistral-medium-2508", provider: .mistral, usage: Usage(inputTokens: 10, outputTokens: 4), at: when)
        #expect(usd(mistral) == "0.000012000")
        // Cohere billed units: command-a-03-2025 21 × 2.5 + 9 × 10 = 142.5 → $0.0001425.
        let cohere = try engine.cost(
            model: "command-a-03-2025", provider: .cohere, usage: Usage(inputTokens: 21, outputTokens: 9), at: when)
        #expect(usd(cohere) == "0.000142500")
        // Embeddings: text-embedding-3-small 1,000,000 × 0.02 → $0.02.
        let embedding = try engine.cost(
            model: "text-embedding-3-small", provider: .openai, usage: Usage(inputTokens: 1_000_000), at: when)
        #expect(usd(embedding) == "0.020000000")
    }

    @Test("Rounding is half to even, once per event, to whole nano-dollars")
    func roundingHalfEven() throws {
        let when = at("2026-01-01T00:00:00Z")
        // command-r7b: $0.0375/M in. 1 token = 37.5 nano-dollars → 38 (37 is odd); 3 tokens = 112.5 → 112.
        let one = try engine.cost(model: "command-r7b-12-2024", usage: Usage(inputTokens: 1), at: when)
        #expect(one?.cost.nanos == 38)
        let three = try engine.cost(model: "command-r7b-12-2024", usage: Usage(inputTokens: 3), at: when)
        #expect(three?.cost.nanos == 112)
        // 5 tokens = 187.5 → 188; rounding per line then summing could differ, the total is rounded once.
        let five = try engine.cost(model: "command-r7b-12-2024", usage: Usage(inputTokens: 5), at: when)
        #expect(five?.cost.nanos == 188)
    }

    @Test("Anthropic web search calls are billed per call on top of the tokens")
    func toolFees() throws {
        let quote = try engine.cost(
            model: "claude-sonnet-4-5", usage: Usage(inputTokens: 1_000, outputTokens: 100),
            at: at("2026-01-01T00:00:00Z"), toolCalls: ["web_search": 3])
        // 1,000 × 3 + 100 × 15 = 4,500 → $0.0045, + 3 × $0.01.
        #expect(usd(quote) == "0.034500000")
    }

    @Test("An unknown model has no cost, never zero, and is counted")
    func unknownModel() throws {
        let warnings = PricingWarnings()
        let engine = CostEngine(catalog: shipped, warnings: warnings)
        let quote = try engine.cost(
            model: "gpt-99-ultra", provider: .openai, usage: Usage(inputTokens: 10, outputTokens: 10),
            at: at("2026-01-01T00:00:00Z"))
        #expect(quote == nil)
        let event = UsageEvent(
            id: "evt_2", ts: at("2026-01-01T00:00:00Z"), org: "acme", provider: .mistral, model: "mistral-tiny-9000",
            usage: Usage(inputTokens: 1, outputTokens: 1))
        #expect(engine.price(event) == nil)
        #expect(warnings.unpricedCalls == 2)
        #expect(warnings.unpricedModels["mistral/mistral-tiny-9000"] == 1)
    }

    @Test("An event whose reported model is unknown falls back to the model it asked for")
    func requestedModelFallback() {
        let event = UsageEvent(
            id: "evt_5", ts: at("2026-02-01T00:00:00Z"), org: "acme", provider: .openai, model: "gpt-4.1-turbo-exp",
            modelRequested: "gpt-4.1-mini", usage: Usage(inputTokens: 1_000_000, outputTokens: 1_000_000))
        // gpt-4.1-mini: 0.4 + 1.6 = $2; at flex it has no multiplier, at priority ×1.75 = $3.50.
        #expect(engine.price(event)?.cost.decimalString == "2.000000000")
        #expect(engine.price(event)?.priceId == "openai/gpt-4.1-mini@2025-04-14")
        #expect(engine.price(event, serviceTier: "priority")?.cost.decimalString == "3.500000000")
    }

    @Test("Counts that cannot be right are rejected with the field at fault")
    func badInput() {
        #expect(throws: MeterrError.self) {
            try engine.cost(model: "gpt-4o", usage: Usage(inputTokens: -1), at: at("2026-01-01T00:00:00Z"))
        }
        do {
            _ = try engine.cost(
                model: "gpt-4o", usage: Usage(inputTokens: 100, cacheReadTokens: 80, cacheWriteTokens: 30),
                at: at("2026-01-01T00:00:00Z"))
            Issue.record("cache parts above the input total were accepted")
        } catch {
            #expect(error.field == "input_tokens")
        }
        #expect(throws: MeterrError.self) {
            try engine.cost(
                model: "gpt-4o", usage: Usage(inputTokens: 1, outputTokens: 1, reasoningTokens: 2),
                at: at("2026-01-01T00:00:00Z"))
        }
    }
}
