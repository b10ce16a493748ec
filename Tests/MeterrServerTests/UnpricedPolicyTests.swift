import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import MeterrStore
import Testing

@testable import MeterrServer

/// A call of a model the catalog has no price for: 50,000 prompt and 1,000 completion tokens come back.
let unpricedCall =
    #"{"model":"gpt-9-experimental","max_tokens":1000,"messages":[{"role":"user","content":"model-probe"}]}"#

extension TestClientProtocol {
    func openAI(_ body: String, team: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [.authorization: "Bearer \(adminKey)"]
        if let team { headers[.init("x-meterr-team")!] = team }
        return try await call("/openai/v1/chat/completions", body, headers: headers)
    }

    func setPolicy(_ json: String) async throws -> TestResponse {
        try await execute(
            uri: "/api/policy", method: .put,
            headers: [.authorization: "Bearer \(adminKey)", .contentType: "application/json"],
            body: ByteBuffer(string: json))
    }
}

@Suite("Unpriced models under budgets: refuse, fall back to a price, or allow")
struct UnpricedPolicyTests {
    @Test("Under a hard budget an unpriced call is refused by default, in the provider's shape, and never sent")
    func refusedUnderHardBudget() async throws {
        try await withGateway { client, seen in
            _ = try await client.post(
                "/api/budgets", #"{"name":"tight","period":"month","limit_usd":"0.001","hard":true}"#)
            for _ in 0..<10 {
                let refused = try await client.openAI(unpricedCall)
                #expect(refused.status == .forbidden)
                let message = (refused.json["error"] as? [String: Any])?["message"] as? String ?? ""
                #expect(message.contains(#"model "gpt-9-experimental" has no price"#), "\(message)")
                #expect(message.contains(#"hard budget "tight""#))
                #expect(message.contains("unpriced_policy"))
            }
            #expect(seen.last.withLock { $0 } == nil, "nothing reached the provider")
            // Anthropic's callers get Anthropic's error shape.
            let anthropic = try await client.call(
                "/anthropic/v1/messages", #"{"model":"claude-9","max_tokens":10,"messages":[]}"#,
                headers: [.init("x-api-key")!: adminKey])
            #expect(anthropic.status == .forbidden)
            #expect(anthropic.json["type"] as? String == "error")
            #expect((anthropic.json["error"] as? [String: Any])?["type"] as? String == "permission_error")
            // A priced model still goes through.
            #expect(try await client.openAI(#"{"model":"gpt-4.1","max_tokens":5,"messages":[]}"#).status == .ok)
        }
    }

    @Test("Without a hard budget an unpriced call passes and is recorded unpriced; soft budgets count it as such")
    func softBudgetCountsUnpriced() async throws {
        try await withGateway { client, _ in
            _ = try await client.post("/api/budgets", #"{"name":"watch","period":"month","limit_usd":"5"}"#)
            let response = try await client.openAI(unpricedCall)
            #expect(response.status == .ok)
            let event = try #require(try await client.event(response.headers[.init("x-meterr-request-id")!]!))
            #expect(event["cost_usd"] is NSNull)
            #expect(event["model"] as? String == "gpt-9-experimental")
            let budget = try #require((try await client.get("/api/budgets").json["budgets"] as? [[String: Any]])?.first)
            #expect(budget["unpriced_requests"] as? Int == 1)
            #expect(budget["unpriced_tokens"] as? Int == 51_000)
            #expect(budget["spent_usd"] as? String == "0.000000000")
            let totals = try await client.get("/api/usage/summary").json["totals"] as? [String: Any]
            #expect(totals?["unpriced_requests"] as? Int == 1)
            #expect(totals?["unpriced_tokens"] as? Int == 51_000)
        }
    }

    @Test("fallback prices an unpriced call as the named model, or as the provider's priciest, and budgets count it")
    func fallback() async throws {
        try await withGateway { client, _ in
            let set = try await client.setPolicy(
                #"{"unpriced_policy":"fallback","unpriced_fallback_model":"gpt-4.1"}"#)
            #expect(set.status == .ok)
            #expect(set.json["unpriced_policy"] as? String == "fallback")
            #expect(set.json["unpriced_fallback_model"] as? String == "gpt-4.1")
            _ = try await client.post(
                "/api/budgets", #"{"name":"hard","period":"month","limit_usd":"1.00","hard":true}"#)
            let named = try await client.openAI(unpricedCall)
            #expect(named.status == .ok)
            // 50,000 × $2 + 1,000 × $8 per million.
            #expect(named.headers[.init("x-meterr-cost-usd")!] == "0.108000000")
            let event = try #require(try await client.event(named.headers[.init("x-meterr-request-id")!]!))
            #expect((event["price_id"] as? String)?.hasPrefix("fallback:openai/gpt-4.1@") == true, "\(event)")
            #expect(event["model"] as? String == "gpt-9-experimental", "the event keeps the model reported")
            let budget = try #require((try await client.get("/api/budgets").json["budgets"] as? [[String: Any]])?.first)
            #expect(budget["spent_usd"] as? String == "0.108000000")

            // No model named: the provider's most expensive (o1-pro: $150 in, $600 out per million),
            // whose worst case (2,000 output tokens: $1.20) no longer fits what is left of the hard budget.
            #expect(try await client.setPolicy(#"{"unpriced_fallback_model":null}"#).status == .ok)
            let refused = try await client.openAI(unpricedCall.replacingOccurrences(of: "1000", with: "2000"))
            #expect(refused.status == .tooManyRequests, "the budget holds: \(String(buffer: refused.body))")
            _ = try await client.post(
                "/api/budgets", #"{"name":"big","period":"month","limit_usd":"100","hard":false}"#)
            let reported = try await client.post(
                "/api/usage/events",
                #"{"id":"r1","provider":"openai","model":"gpt-9-experimental","input_tokens":50000,"output_tokens":1000}"#
            )
            #expect(reported.status == .ok)
            let events = try await client.get("/api/usage/events?limit=10").json["events"] as? [[String: Any]]
            let priced = try #require(events?.first { $0["id"] as? String == "r1" })
            #expect(priced["cost_usd"] as? String == "8.100000000")
            #expect((priced["price_id"] as? String)?.hasPrefix("fallback:openai/o1-pro@") == true, "\(priced)")
        }
    }

    @Test("allow lets unpriced calls through a hard budget, recorded with no cost and not counted against it")
    func allow() async throws {
        try await withGateway { client, _ in
            #expect(try await client.setPolicy(#"{"unpriced_policy":"allow"}"#).status == .ok)
            _ = try await client.post(
                "/api/budgets", #"{"name":"tight","period":"month","limit_usd":"0.001","hard":true}"#)
            for _ in 0..<3 {
                let call = try await client.openAI(unpricedCall)
                #expect(call.status == .ok)
                // The answer goes out before its event is committed: read the budget once it is.
                #expect(try await client.event(call.headers[.init("x-meterr-request-id")!]!) != nil)
            }
            let budget = try #require((try await client.get("/api/budgets").json["budgets"] as? [[String: Any]])?.first)
            #expect(budget["spent_usd"] as? String == "0.000000000")
            #expect(budget["unpriced_requests"] as? Int == 3)
            // Back to the server's default (refuse).
            let reset = try await client.setPolicy(#"{"unpriced_policy":null}"#)
            #expect(reset.json["unpriced_policy"] as? String == "refuse")
            #expect(try await client.openAI(unpricedCall).status == .forbidden)
        }
    }

    @Test("The budgets page shows each budget's unpriced calls and lets an admin (not a viewer) set the policy")
    func dashboard() async throws {
        try await withGateway { client, _ in
            _ = try await client.post("/api/budgets", #"{"name":"watch","period":"month","limit_usd":"5"}"#)
            let call = try await client.openAI(unpricedCall)
            #expect(call.status == .ok)
            #expect(try await client.event(call.headers[.init("x-meterr-request-id")!]!) != nil)
            let viewer = try await client.signIn(email: "vic@example.com", role: "viewer")
            let admin = try await client.signIn(email: "ana@example.com", role: "admin")
            let seen = String(buffer: try await client.page("/budgets", viewer).body)
            #expect(seen.contains("1 call, 51,000 tokens"), "\(seen)")
            #expect(seen.contains(#"data-policy="refuse""#))
            #expect(!seen.contains(#"action="/budgets/unpriced""#), "a viewer gets no form")
            let overview = String(buffer: try await client.page("/", viewer).body)
            #expect(overview.contains("1 unpriced call (51,000 tokens)"), "\(overview)")
            #expect(
                try await client.form("/budgets/unpriced", viewer, "policy=allow&csrf=\(viewer.csrf)").status
                    == .forbidden)
            let unknown = try await client.form(
                "/budgets/unpriced", admin, "policy=fallback&model=gpt-99&csrf=\(admin.csrf)")
            #expect(unknown.status == .badRequest)
            #expect(String(buffer: unknown.body).contains("no model"))
            let saved = try await client.form(
                "/budgets/unpriced", admin, "policy=fallback&model=gpt-4.1&csrf=\(admin.csrf)")
            #expect(saved.status == .seeOther)
            let policy = try await client.get("/api/policy").json
            #expect(policy["unpriced_policy"] as? String == "fallback")
            #expect(policy["unpriced_fallback_model"] as? String == "gpt-4.1")
            #expect(String(buffer: try await client.page("/budgets", admin).body).contains("priced as gpt-4.1"))
        }
    }

    @Test("Bad unpriced policies are refused with the field named")
    func badPolicies() async throws {
        try await withApp { client in
            for (body, field) in [
                (#"{"unpriced_policy":"maybe"}"#, "unpriced_policy"),
                (#"{"unpriced_policy":7}"#, "unpriced_policy"),
                (
                    #"{"unpriced_policy":"fallback","unpriced_fallback_model":"no-such-model"}"#,
                    "unpriced_fallback_model"
                ),
                (#"{"unpriced_policy":"allow","unpriced_fallback_model":"gpt-4.1"}"#, "unpriced_fallback_model"),
                (#"{"unpriced_fallback_model":"gpt-4.1"}"#, "unpriced_fallback_model"),
            ] {
                let response = try await client.setPolicy(body)
                #expect(response.status == .badRequest, "\(body)")
                #expect(response.error["field"] == field, "\(body): \(response.error)")
            }
            #expect(try await client.get("/api/policy").json["unpriced_policy"] as? String == "refuse")
        }
    }

    @Test("The configuration sets the server's default; an unknown fallback model stops the start")
    func configuration() async throws {
        try await withApp(configure: { $0.unpricedPolicy = .fallback(model: "claude-sonnet-4-5") }) { client in
            let policy = try await client.get("/api/policy").json
            #expect(policy["unpriced_policy"] as? String == "fallback")
            #expect(policy["unpriced_fallback_model"] as? String == "claude-sonnet-4-5")
        }
        var configuration = ServerConfiguration()
        try configuration.set("unpriced_policy", "allow", source: "test")
        #expect(configuration.unpricedPolicy == .allow)
        try configuration.set("unpriced_fallback_model", "gpt-4.1", source: "test")
        #expect(configuration.unpricedPolicy == .fallback(model: "gpt-4.1"))
        #expect(throws: MeterrError.self) { try configuration.set("unpriced_policy", "sometimes", source: "test") }
        await #expect(throws: MeterrError.self) {
            try await withApp(configure: { $0.unpricedPolicy = .fallback(model: "gpt-99") }) { _ in }
        }
    }
}
