import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import MeterrServer
import MeterrTestSupport
import Testing

let adminKey = "mk_testadminkeytestadminkey01"

/// The time the server tests run at unless they pin another: an ordinary hour in the middle of a month.
let ordinaryMoment = "2026-12-15T12:00:00Z"

/// Builds the application exactly as `meterr serve` does, on a fresh data directory, on a clock
/// pinned at `clock` (by default `ordinaryMoment`, ticking on).
func withApp(
    maxBodyBytes: Int = 1_048_576, clock: ManualClock = ManualClock(ordinaryMoment, ticking: true),
    configure: (inout ServerConfiguration) throws -> Void = { _ in },
    _ body: @Sendable (any TestClientProtocol) async throws -> Void
) async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meterr-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var configuration = ServerConfiguration()
    configuration.dataDirectory = directory
    configuration.adminKey = adminKey
    configuration.maxBodyBytes = maxBodyBytes
    configuration.logLevel = .warning
    configuration.clock = clock.clock
    try configure(&configuration)
    let app = try await buildApplication(configuration)
    try await app.testLive { client in try await body(client) }
}

extension TestClientProtocol {
    @discardableResult
    func post(_ uri: String, _ json: String, key: String? = adminKey) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: json))
    }

    func get(_ uri: String, key: String? = adminKey) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await execute(uri: uri, method: .get, headers: headers)
    }
}

extension TestResponse {
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
    }

    var error: [String: String] { json["error"] as? [String: String] ?? [:] }
}

func event(
    _ id: String, ts: String = "2026-11-02T10:15:00.000Z", model: String = "gpt-4o", input: Int = 1000,
    cacheRead: Int = 0, output: Int = 200, cost: String? = "0.004500000", team: String = "ml"
) -> String {
    let costField = cost.map { ",\"cost_usd\":\"\($0)\"" } ?? ""
    return """
        {"id":"\(id)","ts":"\(ts)","provider":"openai","model":"\(model)","input_tokens":\(input),\
        "cache_read_tokens":\(cacheRead),"output_tokens":\(output),"team":"\(team)","tags":{"env":"prod"}\(costField)}
        """
}

@Suite("Usage ingest and query API")
struct UsageAPITests {
    @Test("Posted events are priced from the catalog and appear in the list and the summary with exact totals")
    func ingestThenQuery() async throws {
        try await withApp { client in
            let batch =
                "["
                + [
                    // gpt-4o: 600 × $2.50 + 400 cached × $1.25 + 200 × $10 per million = $0.004; the
                    // client's own (wrong) cost is replaced by the catalog's.
                    event("a", input: 1000, cacheRead: 400, output: 200, cost: "9.99"),
                    // gpt-4o-mini: 10 × $0.15 + 5 × $0.60 per million.
                    event(
                        "b", ts: "2026-11-03T23:59:59.999Z", model: "gpt-4o-mini", input: 10, output: 5, cost: nil,
                        team: "search"),
                    // A model the catalog does not price: the client's cost stands.
                    event(
                        "c", ts: "2026-11-04T00:00:00.000Z", model: "in-house-llm", input: 7, output: 3,
                        cost: "0.000001000"),
                    // Unpriced and no cost given: unknown, not zero.
                    event("d", ts: "2026-11-04T00:00:01.000Z", model: "in-house-llm", input: 7, output: 3, cost: nil),
                ].joined(separator: ",") + "]"
            let posted = try await client.post("/api/usage/events", batch)
            #expect(posted.status == .ok)
            #expect(posted.json["inserted"] as? Int == 4)

            let summary = try await client.get(
                "/api/usage/summary?group_by=model&from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z")
            #expect(summary.status == .ok)
            let totals = try #require(summary.json["totals"] as? [String: Any])
            #expect(totals["requests"] as? Int == 4)
            #expect(totals["input_tokens"] as? Int == 1024)
            #expect(totals["cache_read_tokens"] as? Int == 400)
            #expect(totals["output_tokens"] as? Int == 211)
            #expect(totals["cost_usd"] as? String == "0.004005500")
            #expect(totals["unpriced_requests"] as? Int == 1)
            let groups = try #require(summary.json["groups"] as? [[String: Any]])
            #expect(groups.map { $0["model"] as? String } == ["gpt-4o", "gpt-4o-mini", "in-house-llm"])
            #expect(groups[1]["cost_usd"] as? String == "0.000004500")

            let days = try await client.get(
                "/api/usage/summary?group_by=day&from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z")
            let dayGroups = try #require(days.json["groups"] as? [[String: Any]])
            #expect(
                dayGroups.map { $0["day"] as? String } == [
                    "2026-11-02T00:00:00.000Z", "2026-11-03T00:00:00.000Z", "2026-11-04T00:00:00.000Z",
                ])

            let list = try await client.get("/api/usage/events?team=ml&tag=env=prod")
            let events = try #require(list.json["events"] as? [[String: Any]])
            #expect(events.map { $0["id"] as? String } == ["d", "c", "a"])
            #expect(events[2]["cost_usd"] as? String == "0.004000000")
            #expect(events[2]["price_id"] as? String == "openai/gpt-4o@2024-10-02")
            #expect(events[1]["cost_usd"] as? String == "0.000001000")
            #expect(events[0]["cost_usd"] is NSNull)

            // Unpriced calls are counted, by model, for the operator to add prices: the ledger's count, as
            // the summary's unpriced_requests (a call that reported its own cost is priced), the
            // organisation's own, and a cost estimate of an unknown model counts no call.
            _ = try await client.post("/api/cost/estimate", #"{"model":"in-house-llm","input_tokens":1}"#)
            let other = try #require(
                try await client.post("/api/orgs", #"{"name":"Other"}"#).json["admin_key"] as? String)
            _ = try await client.post(
                "/api/usage/events", event("other-1", model: "other-secret-llm", cost: nil), key: other)
            let unpriced = try await client.get("/api/prices/unpriced")
            #expect(unpriced.json["unpriced_calls"] as? Int == 1)
            #expect((unpriced.json["models"] as? [String: Int]) == ["openai/in-house-llm": 1])
            let theirs = try await client.get("/api/prices/unpriced", key: other)
            #expect((theirs.json["models"] as? [String: Int]) == ["openai/other-secret-llm": 1])
        }
    }

    @Test("Cost estimates price token counts exactly, take max_tokens as the worst case, and refuse bad input")
    func costEstimate() async throws {
        try await withApp { client in
            let quote = try await client.post(
                "/api/cost/estimate",
                #"{"model":"anthropic/claude-sonnet-4-5-20250929","input_tokens":12060,"cache_read_tokens":10000,"cache_write_tokens":2048,"output_tokens":11}"#
            )
            #expect(quote.status == .ok)
            #expect(quote.json["cost_usd"] as? String == "0.010881000")
            let worst = try await client.post(
                "/api/cost/estimate", #"{"model":"gpt-4o","input_tokens":1000,"max_tokens":4096}"#)
            #expect(worst.json["cost_usd"] as? String == "0.043460000")
            for (body, field) in [
                (#"{"input_tokens":1,"output_tokens":1}"#, "model"),
                (#"{"model":"no-such-model","input_tokens":1,"output_tokens":1}"#, "model"),
                (#"{"model":"gpt-4o","input_tokens":-1,"output_tokens":1}"#, "input_tokens"),
                (#"{"model":"gpt-4o","input_tokens":1.5,"output_tokens":1}"#, "input_tokens"),
                (#"{"model":"gpt-4o","input_tokens":10,"cache_read_tokens":11,"output_tokens":1}"#, "input_tokens"),
                (#"{"model":"gpt-4o","input_tokens":10}"#, "output_tokens"),
                ("nonsense", "body"),
            ] {
                let response = try await client.post("/api/cost/estimate", body)
                #expect(response.status == .badRequest, "\(body)")
                #expect(response.error["field"] == field, "\(body)")
            }
            let prices = try await client.get("/api/prices")
            #expect(prices.status == .ok)
            #expect((prices.json["models"] as? [Any])?.isEmpty == false)
            let litellm = try await client.get("/api/prices?format=litellm")
            #expect(litellm.json["gpt-4o"] != nil)
        }
    }

    @Test("A retried batch is accepted and not counted twice")
    func retriesAreIdempotent() async throws {
        try await withApp { client in
            let batch = "[" + event("x1") + "," + event("x2") + "]"
            #expect(try await client.post("/api/usage/events", batch).json["inserted"] as? Int == 2)
            let retry = try await client.post("/api/usage/events", batch)
            #expect(retry.status == .ok)
            #expect(retry.json["inserted"] as? Int == 0)
            #expect(retry.json["duplicates"] as? Int == 2)
            let summary = try await client.get("/api/usage/summary?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z")
            #expect((summary.json["totals"] as? [String: Any])?["requests"] as? Int == 2)
        }
    }

    @Test(
        "Bad input gets a 400 that names the field, and a rejected batch writes nothing",
        arguments: [
            ("{\"provider\":\"openai\",", "body"),
            (
                "[" + event("ok1")
                    + ",{\"id\":\"n\",\"provider\":\"openai\",\"model\":\"m\",\"input_tokens\":-5,\"output_tokens\":1}]",
                "[1].input_tokens"
            ),
            (
                "[" + event("ok2")
                    + ",{\"provider\":\"openai\",\"model\":\"m\",\"input_tokens\":\"12\",\"output_tokens\":1}]",
                "[1].input_tokens"
            ),
            ("{\"provider\":\"openai\",\"model\":\"m\",\"input_tokens\":1.5,\"output_tokens\":1}", "input_tokens"),
            ("{\"provider\":\"bedrock\",\"model\":\"m\",\"input_tokens\":1,\"output_tokens\":1}", "provider"),
            (
                "{\"provider\":\"openai\",\"model\":\"m\",\"input_tokens\":1,\"output_tokens\":1,\"ts\":\"29/11/2026\"}",
                "ts"
            ),
            ("{\"provider\":\"openai\",\"input_tokens\":1,\"output_tokens\":1}", "model"),
            (
                "{\"events\":[" + event("ok3") + ",{\"provider\":\"openai\",\"model\":\"m\",\"input_tokens\":1}]}",
                "events[1].output_tokens"
            ),
            (
                "{\"provider\":\"openai\",\"model\":\"m\",\"input_tokens\":5,\"cache_read_tokens\":6,\"output_tokens\":1}",
                "input_tokens"
            ),
            (
                "{\"provider\":\"openai\",\"model\":\"m\",\"input_tokens\":5,\"output_tokens\":1,\"cost_usd\":\"cheap\"}",
                "cost_usd"
            ),
            (
                "{\"provider\":\"openai\",\"model\":\"m\",\"input_tokens\":5,\"output_tokens\":1,\"tags\":{\"a\":1}}",
                "tags.a"
            ),
            ("[]", "events"),
            ("42", "body"),
        ])
    func badInput(body: String, field: String) async throws {
        try await withApp { client in
            let response = try await client.post("/api/usage/events", body)
            #expect(response.status == .badRequest)
            #expect(response.error["code"] == "invalid_request")
            #expect(response.error["field"] == field)
            let list = try await client.get("/api/usage/events")
            #expect((list.json["events"] as? [Any])?.isEmpty == true, "nothing of a rejected batch is stored")
        }
    }

    @Test("More than 1,000 events or a body over the limit are refused whole")
    func limits() async throws {
        try await withApp(maxBodyBytes: 64 * 1024) { client in
            let many =
                "["
                + (0..<1001).map { _ in
                    "{\"provider\":\"openai\",\"model\":\"m\",\"input_tokens\":1,\"output_tokens\":1}"
                }
                .joined(separator: ",") + "]"
            let tooLarge = try await client.post("/api/usage/events", many)
            #expect(tooLarge.status == .contentTooLarge)
            #expect(tooLarge.error["field"] == "body")
        }
        try await withApp { client in
            let tooMany =
                "["
                + (0..<1001).map { _ in
                    "{\"provider\":\"openai\",\"model\":\"m\",\"input_tokens\":1,\"output_tokens\":1}"
                }
                .joined(separator: ",") + "]"
            let response = try await client.post("/api/usage/events", tooMany)
            #expect(response.status == .badRequest)
            #expect(response.error["field"] == "events")
            let list = try await client.get("/api/usage/events")
            #expect((list.json["events"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("Without a valid key the API answers 401 in JSON and stores nothing")
    func authentication() async throws {
        try await withApp { client in
            let missing = try await client.post("/api/usage/events", event("k1"), key: nil)
            #expect(missing.status == .unauthorized)
            #expect(missing.error["code"] == "unauthenticated")
            let wrong = try await client.post("/api/usage/events", event("k1"), key: "mk_notthekeynotthekeynotthekey")
            #expect(wrong.status == .unauthorized)
            let junk = try await client.get("/api/usage/summary", key: "Basic abc")
            #expect(junk.status == .unauthorized)
            #expect(try await client.get("/api/usage/events").json["events"] as? [Any] != nil)
            #expect((try await client.get("/api/usage/events").json["events"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("Events for another organisation than the key's are refused")
    func foreignOrganisation() async throws {
        try await withApp { client in
            let body =
                "{\"org\":\"org_someoneelse\",\"provider\":\"openai\",\"model\":\"m\",\"input_tokens\":1,\"output_tokens\":1}"
            let response = try await client.post("/api/usage/events", body)
            #expect(response.status == .forbidden)
            #expect(response.error["field"] == "org")
        }
    }

    @Test("Query parameters are checked: bad times, groupings, providers, limits and cursors get a 400")
    func badQueries() async throws {
        try await withApp { client in
            for (uri, field) in [
                ("/api/usage/summary?group_by=color", "group_by"), ("/api/usage/summary?from=yesterday", "from"),
                ("/api/usage/summary?from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z", "from"),
                ("/api/usage/events?provider=bedrock", "provider"), ("/api/usage/events?limit=0", "limit"),
                ("/api/usage/events?cursor=abc", "cursor"), ("/api/usage/events?tag=novalue", "tag"),
            ] {
                let response = try await client.get(uri)
                #expect(response.status == .badRequest, "\(uri)")
                #expect(response.error["field"] == field, "\(uri)")
            }
        }
    }

    @Test("Every response carries the security headers and a request id; health checks answer")
    func headersAndHealth() async throws {
        try await withApp { client in
            for response in [
                try await client.get("/healthz", key: nil), try await client.get("/readyz", key: nil),
                try await client.get("/api/usage/events", key: nil),
            ] {
                #expect(response.headers[.init("x-meterr-request-id")!]?.hasPrefix("req_") == true)
                #expect(response.headers[.init("X-Frame-Options")!] == "DENY")
                #expect(response.headers[.init("X-Content-Type-Options")!] == "nosniff")
                #expect(response.headers[.init("Content-Security-Policy")!] == "default-src 'self'")
                // Plain HTTP: HSTS is sent only when meterr serves TLS (ServingTLSTests).
                #expect(response.headers[.init("Strict-Transport-Security")!] == nil)
                #expect(response.headers[.init("Referrer-Policy")!] != nil)
            }
            #expect(try await client.get("/healthz", key: nil).status == .ok)
            #expect(try await client.get("/readyz", key: nil).json["status"] as? String == "ready")
        }
    }

    @Test("Negotiated discounts and Azure deployment names from the configuration price ingested events")
    func overridesFromConfiguration() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("meterr-\(UUID().uuidString).yaml")
            .path
        try """
        azure_deployments:
          prod-chat: gpt-4o
        price_overrides:
          - org: default
            provider: openai
            discount_percent: "10"
          - org: default
            model: anthropic/claude-sonnet-4-5
            prices: {input: "2", output: "10"}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await withApp(configure: { configuration in
            let file = try ServerConfiguration.load(file: path, environment: [:])
            configuration.azureDeployments = file.azureDeployments
            configuration.priceOverrides = file.priceOverrides
        }) { client in
            let batch = """
                [{"id":"o1","ts":"2026-11-02T10:00:00Z","provider":"openai","model":"gpt-4o","input_tokens":1000,"output_tokens":100},
                 {"id":"o2","ts":"2026-11-02T10:00:00Z","provider":"azure","model":"prod-chat","input_tokens":1000,"output_tokens":100},
                 {"id":"o3","ts":"2026-11-02T10:00:00Z","provider":"anthropic","model":"claude-sonnet-4-5","input_tokens":1000,"output_tokens":100}]
                """
            #expect(try await client.post("/api/usage/events", batch).status == .ok)
            let events = try #require(try await client.get("/api/usage/events").json["events"] as? [[String: Any]])
            let costs = Dictionary(
                uniqueKeysWithValues: events.map { ($0["id"] as! String, $0["cost_usd"] as? String) })
            // gpt-4o list: 1000 × $2.50 + 100 × $10 = $0.0035; 10% off.
            #expect(costs["o1"] == "0.003150000")
            // The Azure deployment is priced as the gpt-4o it serves (the OpenAI discount is OpenAI's own).
            #expect(costs["o2"] == "0.003500000")
            // Negotiated: 1000 × $2 + 100 × $10.
            #expect(costs["o3"] == "0.003000000")
        }
    }

    @Test("Token counts are exact for OpenAI models, labelled estimated for Claude, and bad input names the field")
    func tokenCount() async throws {
        try await withApp { client in
            let plain = try await client.post("/api/tokens/count", #"{"model":"gpt-4o","text":"hello world"}"#)
            #expect(plain.status == .ok)
            #expect(plain.json["tokens"] as? Int == 2)
            #expect(plain.json["exact"] as? Bool == true)
            #expect(plain.json["encoding"] as? String == "o200k_base")
            let chat = try await client.post(
                "/api/tokens/count",
                #"{"model":"gpt-4o","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"hello world"}]}"#
            )
            // 3 per message + content tokens + 3 to prime the reply.
            #expect((chat.json["tokens"] as? Int ?? 0) > 2 + 3 * 2)
            let claude = try await client.post(
                "/api/tokens/count", #"{"model":"claude-sonnet-4-5","text":"hello world"}"#)
            #expect(claude.json["exact"] as? Bool == false)
            for (body, field) in [
                (#"{"text":"hello"}"#, "model"), (#"{"model":"gpt-4o"}"#, "body"), ("[1,2]", "body"),
                (#"{"model":"gpt-4o","messages":"not a list"}"#, "messages"),
            ] {
                let response = try await client.post("/api/tokens/count", body)
                #expect(response.status == .badRequest, "\(body)")
                #expect(response.error["field"] == field, "\(body): \(response.error)")
            }
            // The estimate counts text with the tokenizer and prices max_tokens as the worst case:
            // 2 × $2.50 + 10 × $10 per million.
            let estimate = try await client.post(
                "/api/cost/estimate", #"{"model":"gpt-4o","text":"hello world","max_tokens":10}"#)
            #expect(estimate.json["cost_usd"] as? String == "0.000105000")
            #expect(estimate.json["input_tokens_counted"] as? Int == 2)
        }
    }
}
