import MeterrCore
import Testing

@testable import MeterrPricing

func dollarsPerMillion(_ text: String) -> TokenPrice { try! TokenPrice.perMillion(text).get() }

/// A catalog with one model whose price doubles on 2026-11-15.
func changingCatalog() throws -> PriceCatalog {
    try PriceCatalog(entries: [
        CatalogEntry(
            provider: .openai, model: "test-model",
            versions: [
                try PriceVersion(
                    effectiveFrom: "2026-11-15", source: "test",
                    prices: PriceSet(input: dollarsPerMillion("2"), output: dollarsPerMillion("4"))),
                try PriceVersion(
                    effectiveFrom: "2026-11-01", source: "test",
                    prices: PriceSet(input: dollarsPerMillion("1"), output: dollarsPerMillion("2"))),
            ])
    ])
}

@Suite("Price versions and org overrides")
struct VersionsAndOverridesTests {
    @Test("A price change in the middle of a month prices each call with the version in effect at its time")
    func midMonthChange() throws {
        let engine = CostEngine(catalog: try changingCatalog())
        let usage = Usage(inputTokens: 1_000_000, outputTokens: 1_000_000)
        let before = try engine.cost(model: "test-model", usage: usage, at: at("2026-11-14T23:59:59.999Z"))
        #expect(usd(before) == "3.000000000")
        #expect(before?.priceId == "openai/test-model@2026-11-01")
        let after = try engine.cost(model: "test-model", usage: usage, at: at("2026-11-15T00:00:00Z"))
        #expect(usd(after) == "6.000000000")
        #expect(after?.priceId == "openai/test-model@2026-11-15")
        // Before the first version the model had no price: unpriced, not free.
        #expect(try engine.cost(model: "test-model", usage: usage, at: at("2026-10-31T23:59:59Z")) == nil)
    }

    @Test("The gpt-4o alias keeps its 2024 history: $5/$15 until it moved to the 2024-08-06 snapshot")
    func gpt4oHistory() throws {
        let engine = CostEngine(catalog: shipped)
        let usage = Usage(inputTokens: 1_000_000, outputTokens: 1_000_000)
        let early = try engine.cost(model: "gpt-4o", usage: usage, at: at("2024-09-01T00:00:00Z"))
        #expect(early?.priceId == "openai/gpt-4o@2024-05-13")
        #expect(usd(early) == "20.000000000")
        let later = try engine.cost(model: "gpt-4o", usage: usage, at: at("2024-11-01T00:00:00Z"))
        #expect(later?.priceId == "openai/gpt-4o@2024-10-02")
        #expect(usd(later) == "12.500000000")
        // The dated snapshot has its own entry and was always $2.50/$10.
        let snapshot = try engine.cost(model: "gpt-4o-2024-08-06", usage: usage, at: at("2024-09-01T00:00:00Z"))
        #expect(snapshot?.priceId == "openai/gpt-4o-2024-08-06@2024-08-06")
        #expect(usd(snapshot) == "12.500000000")
    }

    @Test("Org overrides: a model's negotiated price beats a provider discount, which beats an org-wide one")
    func overridePrecedence() throws {
        let overrides = [
            try OrgPriceOverride.discount(org: "acme", scope: .all, percent: "5"),
            try OrgPriceOverride.discount(org: "acme", scope: .provider(.anthropic), percent: "12.5"),
            try OrgPriceOverride(
                org: "acme", scope: .model("openai/gpt-4o"),
                adjustment: .prices(PriceSet(input: dollarsPerMillion("2"), output: dollarsPerMillion("8"))),
                effectiveFrom: "2026-01-01"),
        ]
        let engine = CostEngine(catalog: shipped, overrides: overrides)
        let usage = Usage(inputTokens: 1_000_000, outputTokens: 1_000_000)
        let when = at("2026-06-01T00:00:00Z")
        // Negotiated gpt-4o: 2 + 8 = $10 (list would be $12.50).
        let negotiated = try engine.cost(model: "gpt-4o", usage: usage, at: when, org: "acme")
        #expect(usd(negotiated) == "10.000000000")
        #expect(negotiated?.priceId == "org:acme/openai/gpt-4o@2026-01-01")
        // Before the contract starts, the org-wide 5% applies to the list price: 12.5 × 0.95 = $11.875.
        let beforeContract = try engine.cost(model: "gpt-4o", usage: usage, at: at("2025-12-31T00:00:00Z"), org: "acme")
        #expect(usd(beforeContract) == "11.875000000")
        // Anthropic 12.5% off: claude-haiku-4-5 $6 → $5.25, and with batch → $2.625.
        let discounted = try engine.cost(model: "claude-haiku-4-5", usage: usage, at: when, org: "acme")
        #expect(usd(discounted) == "5.250000000")
        #expect(discounted?.priceId == "anthropic/claude-haiku-4-5@2025-10-01~org:acme:-12.5%")
        #expect(
            usd(try engine.cost(model: "claude-haiku-4-5", usage: usage, at: when, batch: true, org: "acme"))
                == "2.625000000")
        // Another org pays list price.
        #expect(usd(try engine.cost(model: "claude-haiku-4-5", usage: usage, at: when, org: "globex")) == "6.000000000")
        // Events carry their org.
        let event = UsageEvent(
            id: "evt_3", ts: when, org: "acme", provider: .openai, model: "gpt-4o-2024-11-20", usage: usage)
        #expect(engine.price(event)?.cost.decimalString == "11.875000000")
    }

    @Test("A discount is an exact decimal percentage; nonsense is refused")
    func discountParsing() {
        #expect(throws: MeterrError.self) { try OrgPriceOverride.discount(org: "a", scope: .all, percent: "101") }
        #expect(throws: MeterrError.self) { try OrgPriceOverride.discount(org: "a", scope: .all, percent: "ten") }
        #expect(throws: MeterrError.self) { try OrgPriceOverride.discount(org: "a", scope: .all, percent: "-3") }
    }
}

@Suite("Model name resolution")
struct ResolutionTests {
    let engine = CostEngine(catalog: shipped, azureDeployments: ["prod-chat": "gpt-4o", "Cheap": "gpt-4o-mini"])

    func id(_ model: String, _ provider: Provider?) -> String? { engine.resolve(model: model, provider: provider)?.id }

    @Test("Dated snapshots resolve to their base unless they have their own entry")
    func snapshots() {
        #expect(id("gpt-4o-2024-08-06", .openai) == "openai/gpt-4o-2024-08-06")
        #expect(id("gpt-5.4-mini-2026-09-01", .openai) == "openai/gpt-5.4-mini")
        #expect(id("o3-2025-04-16", .openai) == "openai/o3")
        #expect(id("claude-opus-4-20250514", .anthropic) == "anthropic/claude-opus-4")
        #expect(id("claude-sonnet-4-6-20270101", .anthropic) == "anthropic/claude-sonnet-4-6")
        #expect(id("gemini-2.0-flash-001", .gemini) == "gemini/gemini-2.0-flash")
        #expect(id("gemini-2.5-flash-002", .gemini) == "gemini/gemini-2.5-flash")
    }

    @Test("Provider prefixes and -latest aliases resolve, with or without a provider")
    func prefixesAndAliases() {
        #expect(id("anthropic/claude-sonnet-4-5-20250929", nil) == "anthropic/claude-sonnet-4-5")
        #expect(id("openai/gpt-4.1-mini", nil) == "openai/gpt-4.1-mini")
        #expect(id("models/gemini-2.5-pro", .gemini) == "gemini/gemini-2.5-pro")
        #expect(id("claude-3-5-haiku-latest", .anthropic) == "anthropic/claude-3-5-haiku")
        #expect(id("mistral-large-latest", .mistral) == "mistral/mistral-large-2512")
        #expect(id("MISTRAL-MEDIUM-LATEST", .mistral) == "mistral/mistral-medium-2604")
        #expect(id("command-r", .cohere) == "cohere/command-r-08-2024")
        #expect(id("claude-sonnet-5", nil) == "anthropic/claude-sonnet-5")
        // The prefix must agree with the provider of a bare name lookup, and unknown prefixes are not guessed.
        #expect(id("bedrock/claude-sonnet-4-5", nil) == nil)
        #expect(id("gpt-4o", .anthropic) == nil)
    }

    @Test("Azure deployment names map to their model and are priced by the OpenAI entry")
    func azureDeployments() throws {
        #expect(id("prod-chat", .azure) == "openai/gpt-4o")
        #expect(id("cheap", .azure) == "openai/gpt-4o-mini")
        #expect(id("gpt-4.1", .azure) == "openai/gpt-4.1")
        #expect(id("prod-chat", .openai) == nil)
        let event = UsageEvent(
            id: "evt_4", ts: at("2026-01-01T00:00:00Z"), org: "acme", provider: .azure, model: "prod-chat",
            usage: Usage(inputTokens: 1_000_000, cacheReadTokens: 1_000_000, outputTokens: 0))
        #expect(engine.price(event)?.cost.decimalString == "1.250000000")
        #expect(engine.price(event)?.priceId == "openai/gpt-4o@2024-10-02")
    }
}
