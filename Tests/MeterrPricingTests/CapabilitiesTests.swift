import MeterrCore
import Testing

@testable import MeterrPricing

@Suite("Model capabilities")
struct CapabilitiesTests {
    func entry(_ model: String, _ capabilities: ModelCapabilities, maxOutputTokens: Int? = nil) throws -> CatalogEntry {
        CatalogEntry(
            provider: .openai, model: model, maxInputTokens: 128_000, maxOutputTokens: maxOutputTokens,
            capabilities: capabilities,
            versions: [
                try PriceVersion(
                    effectiveFrom: "2026-01-01", source: "test",
                    prices: PriceSet(input: dollarsPerMillion("1"), output: dollarsPerMillion("2")))
            ])
    }

    func keys(_ value: OrderedJSON?) -> [String] {
        guard case .object(let members)? = value else { return [] }
        return members.map(\.key)
    }

    @Test("The catalog format writes only the known capabilities, after max_output_tokens, and reads them back")
    func fileRoundTrip() throws {
        let catalog = try PriceCatalog(entries: [
            try entry("known", ModelCapabilities(tools: true, vision: false), maxOutputTokens: 16_384),
            try entry("unknown", ModelCapabilities()),
        ])
        let text = catalog.encode()
        let written = try OrderedJSONParser.parse(Array(text.utf8))
        let known = written["models"]?.array?.first
        #expect(
            keys(known) == [
                "provider", "model", "mode", "max_input_tokens", "max_output_tokens", "supports", "versions",
            ])
        #expect(keys(known?["supports"]) == ["tools", "vision"])
        #expect(known?["supports"]?["vision"] == .bool(false))
        let unknown = written["models"]?.array?.last
        #expect(keys(unknown) == ["provider", "model", "mode", "max_input_tokens", "versions"])

        let again = try PriceCatalog.decode(Array(text.utf8))
        #expect(again.entries == catalog.entries)
        #expect(again.entries[0].capabilities == ModelCapabilities(tools: true, vision: false, jsonSchema: nil))
        #expect(again.entries[1].capabilities.isUnknown)
    }

    @Test("A supports member with an unknown key or a value that is not a boolean is refused, naming the field")
    func malformedSupports() {
        let cases: [(supports: String, field: String)] = [
            (#"{"tools": "yes"}"#, "models[0] (openai/x).supports.tools"),
            (#"{"vision": null}"#, "models[0] (openai/x).supports.vision"),
            (#"{"json_schema": 1}"#, "models[0] (openai/x).supports.json_schema"),
            (#"{"streaming": true}"#, "models[0] (openai/x).supports.streaming"),
            (#"["tools"]"#, "models[0] (openai/x).supports"),
        ]
        for (supports, field) in cases {
            let text = """
                {"format": "meterr.prices.v1", "models": [{"provider": "openai", "model": "x", "supports": \(supports),
                  "versions": [{"effective_from": "2026-01-01", "input": "2.5", "output": "10"}]}]}
                """
            do {
                _ = try PriceCatalog.decode(Array(text.utf8))
                Issue.record("supports \(supports) was accepted")
            } catch {
                #expect(error.field == field, "supports \(supports)")
            }
        }
    }

    @Test("A LiteLLM import maps supports_function_calling, supports_vision and supports_response_schema")
    func liteLLMImport() throws {
        let file = """
            {
              "gpt-9": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06, "litellm_provider": "openai",
                        "mode": "chat", "supports_function_calling": true, "supports_vision": false,
                        "supports_response_schema": true, "supports_reasoning": true},
              "gpt-9-mini": {"input_cost_per_token": 1e-07, "output_cost_per_token": 2e-07, "litellm_provider": "openai",
                             "mode": "chat", "supports_vision": true}
            }
            """
        let result = try LiteLLM.merge(
            Array(file.utf8), sourceName: "sample.json", current: .empty, overlay: .empty, effectiveFrom: "2026-12-01")
        let full = result.overlay.entry(provider: .openai, model: "gpt-9")
        #expect(full?.capabilities == ModelCapabilities(tools: true, vision: false, jsonSchema: true))
        let partial = result.overlay.entry(provider: .openai, model: "gpt-9-mini")
        #expect(partial?.capabilities == ModelCapabilities(tools: nil, vision: true, jsonSchema: nil))

        let exported = try OrderedJSONParser.parse(Array(LiteLLM.export(result.overlay, at: at("2026-12-01")).utf8))
        #expect(exported["gpt-9"]?["supports_function_calling"] == .bool(true))
        #expect(exported["gpt-9"]?["supports_vision"] == .bool(false))
        #expect(exported["gpt-9"]?["supports_response_schema"] == .bool(true))
        #expect(exported["gpt-9-mini"]?["supports_function_calling"] == nil)
        #expect(exported["gpt-9-mini"]?["supports_vision"] == .bool(true))
    }

    @Test("A LiteLLM capability flag that is not a boolean is an error naming the entry and key")
    func liteLLMMalformedFlag() {
        let file = """
            {"gpt-9": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06, "litellm_provider": "openai",
                       "supports_vision": "yes"}}
            """
        do {
            _ = try LiteLLM.merge(
                Array(file.utf8), sourceName: "bad.json", current: .empty, overlay: .empty, effectiveFrom: "2026-12-01")
            Issue.record("a string capability flag was accepted")
        } catch {
            #expect(error.field == "gpt-9.supports_vision")
        }
    }

    @Test("The shipped catalog carries LiteLLM's capabilities for well-known models and leaves the rest unknown")
    func shippedCapabilities() {
        let sonnet = shipped.entry(provider: .anthropic, model: "claude-sonnet-4-5")?.capabilities
        #expect(sonnet == ModelCapabilities(tools: true, vision: true, jsonSchema: true))
        let gpt41 = shipped.entry(provider: .openai, model: "gpt-4.1")?.capabilities
        #expect(gpt41 == ModelCapabilities(tools: true, vision: true, jsonSchema: true))
        // A false is kept as false, not dropped to unknown: o3-mini takes no images.
        #expect(shipped.entry(provider: .openai, model: "o3-mini")?.capabilities.vision == false)
        // LiteLLM sets no flags on embedding models, so nothing is claimed for them.
        for embedding in shipped.entries where embedding.mode == "embedding" {
            #expect(embedding.capabilities.isUnknown, "\(embedding.id)")
        }
        // A model whose LiteLLM key is gone from 1.110.2 stays unknown rather than guessed.
        #expect(shipped.entry(provider: .anthropic, model: "claude-3-opus")?.capabilities.isUnknown == true)
    }

    @Test("The shipped catalog file is exactly what the catalog writer writes")
    func shippedFileIsCanonical() throws {
        let bytes = try PriceCatalog.shippedFile()
        #expect(String(decoding: bytes, as: UTF8.self) == shipped.encode())
    }

    @Test("An overlay's known capability wins; its unknown one keeps the base's")
    func merging() throws {
        let base = try PriceCatalog(entries: [try entry("m", ModelCapabilities(tools: true, vision: true))])
        let overlay = try PriceCatalog(entries: [try entry("m", ModelCapabilities(vision: false, jsonSchema: true))])
        let merged = try base.merging(overlay).entry(provider: .openai, model: "m")?.capabilities
        #expect(merged == ModelCapabilities(tools: true, vision: false, jsonSchema: true))

        // An overlay that only adds a price version keeps the shipped capabilities.
        let priceOnly = try PriceCatalog(entries: [
            CatalogEntry(
                provider: .anthropic, model: "claude-sonnet-4-5",
                versions: [
                    try PriceVersion(
                        effectiveFrom: "2027-01-01", source: "overlay",
                        prices: PriceSet(input: dollarsPerMillion("2"), output: dollarsPerMillion("10")))
                ])
        ])
        let sonnet = try shipped.merging(priceOnly).entry(provider: .anthropic, model: "claude-sonnet-4-5")
        #expect(sonnet?.capabilities == shipped.entry(provider: .anthropic, model: "claude-sonnet-4-5")?.capabilities)
        #expect(sonnet?.capabilities.tools == true)
    }
}
