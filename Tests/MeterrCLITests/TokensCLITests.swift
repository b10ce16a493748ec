import Foundation
import MeterrTestSupport
import Testing

@Suite("meterr tokens")
struct TokensCLITests {
    func file(_ text: String) throws -> String {
        let path = temporaryDirectory() + ".txt"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("count, encode and decode agree with each other and with tiktoken's ids")
    func roundTrip() async throws {
        let path = try file("hello world")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let count = try await runMeterr(["tokens", "count", "--encoding", "cl100k_base", path])
        #expect(count.status == 0, "\(count.errorOutput)")
        #expect(count.output.trimmingCharacters(in: .whitespacesAndNewlines) == "2")
        let encoded = try await runMeterr(["tokens", "encode", "--model", "gpt-4", path])
        // tiktoken: cl100k_base.encode("hello world") == [15339, 1917]
        #expect(encoded.output.trimmingCharacters(in: .whitespacesAndNewlines) == "[15339,1917]")
        let idsPath = try file("[15339,1917]")
        defer { try? FileManager.default.removeItem(atPath: idsPath) }
        let decoded = try await runMeterr(["tokens", "decode", "--encoding", "cl100k_base", idsPath])
        #expect(decoded.output.hasPrefix("hello world"))
    }

    @Test("--jsonl reads one text per line and prints one result per line")
    func jsonLines() async throws {
        let path = try file(#"{"text":"hello world"}"# + "\n" + #"{"text":""}"# + "\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try await runMeterr(["tokens", "count", "--jsonl", "--encoding", "o200k_base", path])
        #expect(result.status == 0, "\(result.errorOutput)")
        #expect(result.output.split(separator: "\n") == [#"{"count":2}"#, #"{"count":0}"#])
    }

    @Test("An unknown encoding, a missing file or bad ids print one line and exit non-zero")
    func errors() async throws {
        let path = try file("[1, -5]")
        defer { try? FileManager.default.removeItem(atPath: path) }
        for arguments in [
            ["tokens", "count", "--encoding", "p50k_nope", path],
            ["tokens", "count", "--model", "gpt-4o", "/nonexistent"],
            ["tokens", "decode", "--encoding", "o200k_base", path],
        ] {
            let result = try await runMeterr(arguments)
            #expect(result.status != 0, "\(arguments)")
            #expect(result.errorOutput.split(separator: "\n").count == 1, "\(arguments): \(result.errorOutput)")
        }
    }
}
