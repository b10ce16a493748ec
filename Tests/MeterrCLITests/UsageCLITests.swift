import Foundation
import MeterrCore
import MeterrTestSupport
import Testing

@Suite("meterr usage export and import", .serialized)
struct UsageCLITests {
    @Test("Events posted to a running server appear in the export, as JSONL and CSV, while it runs")
    func exportWhileServing() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try await ServerProcess.start(dataDirectory: directory)
        #expect(try await server.post("/api/usage/events", eventBatch(prefix: "x", count: 30)).0 == 200)
        #expect(
            try await server.post("/api/usage/events", eventBatch(prefix: "y", count: 5, ts: "2026-11-20T00:00:00Z")).0
                == 200)

        let export = try await runMeterr(["usage", "export", "--data", directory, "--format", "jsonl"])
        #expect(export.status == 0)
        let lines = export.output.split(separator: "\n")
        #expect(lines.count == 35)
        let events = try lines.map { try JSONDecoder().decode(UsageEvent.self, from: Data($0.utf8)) }
        #expect(events.first?.id.hasPrefix("x-") == true)
        #expect(events.last?.id.hasPrefix("y-") == true)
        // Priced by the catalog on ingest: claude-sonnet-4-5, 1000 uncached × $3 + 7 cache reads × $0.30
        // + 107 output × $15 per million.
        #expect(events.first { $0.id == "x-7" }?.cost == Money(decimalString: "0.0046071"))
        #expect(events.first { $0.id == "x-7" }?.priceId?.hasPrefix("anthropic/claude-sonnet-4-5@") == true)
        #expect(lines[0].hasPrefix("{\"id\":"), "keys come in the contract's order")

        let ranged = try await runMeterr([
            "usage", "export", "--data", directory, "--from", "2026-11-15T00:00:00Z", "--to", "2026-12-01T00:00:00Z",
        ])
        #expect(ranged.output.split(separator: "\n").count == 5)

        let csv = try await runMeterr(["usage", "export", "--data", directory, "--format", "csv"])
        let rows = csv.output.split(separator: "\n")
        #expect(rows.count == 36)
        #expect(rows[0].hasPrefix("id,ts,org,team,user,project,key_id,tags,provider,model"))
        await server.stop()
    }

    @Test("Import adds a JSONL export to another ledger exactly, and a second import adds nothing")
    func importRoundTrip() async throws {
        let source = temporaryDirectory()
        let target = temporaryDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: source)
            try? FileManager.default.removeItem(atPath: target)
        }
        let server = try await ServerProcess.start(dataDirectory: source)
        #expect(try await server.post("/api/usage/events", eventBatch(prefix: "i", count: 40)).0 == 200)
        await server.stop()
        let exported = try await runMeterr(["usage", "export", "--data", source])
        let file = source + "/export.jsonl"
        try exported.output.write(toFile: file, atomically: true, encoding: .utf8)

        let first = try await runMeterr(["usage", "import", file, "--data", target])
        #expect(first.status == 0, "\(first.errorOutput)")
        #expect(first.output.contains("40 new"))
        let second = try await runMeterr(["usage", "import", file, "--data", target])
        #expect(second.output.contains("0 new, 40 already"))
        let reexported = try await runMeterr(["usage", "export", "--data", target])
        #expect(reexported.output == exported.output)
    }

    @Test("A file with one bad line imports nothing and names the line")
    func badLineImportsNothing() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = directory + "/bad.jsonl"
        let good = "{\"id\":\"g1\",\"provider\":\"openai\",\"model\":\"m\",\"input_tokens\":1,\"output_tokens\":1}"
        let bad = "{\"id\":\"g2\",\"provider\":\"openai\",\"model\":\"m\",\"input_tokens\":-1,\"output_tokens\":1}"
        try [good, "", bad].joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let result = try await runMeterr(["usage", "import", file, "--data", directory + "/data"])
        #expect(result.status != 0)
        #expect(result.errorOutput.contains("bad.jsonl:3"))
        #expect(result.errorOutput.contains("input_tokens"))
        #expect(result.errorOutput.split(separator: "\n").count == 1, "one line: \(result.errorOutput)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/data/meterr.sqlite"))
    }

    @Test("Bad arguments print one line and exit non-zero")
    func badArguments() async throws {
        let missing = try await runMeterr(["usage", "export", "--data", "/nonexistent/meterr"])
        #expect(missing.status != 0)
        #expect(missing.errorOutput.contains("no meterr database"))
        let badTime = try await runMeterr(["usage", "export", "--data", "/tmp", "--from", "last week"])
        #expect(badTime.status != 0)
        #expect(badTime.errorOutput.contains("--from"))
        let badPort = try await runMeterr(["serve", "--port", "70000"])
        #expect(badPort.status != 0)
        #expect(badPort.errorOutput == "meterr: --port must be from 0 to 65535\n")
        let unknown = try await runMeterr(["usage", "explode"])
        #expect(unknown.status != 0)
        #expect(unknown.errorOutput.split(separator: "\n").count == 1)
        let help = try await runMeterr(["usage", "--help"])
        #expect(help.status == 0)
        #expect(help.output.contains("export"))
        let noFile = try await runMeterr(["usage", "import", "/nonexistent/file.jsonl", "--data", "/tmp/x"])
        #expect(noFile.status != 0)
        #expect(noFile.errorOutput.contains("cannot open"))
    }
}
