import Foundation
import HTTPTypes
import Hummingbird
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

    @Test("The overview stacks each day's cost by team and by model, the largest five named")
    func stackedCharts() async throws {
        try await withGateway { client, _ in
            let events = [
                #"{"id":"s1","provider":"openai","model":"gpt-4.1","input_tokens":1,"output_tokens":1,"team":"ml"}"#,
                #"{"id":"s2","provider":"openai","model":"gpt-4.1","input_tokens":1,"output_tokens":1,"team":"search"}"#,
                #"{"id":"s3","provider":"anthropic","model":"claude-sonnet-4-5","input_tokens":1,"output_tokens":1}"#,
            ]
            #expect(try await client.post("/api/usage/events", "[" + events.joined(separator: ",") + "]").status == .ok)
            let session = try await client.signIn(email: "fin@example.com", role: "viewer")
            let html = String(buffer: try await client.page("/", session).body)
            #expect(html.contains(#"id="chart-teams""#) && html.contains(#"id="chart-models""#))
            let day = String(ordinaryMoment.prefix(10))
            // Priced by the catalog: gpt-4.1 $2 + $8, claude-sonnet-4-5 $3 + $15 per million tokens.
            #expect(html.contains("<title>\(day) · ml: $0.00001</title>"))
            #expect(html.contains("<title>\(day) · (no team): $0.000018</title>"))
            #expect(html.contains("<title>\(day) · anthropic/claude-sonnet-4-5: $0.000018</title>"))
            #expect(html.contains("<title>\(day) · openai/gpt-4.1: $0.00002</title>"))
            #expect(html.contains(#"<li><span class="swatch s0" aria-hidden="true"></span>(no team)</li>"#))
        }
    }

    @Test("The teams page takes a date range (whole UTC days, to inclusive) in place of its period, drill-down too")
    func teamsRange() async throws {
        try await withGateway { client, _ in
            let events = [
                #"{"id":"r1","ts":"2026-12-10T23:59:59Z","provider":"openai","model":"gpt-4.1","input_tokens":1000,"output_tokens":100,"team":"ml","user":"ana"}"#,
                #"{"id":"r2","ts":"2026-12-03T10:00:00Z","provider":"openai","model":"gpt-4.1","input_tokens":2000,"output_tokens":0,"team":"ml","user":"ana"}"#,
                #"{"id":"r3","ts":"2026-12-14T10:00:00Z","provider":"openai","model":"gpt-4.1","input_tokens":10,"output_tokens":0,"team":"search"}"#,
            ]
            #expect(try await client.post("/api/usage/events", "[" + events.joined(separator: ",") + "]").status == .ok)
            let session = try await client.signIn(email: "lead@example.com", role: "viewer")
            let teams = String(buffer: try await client.page("/teams?from=2026-12-09&to=2026-12-10", session).body)
            #expect(
                teams.contains(#"data-usd="0.002800000""#), "ml's call of the 10th: 1,000 × 2 + 100 × 8 per million")
            #expect(!teams.contains(#"data-usd="0.004000000""#), "the 3rd is outside the range")
            #expect(!teams.contains(">search<"), "the 14th is outside the range")
            #expect(
                teams.contains(#"value="2026-12-09""#)
                    && teams.contains(#"href="/teams?period=month&amp;from=2026-12-09&amp;to=2026-12-10&amp;team=ml""#))
            let drill = String(
                buffer: try await client.page("/teams?from=2026-12-09&to=2026-12-10&team=ml", session).body)
            #expect(drill.contains(#"data-usd="0.002800000""#) && drill.contains("ana"))
            #expect(!drill.contains(#"data-usd="0.004000000""#))
        }
    }

    @Test("A date the teams or savings page cannot read is named on the page, which shows its default")
    func badDates() async throws {
        try await withGateway { client, _ in
            let session = try await client.signIn(email: "lead@example.com", role: "viewer")
            for (path, words) in [
                ("/teams?from=junk", "From must be a date"),
                ("/teams?from=2026-12-10&to=2026-12-01", "From must be before To"),
                ("/savings?to=%3Cx%3E", "To must be a date"),
                ("/savings?from=2026-12-10&to=2026-12-01", "From must be before To"),
            ] {
                let response = try await client.page(path, session)
                #expect(response.status == .ok, "\(path)")
                let html = String(buffer: response.body)
                #expect(html.contains(#"class="error" role="alert""#) && html.contains(words), "\(path)")
                #expect(!html.contains("<x>"), "\(path)")
            }
        }
    }
}
