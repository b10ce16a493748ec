import MeterrCore
import Testing

@testable import MeterrPricing

@Suite("Exact decimals")
struct DecimalTests {
    @Test("LiteLLM per-token numbers become exact prices per million tokens, without Double")
    func perToken() throws {
        #expect(try TokenPrice.perToken("3.75e-06").get().perMillionText == "3.75")
        #expect(try TokenPrice.perToken("1.375e-07").get().perMillionText == "0.1375")
        #expect(try TokenPrice.perToken("5.46875e-07").get().perMillionText == "0.546875")
        #expect(try TokenPrice.perToken("0.000168").get().perMillionText == "168")
        #expect(try TokenPrice.perToken("0.0").get().nanosPerMillion == 0)
        // 1.1e-06 is 1.0999999999999999e-06 as a Double; here it is exactly $1.10/M.
        #expect(try TokenPrice.perToken("1.1e-06").get().nanosPerMillion == 1_100_000_000)
        #expect(TokenPrice.perToken("1e-16") == .failure(.tooPrecise))
        #expect(TokenPrice.perToken("-1e-06") == .failure(.negative))
        #expect(TokenPrice.perToken("0x10") == .failure(.notANumber))
        #expect(TokenPrice.perToken("1e40") == .failure(.tooLarge))
    }

    @Test("Prices print back the way LiteLLM spells them")
    func pythonSpelling() {
        #expect(dollarsPerMillion("3.75").perTokenText == "3.75e-06")
        #expect(dollarsPerMillion("0.15").perTokenText == "1.5e-07")
        #expect(dollarsPerMillion("150").perTokenText == "0.00015")
        #expect(dollarsPerMillion("600").perTokenText == "0.0006")
        #expect(dollarsPerMillion("10").perTokenText == "1e-05")
        #expect(dollarsPerMillion("0").perTokenText == "0.0")
    }
}

@Suite("The shipped catalog")
struct ShippedCatalogTests {
    @Test("Every provider meterr meters has models, and every version names its source")
    func coverage() {
        let providers = Set(shipped.entries.map(\.provider))
        #expect(providers.isSuperset(of: [.openai, .anthropic, .gemini, .mistral, .cohere]))
        for entry in shipped.entries {
            for version in entry.versions {
                #expect(!version.source.isEmpty, "\(entry.id) has a version without a source")
            }
        }
        #expect(shipped.entry(provider: .anthropic, model: "claude-sonnet-4")?.deprecationDate == "2026-05-14")
        #expect(shipped.entries.contains { $0.mode == "embedding" && $0.provider == .openai })
    }

    @Test("The catalog survives its own format: encode then decode gives the same entries")
    func ownFormatRoundTrip() throws {
        let again = try PriceCatalog.decode(Array(shipped.encode().utf8))
        #expect(again.entries == shipped.entries)
    }

    @Test("A malformed catalog names the entry and key at fault")
    func malformedCatalog() {
        let text = """
            {"format": "meterr.prices.v1", "models": [{"provider": "openai", "model": "x",
              "versions": [{"effective_from": "2026-01-01", "input": 2.5, "output": "10"}]}]}
            """
        do {
            _ = try PriceCatalog.decode(Array(text.utf8))
            Issue.record("a number where a decimal string belongs was accepted")
        } catch {
            #expect(error.field == "models[0] (openai/x).versions[0].input")
        }
    }

    @Test("An overlay adds versions to shipped entries and new entries of its own")
    func overlay() throws {
        let overlay = try PriceCatalog(entries: [
            CatalogEntry(
                provider: .anthropic, model: "claude-haiku-4-5",
                versions: [
                    try PriceVersion(
                        effectiveFrom: "2027-01-01", source: "overlay",
                        prices: PriceSet(input: dollarsPerMillion("0.8"), output: dollarsPerMillion("4")))
                ]),
            CatalogEntry(
                provider: .mistral, model: "mistral-small-2506",
                versions: [
                    try PriceVersion(
                        effectiveFrom: "2025-06-20", source: "overlay",
                        prices: PriceSet(input: dollarsPerMillion("0.1"), output: dollarsPerMillion("0.3")))
                ]),
        ])
        let merged = try shipped.merging(overlay)
        let haiku = merged.entry(provider: .anthropic, model: "claude-haiku-4-5-20251001")
        #expect(haiku?.versions.map(\.effectiveFrom) == ["2025-10-01", "2027-01-01"])
        #expect(merged.entry(provider: .mistral, model: "mistral-small-2506") != nil)
        #expect(merged.entries.count == shipped.entries.count + 1)
    }
}

@Suite("LiteLLM import and export")
struct LiteLLMTests {
    let sample = """
        {
          "sample_spec": {"input_cost_per_token": 0.0, "litellm_provider": "one of https://docs.litellm.ai/docs/providers"},
          "gpt-4o": {"input_cost_per_token": 3e-06, "output_cost_per_token": 1e-05, "cache_read_input_token_cost": 1.25e-06,
                     "litellm_provider": "openai", "mode": "chat"},
          "gpt-4o-mini": {"input_cost_per_token": 1.5e-07, "output_cost_per_token": 6e-07,
                          "cache_read_input_token_cost": 7.5e-08, "input_cost_per_token_batches": 7.5e-08,
                          "output_cost_per_token_batches": 3e-07, "litellm_provider": "openai", "mode": "chat"},
          "gpt-4o-mini-2024-07-18": {"input_cost_per_token": 1.5e-07, "output_cost_per_token": 6e-07,
                          "litellm_provider": "openai", "mode": "chat"},
          "mistral/mistral-small-2506": {"input_cost_per_token": 6e-08, "output_cost_per_token": 1.8e-07,
                          "litellm_provider": "mistral", "mode": "chat", "max_input_tokens": 128000},
          "gemini/gemini-9-pro": {"input_cost_per_token": 2e-06, "output_cost_per_token": 1.2e-05,
              "input_cost_per_token_above_200k_tokens": 4e-06, "output_cost_per_token_above_200k_tokens": 1.8e-05,
              "cache_read_input_token_cost": 2e-07, "litellm_provider": "gemini", "mode": "chat"},
          "bedrock/us.anthropic.claude-x": {"input_cost_per_token": 1e-06, "output_cost_per_token": 5e-06,
                          "litellm_provider": "bedrock", "mode": "chat"},
          "dall-e-3": {"input_cost_per_image": 0.04, "litellm_provider": "openai", "mode": "image_generation"},
          "command-free": {"input_cost_per_token": 0.0, "output_cost_per_token": 0, "litellm_provider": "cohere_chat"}
        }
        """

    @Test("An import reports added, changed and skipped entries and only touches the overlay")
    func mergeReport() throws {
        let result = try LiteLLM.merge(
            Array(sample.utf8), sourceName: "sample.json", current: shipped, overlay: .empty,
            effectiveFrom: "2026-12-01")
        #expect(Set(result.added.compactMap(\.entryId)) == ["mistral/mistral-small-2506", "gemini/gemini-9-pro"])
        #expect(result.changed.map(\.entryId) == ["openai/gpt-4o"])
        let skipped = Dictionary(uniqueKeysWithValues: result.skipped.map { ($0.key, $0.detail) })
        #expect(skipped["gpt-4o-mini"] == "unchanged")
        #expect(skipped["gpt-4o-mini-2024-07-18"] == "same model as an earlier key (gpt-4o-mini)")
        #expect(skipped["bedrock/us.anthropic.claude-x"] == "provider bedrock is not one meterr meters")
        #expect(skipped["dall-e-3"] == "mode image_generation is not priced per token")
        #expect(skipped["sample_spec"] == "documentation entry")
        #expect(skipped["command-free"] == "all prices are zero (unpriced is not free)")

        // The change starts on the import date; history keeps the old price.
        let catalog = try shipped.merging(result.overlay)
        let engine = CostEngine(catalog: catalog)
        let usage = Usage(inputTokens: 1_000_000)
        #expect(usd(try engine.cost(model: "gpt-4o", usage: usage, at: at("2026-11-30T00:00:00Z"))) == "2.500000000")
        let after = try engine.cost(model: "gpt-4o", usage: usage, at: at("2026-12-01T00:00:00Z"))
        #expect(usd(after) == "3.000000000")
        #expect(after?.priceId == "openai/gpt-4o@2026-12-01")
        // The imported long-context tier works: 200,001 × 4 → $0.800004.
        let long = try engine.cost(
            model: "gemini-9-pro", provider: .gemini, usage: Usage(inputTokens: 200_001), at: at("2026-12-02T00:00:00Z")
        )
        #expect(usd(long) == "0.800004000")
    }

    @Test("A malformed file is an error that names the entry and key, and nothing is imported")
    func malformed() {
        let badValue =
            #"{"gpt-4o": {"input_cost_per_token": "3e-06", "output_cost_per_token": 1e-05, "litellm_provider": "openai"}}"#
        do {
            _ = try LiteLLM.merge(
                Array(badValue.utf8), sourceName: "bad.json", current: shipped, overlay: .empty,
                effectiveFrom: "2026-12-01")
            Issue.record("a string price was accepted")
        } catch {
            #expect(error.field == "gpt-4o.input_cost_per_token")
        }
        let badSyntax = #"{"gpt-4o": {"input_cost_per_token": 3e-06,, }}"#
        #expect(throws: MeterrError.self) {
            try LiteLLM.merge(
                Array(badSyntax.utf8), sourceName: "bad.json", current: shipped, overlay: .empty,
                effectiveFrom: "2026-12-01")
        }
        let notAnEntry = #"{"gpt-4o": 3}"#
        do {
            _ = try LiteLLM.merge(
                Array(notAnEntry.utf8), sourceName: "bad.json", current: shipped, overlay: .empty,
                effectiveFrom: "2026-12-01")
            Issue.record("a number where an entry belongs was accepted")
        } catch {
            #expect(error.field == "gpt-4o")
        }
    }

    @Test("Exporting the catalog to LiteLLM's format and importing it back gives the same prices")
    func roundTrip() throws {
        let now = at("2026-11-29T00:00:00Z")
        let exported = LiteLLM.export(shipped, at: now)
        let result = try LiteLLM.merge(
            Array(exported.utf8), sourceName: "export.json", current: .empty, overlay: .empty,
            effectiveFrom: "2026-11-29")
        #expect(result.changed.isEmpty)
        let imported = result.overlay
        for entry in shipped.entries {
            guard let original = entry.version(at: now) else { continue }
            let copy = imported.entry(provider: entry.provider, model: entry.model)?.latestVersion
            #expect(copy?.prices == original.prices, "\(entry.id) prices")
            #expect(copy?.longContext == original.longContext, "\(entry.id) long context")
            #expect(copy?.serviceTiers == original.serviceTiers, "\(entry.id) service tiers")
            #expect(copy?.toolFees == original.toolFees, "\(entry.id) tool fees")
            let copiedEntry = imported.entry(provider: entry.provider, model: entry.model)
            #expect(copiedEntry?.capabilities == entry.capabilities, "\(entry.id) capabilities")
        }
        // And importing the export over the shipped catalog changes nothing.
        let again = try LiteLLM.merge(
            Array(exported.utf8), sourceName: "export.json", current: shipped, overlay: .empty,
            effectiveFrom: "2026-11-29")
        #expect(again.added.isEmpty && again.changed.isEmpty)
    }
}
