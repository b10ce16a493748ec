import Foundation
import MeterrCore
import Testing

@testable import MeterrPricing

@Suite("The data directory's price overlay")
struct OverlayTests {
    func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "meterr-pricing-" + Identifier.random(length: 12)
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func write(_ text: String, in directory: String, name: String) -> String {
        let path = (directory as NSString).appendingPathComponent(name)
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    @Test("An import writes the overlay, the loader lays it over the shipped catalog, a bad file changes nothing")
    func importThenLoad() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let good = write(
            #"{"mistral/mistral-small-2506": {"input_cost_per_token": 6e-08, "output_cost_per_token": 1.8e-07, "litellm_provider": "mistral", "mode": "chat"}}"#,
            in: directory, name: "good.json")
        let result = try PriceCatalog.importLiteLLM(
            fileAt: good, dataDirectory: directory, effectiveFrom: "2026-12-01",
            today: Timestamp(rfc3339: "2026-11-20")!)
        #expect(result.added.map(\.entryId) == ["mistral/mistral-small-2506"])
        let overlayPath = PriceCatalog.overlayPath(dataDirectory: directory)
        let written = FileManager.default.contents(atPath: overlayPath)
        #expect(written != nil)

        let catalog = try PriceCatalog.load(dataDirectory: directory)
        let quote = try CostEngine(catalog: catalog).cost(
            model: "mistral-small-2506", provider: .mistral,
            usage: Usage(inputTokens: 1_000_000, outputTokens: 1_000_000),
            at: at("2026-06-01T00:00:00Z"))
        #expect(quote?.cost.decimalString == "0.240000000")

        let bad = write(
            #"{"gpt-4o": {"input_cost_per_token": 3e-06, "output_cost_per_token": "lots", "litellm_provider": "openai"}}"#,
            in: directory, name: "bad.json")
        #expect(throws: MeterrError.self) {
            try PriceCatalog.importLiteLLM(
                fileAt: bad, dataDirectory: directory, effectiveFrom: "2026-12-01",
                today: Timestamp(rfc3339: "2026-11-20")!)
        }
        #expect(FileManager.default.contents(atPath: overlayPath) == written)
    }

    @Test("A corrupt overlay is reported with its path instead of being ignored")
    func corruptOverlay() {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = write("{\"models\": [", in: directory, name: "prices.json")
        do {
            _ = try PriceCatalog.load(dataDirectory: directory)
            Issue.record("a corrupt overlay was accepted")
        } catch {
            #expect(error.message.contains("prices.json"))
        }
    }
}
