import Foundation
import MeterrTestSupport
import Synchronization
import Testing

@Suite("SIGHUP and the log")
struct ReloadCLITests {
    let directory = temporaryDirectory()

    init() throws { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }

    /// What 1,000,000 gpt-4o input tokens cost the admin key's organisation now.
    func millionTokens(_ server: ServerProcess) async throws -> String? {
        let (status, body) = try await server.post(
            "/api/cost/estimate", Data(#"{"model":"gpt-4o","input_tokens":1000000,"output_tokens":0}"#.utf8))
        guard status == 200 else { return nil }
        return (try JSONSerialization.jsonObject(with: body) as? [String: Any])?["cost_usd"] as? String
    }

    @Test("SIGHUP puts new negotiated prices in force; a bad file is refused in one line and the old prices stay")
    func reloadsPrices() async throws {
        let config = "\(directory)/meterr.yaml"
        func write(discount: String, extra: String = "") throws {
            try "log_format: json\n\(extra)price_overrides:\n  - org: default\n    discount_percent: \(discount)\n"
                .write(toFile: config, atomically: true, encoding: .utf8)
        }
        try write(discount: "10")
        let log = "\(directory)/serve.log"
        let seen = SeenRequests()
        let (provider, providerPort) = try await FakeProvider.start(seen: seen)
        defer { provider.cancel() }
        let providerKey = "sk-provider-secret-do-not-log-1234"
        let server = try await ServerProcess.start(
            dataDirectory: "\(directory)/data", logFile: log,
            environment: ["METERR_OPENAI_BASE_URL": "http://127.0.0.1:\(providerPort)", "OPENAI_API_KEY": providerKey],
            arguments: ["--config", config])
        #expect(try await millionTokens(server) == "2.250000000")
        // A gateway call with a prompt: neither the prompt nor the provider key may reach the log.
        let prompt = "a very private prompt about the merger 4711"
        let (status, _) = try await server.post(
            "/openai/v1/chat/completions",
            Data(#"{"model":"gpt-4.1","messages":[{"role":"user","content":"\#(prompt)"}]}"#.utf8))
        #expect(status == 200)
        #expect(seen.last.withLock { $0?.headers["authorization"] } == "Bearer \(providerKey)")

        // A setting read only at start is named in the reload's line, and the rest goes into force.
        try write(discount: "50", extra: "ledger_wait_ms: 20\n")
        server.send(SIGHUP)
        #expect(try await waitForLog(log, containing: "configuration reloaded"))
        #expect(try await millionTokens(server) == "1.250000000")
        #expect(try String(contentsOfFile: log, encoding: .utf8).contains("(ledger_wait_ms change only on restart)"))

        try write(discount: "lots")
        server.send(SIGHUP)
        #expect(try await waitForLog(log, containing: "configuration reload refused"))
        #expect(try await millionTokens(server) == "1.250000000")
        #expect(await server.stop() == 0)

        // log_format: json: every line is one JSON object with its time, level and message; the
        // keys and the prompt the calls carried appear nowhere, even at trace level.
        let text = try String(contentsOfFile: log, encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.count > 10)
        for line in lines {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["ts"] is String && object?["level"] is String && object?["message"] is String, "\(line)")
        }
        let refusal = lines.first { $0.contains("configuration reload refused") }.map(String.init) ?? ""
        #expect(refusal.contains("discount_percent"))
        #expect(refusal.contains(#""level":"error""#))
        for secret in [server.adminKey, providerKey, prompt] { #expect(!text.contains(secret), "\(secret) in the log") }
    }
}
