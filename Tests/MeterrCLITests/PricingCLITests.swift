import Foundation
import MeterrTestSupport
import Testing

@Suite("meterr cost and meterr prices")
struct PricingCLITests {
    @Test("cost prints the breakdown and the exact cost on its last line")
    func costLastLine() async throws {
        let result = try await runMeterr([
            "cost", "--model", "gpt-4o-2024-11-20", "--input-tokens", "10000", "--cache-read-tokens", "4000",
            "--output-tokens", "500",
        ])
        #expect(result.status == 0, "\(result.errorOutput)")
        #expect(result.output.split(separator: "\n").last == "0.025000000")
        let batch = try await runMeterr([
            "cost", "--model", "claude-sonnet-4-5", "--input-tokens", "1000", "--output-tokens", "100", "--batch",
        ])
        // (1000 × $3 + 100 × $15) per million, at half price.
        #expect(batch.output.split(separator: "\n").last == "0.002250000")
    }

    @Test(
        "Bad counts and unknown models print one line and exit non-zero",
        arguments: [
            ["cost", "--model", "gpt-4o", "--input-tokens", "-5", "--output-tokens", "1"],
            ["cost", "--model", "gpt-4o", "--input-tokens", "1.5", "--output-tokens", "1"],
            ["cost", "--model", "gpt-4o", "--input-tokens", "10", "--cache-read-tokens", "11", "--output-tokens", "1"],
            ["cost", "--model", "no-such-model", "--input-tokens", "10", "--output-tokens", "1"],
            ["prices", "show", "no-such-model"],
            ["prices", "list", "--provider", "bedrock"],
        ])
    func badInput(arguments: [String]) async throws {
        let result = try await runMeterr(arguments)
        #expect(result.status != 0)
        #expect(result.errorOutput.hasPrefix("meterr: "))
        #expect(result.errorOutput.split(separator: "\n").count == 1, "\(result.errorOutput)")
    }

    @Test("A LiteLLM import reports what it added and changed, prices calls at once, and a bad file writes nothing")
    func importLiteLLM() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = directory + "/prices.litellm.json"
        try #"""
        {"in-house-chat": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-06,
                           "output_cost_per_token": 2e-06, "max_input_tokens": 8192}}
        """#.write(toFile: file, atomically: true, encoding: .utf8)
        let imported = try await runMeterr(["prices", "import", "litellm", file, "--data", directory])
        #expect(imported.status == 0, "\(imported.errorOutput)")
        #expect(imported.output.contains("1 added"))
        let cost = try await runMeterr([
            "cost", "--model", "in-house-chat", "--input-tokens", "1000", "--output-tokens", "1000", "--data",
            directory,
        ])
        #expect(cost.output.split(separator: "\n").last == "0.003000000")

        let bad = directory + "/bad.json"
        try #"{"other-model": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": "cheap"}}"#
            .write(toFile: bad, atomically: true, encoding: .utf8)
        let before = try String(contentsOfFile: directory + "/prices.json", encoding: .utf8)
        let failed = try await runMeterr(["prices", "import", "litellm", bad, "--data", directory])
        #expect(failed.status != 0)
        #expect(failed.errorOutput.contains("other-model.input_cost_per_token"))
        #expect(try String(contentsOfFile: directory + "/prices.json", encoding: .utf8) == before)
    }

    @Test("The LiteLLM export holds the catalog's prices in LiteLLM's keys")
    func exportLiteLLM() async throws {
        let result = try await runMeterr(["prices", "export", "--format", "litellm"])
        #expect(result.status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        let entry = json?["gpt-4o"] as? [String: Any]
        #expect(entry?["litellm_provider"] as? String == "openai")
        #expect(entry?["input_cost_per_token"] != nil)
    }
}
