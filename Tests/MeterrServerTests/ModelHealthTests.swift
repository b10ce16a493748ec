import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MeterrCore
import MeterrTestSupport
import Testing

@testable import MeterrServer

@Suite("Call health through the gateway")
struct ModelHealthTests {
    @Test("Calls through the gateway leave their failures and latency: GET /api/usage/health and the overview")
    func healthAfterCalls() async throws {
        try await withGateway { client, _ in
            let bearer: HTTPFields = [.authorization: "Bearer \(adminKey)"]
            for body in [
                #"{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}"#,
                #"{"model":"gpt-4.1","stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
                #"{"model":"fault-500","messages":[{"role":"user","content":"hi"}]}"#,
            ] {
                _ = try await client.call("/openai/v1/chat/completions", body, headers: bearer)
            }
            var models: [[String: Any]] = []
            for _ in 0..<200 {
                models = try await client.get("/api/usage/health").json["models"] as? [[String: Any]] ?? []
                if models.reduce(0, { $0 + ($1["calls"] as? Int ?? 0) }) == 3 { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            let served = try #require(models.first { $0["model"] as? String == "gpt-4.1-2025-04-14" })
            #expect(served["calls"] as? Int == 2 && served["errors"] as? Int == 0)
            #expect(served["latency_p50_ms"] as? Int != nil && served["ttft_p50_ms"] as? Int != nil)
            let failed = try #require(models.first { $0["model"] as? String == "fault-500" })
            #expect(failed["errors"] as? Int == 1)
            #expect(try await client.get("/api/usage/health?from=soon").status == .badRequest)

            let session = try await client.signIn(email: "ops@example.com", role: "viewer")
            let html = String(buffer: try await client.page("/", session).body)
            #expect(html.contains(#"<table id="health">"#))
            #expect(html.contains("openai/fault-500"))
        }
    }
}
