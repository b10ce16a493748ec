import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import MeterrRouter
import MeterrTestSupport
import NIOCore
import Testing

@testable import MeterrServer

/// `fast`: three deployments, cheapest first (for a short prompt: gpt-4.1-mini, then gemini-2.5-flash,
/// then claude-haiku-4-5, then command-a-03-2025, which the catalog does not know to take images);
/// `smart` and `meterr/auto`'s tiers.
func routedGateway(
    maxAttempts: Int = 3, deadline: Duration = .seconds(60),
    clock: ManualClock = ManualClock(ordinaryMoment, ticking: true),
    _ body: @Sendable (any TestClientProtocol, SeenRequests) async throws -> Void
) async throws {
    try await withGateway(
        clock: clock,
        configure: { configuration, _ in
            configuration.routes = RouteTable(
                models: [
                    "fast": VirtualModel(
                        name: "fast", policy: .cheapest,
                        deployments: [
                            Deployment(provider: .anthropic, model: "claude-haiku-4-5"),
                            Deployment(provider: .openai, model: "gpt-4.1-mini"),
                            Deployment(provider: .gemini, model: "gemini-2.5-flash"),
                            Deployment(provider: .cohere, model: "command-a-03-2025"),
                        ]),
                    "compat": VirtualModel(
                        name: "compat", policy: .priority,
                        deployments: [
                            Deployment(provider: .cohere, model: "command-a-03-2025", compatibleSurface: true)
                        ]),
                    "careful": VirtualModel(
                        name: "careful", policy: .priority,
                        deployments: [
                            Deployment(provider: .anthropic, model: "claude-haiku-4-5"),
                            Deployment(provider: .openai, model: "gpt-4.1-mini"),
                        ]),
                    "smart": VirtualModel(
                        name: "smart", policy: .priority,
                        deployments: [Deployment(provider: .anthropic, model: "claude-sonnet-4-5")]),
                ],
                auto: AutoTiers(simple: "fast", medium: "fast", complex: "smart", reasoning: "smart"),
                maxAttempts: maxAttempts, deadline: deadline, backoff: .milliseconds(1), maxBackoff: .milliseconds(5))
        }, body)
}

extension TestClientProtocol {
    /// The gateway's events, oldest first.
    func events(count: Int) async throws -> [[String: Any]] {
        for _ in 0..<200 {
            let events = try await get("/api/usage/events?limit=50").json["events"] as? [[String: Any]] ?? []
            if events.count >= count { return events.reversed() }
            try await Task.sleep(for: .milliseconds(10))
        }
        return []
    }
}

@Suite("The router through the gateway: virtual models, fallbacks, breakers, explain and health")
struct RouterGatewayTests {
    static let hi = #"{"model":"fast","messages":[{"role":"user","content":"hi"}]}"#
    static func headers(fail: String? = nil) -> HTTPFields {
        var fields: HTTPFields = [.authorization: "Bearer \(adminKey)"]
        if let fail { fields[HTTPField.Name("x-fake-fail")!] = fail }
        return fields
    }

    @Test("A virtual model goes to its cheapest deployment; the answer and the event say which and why")
    func cheapest() async throws {
        try await routedGateway { client, seen in
            let response = try await client.call("/v1/chat/completions", Self.hi, headers: Self.headers())
            #expect(response.status == .ok)
            #expect(response.headers[.init("x-meterr-route")!] == "fast; deployment=openai/gpt-4.1-mini; attempt=1")
            let upstream = try #require(seen.last.withLock { $0 })
            #expect(upstream.path == "/v1/chat/completions")
            #expect(upstream.body.contains(#""model":"gpt-4.1-mini""#))
            let event = try #require(try await client.event(response.headers[.init("x-meterr-request-id")!]!))
            let route = try #require(event["route"] as? String)
            #expect(
                route.hasPrefix(
                    "fast:openai/gpt-4.1-mini policy=cheapest attempt=1 baseline=cohere/command-a-03-2025 saved_usd=")
            )
            #expect(event["model_requested"] as? String == "gpt-4.1-mini")
        }
    }

    @Test("A rate limit falls back to the next deployment; both attempts are metered; the breaker opens")
    func fallback() async throws {
        try await routedGateway { client, seen in
            let response = try await client.call(
                "/v1/chat/completions", Self.hi, headers: Self.headers(fail: "openai=429"))
            #expect(response.status == .ok)
            #expect(response.headers[.init("x-meterr-route")!] == "fast; deployment=gemini/gemini-2.5-flash; attempt=2")
            #expect(response.json["object"] as? String == "chat.completion")
            let events = try await client.events(count: 2)
            #expect(events.map { $0["status"] as? Int } == [429, 200])
            #expect(
                (events[0]["route"] as? String)?.hasPrefix("fast:openai/gpt-4.1-mini policy=cheapest attempt=1") == true
            )
            #expect(
                (events[1]["route"] as? String)?.hasPrefix(
                    "fast:gemini/gemini-2.5-flash policy=cheapest attempt=2 after=openai/gpt-4.1-mini:rate_limited")
                    == true)
            let health = try await client.get("/api/routes/health").json["deployments"] as? [[String: Any]] ?? []
            let openai = try #require(health.first { $0["id"] as? String == "openai/gpt-4.1-mini" })
            #expect(openai["state"] as? String == "open")
            #expect(openai["last_failure"] as? String == "rate_limited")
            // The next call does not try the open deployment.
            seen.all.withLock { $0.removeAll() }
            let next = try await client.call("/v1/chat/completions", Self.hi, headers: Self.headers())
            #expect(next.headers[.init("x-meterr-route")!] == "fast; deployment=gemini/gemini-2.5-flash; attempt=1")
            #expect(seen.all.withLock { $0.map(\.path) }.allSatisfy { !$0.hasPrefix("/v1/chat") })
        }
    }

    @Test(
        "A prompt too long for one deployment and a server error both fall back; a streamed call too, before its first byte"
    )
    func otherFailures() async throws {
        try await routedGateway { client, _ in
            let context = try await client.call(
                "/v1/chat/completions", #"{"model":"smart","messages":[{"role":"user","content":"hi"}]}"#,
                headers: Self.headers(fail: "anthropic=context"))
            // smart has one deployment: nothing to fall back to, the provider's answer goes back in OpenAI's shape.
            #expect(context.status == .badRequest)
            #expect(
                ((context.json["error"] as? [String: Any])?["message"] as? String)?.contains("prompt is too long")
                    == true)
            let stream = try await client.call(
                "/v1/chat/completions",
                #"{"model":"fast","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#,
                headers: Self.headers(fail: "openai=500"))
            #expect(stream.status == .ok)
            #expect(stream.headers[.init("x-meterr-route")!] == "fast; deployment=gemini/gemini-2.5-flash; attempt=2")
            let text = String(buffer: stream.body)
            #expect(text.hasSuffix("data: [DONE]\n\n"))
            #expect(text.contains(#""usage":{"prompt_tokens":8"#))
        }
    }

    @Test("When every attempt fails the last answer goes back, and attempts stop at max_attempts")
    func exhausted() async throws {
        try await routedGateway(maxAttempts: 2) { client, seen in
            let response = try await client.call(
                "/v1/chat/completions", Self.hi, headers: Self.headers(fail: "openai=503,gemini=500,anthropic=500"))
            #expect(response.status == .internalServerError)
            #expect(((response.json["error"] as? [String: Any])?["message"] as? String) == "fake 500")
            // Two attempts, to two different deployments: never the same one twice.
            #expect(
                seen.all.withLock { $0.map(\.path) } == [
                    "/v1/chat/completions", "/v1beta/models/gemini-2.5-flash:generateContent",
                ])
            let events = try await client.events(count: 2)
            #expect(events.map { $0["status"] as? Int } == [503, 500])
        }
    }

    @Test("The call's deadline bounds an attempt's wait for its first byte, and no attempt starts after it")
    func deadline() async throws {
        try await routedGateway(deadline: .seconds(1)) { client, seen in
            let response = try await client.call(
                "/v1/chat/completions", #"{"model":"fast","messages":[{"role":"user","content":"fault-slow"}]}"#,
                headers: Self.headers())
            #expect(response.status == .gatewayTimeout)
            #expect(seen.all.withLock { $0.count } == 1)
        }
    }

    @Test("A routed stream cut after its first byte ends with an error event, not a silent close")
    func cutStream() async throws {
        try await routedGateway { client, _ in
            let response = try await client.call(
                "/v1/chat/completions",
                #"{"model":"fast","stream":true,"messages":[{"role":"user","content":"fault-cut"}]}"#,
                headers: Self.headers())
            #expect(response.status == .ok)
            let text = String(buffer: response.body)
            #expect(!text.contains("[DONE]"))
            #expect(
                text.hasSuffix(
                    #"data: {"error":{"message":"the provider's stream ended before it finished","type":"api_error","param":null,"code":null}}"#
                        + "\n\n"))
        }
    }

    @Test("Budgets admit each candidate on its own worst case: a cheaper fallback fits where the first does not")
    func budgetPerCandidate() async throws {
        try await routedGateway { client, seen in
            // haiku's worst case (64,000 output tokens at $5/M, $0.32) is over what is left; gpt-4.1-mini's
            // (32,768 at $1.60/M, about $0.05) fits.
            let budget = try await client.post(
                "/api/budgets", #"{"name":"tight","scope":"org","limit_usd":"0.10","hard":true}"#)
            #expect(budget.status == .created)
            let response = try await client.call(
                "/v1/chat/completions", #"{"model":"careful","messages":[{"role":"user","content":"hi"}]}"#,
                headers: Self.headers())
            #expect(response.status == .ok)
            #expect(response.headers[.init("x-meterr-route")!] == "careful; deployment=openai/gpt-4.1-mini; attempt=1")
            #expect(seen.all.withLock { $0.map(\.path) } == ["/v1/chat/completions"])
        }
    }

    @Test("A deployment with surface: compatible goes to the provider's OpenAI-compatible surface, untranslated")
    func compatibleSurface() async throws {
        try await routedGateway { client, seen in
            let response = try await client.call(
                "/v1/chat/completions", #"{"model":"compat","messages":[{"role":"user","content":"hi"}]}"#,
                headers: Self.headers())
            #expect(response.status == .ok)
            let upstream = try #require(seen.last.withLock { $0 })
            #expect(upstream.path == "/compatibility/v1/chat/completions")
            #expect(upstream.body.contains(#""model":"command-a-03-2025""#))
            let event = try #require(try await client.event(response.headers[.init("x-meterr-request-id")!]!))
            #expect((event["route"] as? String)?.hasPrefix("compat:cohere/command-a-03-2025 policy=priority") == true)
        }
    }

    @Test("When every deployment's breaker is open the call is a 503 whose Retry-After is the first reopening")
    func allOpen() async throws {
        // A clock that stands still: the breakers' 30 s are exactly what is left.
        try await routedGateway(clock: ManualClock(ordinaryMoment, ticking: false)) { client, seen in
            let failing = try await client.call(
                "/v1/chat/completions",
                #"{"model":"careful","stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
                headers: Self.headers(fail: "anthropic=429,openai=429"))
            #expect(failing.status == .tooManyRequests)
            let events = try await client.events(count: 2)
            #expect(events.map { $0["stream"] as? Bool } == [true, true])
            let refused = try await client.call(
                "/v1/chat/completions", #"{"model":"careful","messages":[{"role":"user","content":"hi"}]}"#,
                headers: Self.headers())
            #expect(refused.status == .serviceUnavailable)
            let wait = Int(refused.headers[.retryAfter] ?? "") ?? 0
            #expect(wait == 30, "Retry-After \(wait)")
            #expect(seen.all.withLock { $0.count } == 2)
        }
    }

    @Test("A bad request does not fall back: every deployment would refuse it")
    func badRequest() async throws {
        try await routedGateway { client, seen in
            let response = try await client.call(
                "/v1/chat/completions", Self.hi, headers: Self.headers(fail: "openai=400"))
            #expect(response.status == .badRequest)
            #expect(seen.all.withLock { $0.count } == 1)
        }
    }

    @Test("explain answers the decision as a dry run; routes lists the table; auto explains its tier")
    func explain() async throws {
        try await routedGateway { client, seen in
            let explained = try await client.post("/api/route/explain", Self.hi)
            #expect(explained.status == .ok)
            let json = explained.json
            #expect(json["route"] as? String == "fast")
            #expect(json["policy"] as? String == "cheapest")
            #expect(json["chosen"] as? String == "openai/gpt-4.1-mini")
            let candidates = json["candidates"] as? [[String: Any]] ?? []
            #expect(
                candidates.map { $0["deployment"] as? String } == [
                    "openai/gpt-4.1-mini", "gemini/gemini-2.5-flash", "anthropic/claude-haiku-4-5",
                    "cohere/command-a-03-2025",
                ])
            #expect(candidates.allSatisfy { $0["expected_cost_usd"] is String })
            let auto = try await client.post(
                "/api/route/explain",
                #"{"model":"meterr/auto","messages":[{"role":"user","content":"Prove it step by step and explain why"}]}"#
            )
            #expect(auto.json["tier"] as? String == "reasoning")
            #expect(auto.json["route"] as? String == "smart")
            let tools = try await client.post(
                "/api/route/explain",
                #"{"model":"fast","messages":[{"role":"user","content":"hi"}],"max_tokens":40000}"#)
            let excluded = (tools.json["candidates"] as? [[String: Any]] ?? []).compactMap { $0["excluded"] as? String }
            #expect(excluded.contains("asks for 40000 output tokens, over its most of 32768"))
            let image = try await client.post(
                "/api/route/explain",
                #"{"model":"fast","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x.example/a.png"}}]}]}"#
            )
            let last = (image.json["candidates"] as? [[String: Any]])?.last
            #expect(last?["deployment"] as? String == "cohere/command-a-03-2025")
            #expect(last?["eligible"] as? Bool == false)
            #expect(last?["excluded"] as? String == "not known to take images")
            let notVirtual = try await client.post("/api/route/explain", #"{"model":"gpt-4.1","messages":[]}"#)
            #expect(notVirtual.status == .badRequest)
            let routes = try await client.get("/api/routes")
            #expect(
                (routes.json["routes"] as? [[String: Any]])?.map { $0["name"] as? String } == [
                    "careful", "compat", "fast", "smart",
                ])
            #expect((routes.json["auto_tiers"] as? [String: String])?["reasoning"] == "smart")
            #expect(seen.last.withLock { $0 } == nil)
        }
    }
}

@Suite("Organisations' own virtual models through /api/routes")
struct OrganisationRouteTests {
    @Test(
        "An admin defines a virtual model; calls use it at once; it is audited, survives a restart, and can be removed")
    func defineUseRemove() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meterr-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withGateway(directory: directory) { client, seen in
            let put = try await client.execute(
                uri: "/api/routes/cheap", method: .put,
                headers: [.authorization: "Bearer \(adminKey)", .contentType: "application/json"],
                body: ByteBuffer(
                    string:
                        #"{"policy":"priority","deployments":["gemini/gemini-2.5-flash",{"model":"openai/gpt-4.1-mini","priority":1}]}"#
                ))
            #expect(put.status == .ok)
            #expect(put.json["source"] as? String == "api")
            let call = try await client.call(
                "/v1/chat/completions", #"{"model":"meterr/cheap","messages":[{"role":"user","content":"hi"}]}"#,
                headers: [.authorization: "Bearer \(adminKey)"])
            #expect(call.headers[.init("x-meterr-route")!] == "cheap; deployment=gemini/gemini-2.5-flash; attempt=1")
            #expect(seen.last.withLock { $0 }?.path == "/v1beta/models/gemini-2.5-flash:generateContent")
            let audit = try await client.get("/api/audit").json["entries"] as? [[String: Any]] ?? []
            #expect(audit.contains { $0["action"] as? String == "route.put" && $0["target"] as? String == "cheap" })
            for (body, fragment) in [
                (
                    #"{"deployments":[{"model":"openai/gpt-4.1-mini","key_env":"OPENAI_API_KEY"}]}"#,
                    "configuration file"
                ),
                (#"{"deployments":["openai/no-such-model"]}"#, "no openai/no-such-model"),
                (#"{"policy":"fastest","deployments":["openai/gpt-4.1-mini"]}"#, "policy fastest"),
                (#"{"deployments":[]}"#, "needs deployments"),
                ("[1]", "send {"),
            ] {
                let bad = try await client.execute(
                    uri: "/api/routes/bad", method: .put,
                    headers: [.authorization: "Bearer \(adminKey)", .contentType: "application/json"],
                    body: ByteBuffer(string: body))
                #expect(bad.status == .badRequest)
                let message = (bad.json["error"] as? [String: Any])?["message"] as? String ?? ""
                #expect(message.contains(fragment), "\(message)")
            }
        }
        // A restart loads it from the database.
        try await withGateway(directory: directory) { client, _ in
            let routes = try await client.get("/api/routes").json["routes"] as? [[String: Any]] ?? []
            #expect(routes.map { $0["name"] as? String } == ["cheap"])
            let deleted = try await client.execute(
                uri: "/api/routes/cheap", method: .delete, headers: [.authorization: "Bearer \(adminKey)"])
            #expect(deleted.status == .noContent)
            let call = try await client.call(
                "/v1/chat/completions", #"{"model":"meterr/cheap","messages":[{"role":"user","content":"hi"}]}"#,
                headers: [.authorization: "Bearer \(adminKey)"])
            #expect(call.status == .badRequest)
            #expect(
                ((call.json["error"] as? [String: Any])?["message"] as? String)?.contains("not a virtual model") == true
            )
            let again = try await client.execute(
                uri: "/api/routes/cheap", method: .delete, headers: [.authorization: "Bearer \(adminKey)"])
            #expect(again.status == .notFound)
        }
    }
}

@Suite("Deployments with their own upstream and key")
struct DeploymentCredentialTests {
    @Test("A deployment's base_url and key_env carry its calls to its own endpoint with its own key")
    func ownEndpointAndKey() async throws {
        try await withGateway(configure: { configuration, port in
            configuration.routes = RouteTable(models: [
                "regional": VirtualModel(
                    name: "regional", policy: .priority,
                    deployments: [
                        Deployment(
                            provider: .openai, model: "gpt-4.1-mini", region: "eu",
                            baseURL: "http://127.0.0.1:\(port)/eu", keyVariable: "OPENAI_EU_KEY")
                    ])
            ])
            configuration.deploymentKeys = ["openai/gpt-4.1-mini@eu": "eu-key"]
        }) { client, seen in
            let response = try await client.call(
                "/v1/chat/completions", #"{"model":"regional","messages":[{"role":"user","content":"hi"}]}"#,
                headers: [.authorization: "Bearer \(adminKey)"])
            #expect(response.status == .ok)
            #expect(
                response.headers[.init("x-meterr-route")!] == "regional; deployment=openai/gpt-4.1-mini@eu; attempt=1")
            let upstream = try #require(seen.last.withLock { $0 })
            #expect(upstream.path == "/eu/v1/chat/completions")
            #expect(upstream.headers["authorization"] == "Bearer eu-key")
        }
    }

    @Test("The configuration reads key_env from the environment and says which variable is missing")
    func configuration() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("meterr-\(UUID().uuidString).yaml")
            .path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try """
        router:
          models:
            regional:
              deployments:
                - {model: azure/prod-eu, region: eu, base_url: "https://eu.example.com", key_env: AZURE_EU_KEY}
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let loaded = try ServerConfiguration.load(file: file, environment: ["AZURE_EU_KEY": "k-eu"])
        #expect(loaded.deploymentKeys == ["azure/prod-eu@eu": "k-eu"])
        #expect(loaded.routes.models["regional"]?.deployments.first?.baseURL == "https://eu.example.com")
        #expect {
            try ServerConfiguration.load(file: file, environment: [:])
        } throws: { error in
            (error as? MeterrError)?.message
                == "router.models.regional: azure/prod-eu@eu names key_env AZURE_EU_KEY, which is not set"
        }
    }
}
