import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import MeterrTestSupport
import NIOCore
import Synchronization
import Testing

@testable import MeterrServer
@testable import MeterrUpstream

/// meterr in front of a fake provider for every upstream, on a clock pinned at `clock` (by default an
/// ordinary mid-month hour that ticks on), so nothing depends on when the suite runs.
func withGateway(
    readTimeout: Int = 300, firstByteTimeout: Int = 600, directory given: String? = nil,
    masterKey: String? = nil, clock: ManualClock = ManualClock(ordinaryMoment, ticking: true),
    configure: (inout ServerConfiguration, Int) -> Void = { _, _ in },
    _ body: @Sendable (any TestClientProtocol, SeenRequests) async throws -> Void
) async throws {
    try await withGatewayApplication(
        readTimeout: readTimeout, firstByteTimeout: firstByteTimeout, directory: given, masterKey: masterKey,
        clock: clock, configure: configure
    ) { app, seen in
        // On its own server, as `meterr serve` runs it.
        try await app.testLive { client in try await body(client, seen) }
    }
}

/// The application `withGateway` runs, for a test that runs it itself.
func withGatewayApplication(
    readTimeout: Int = 300, firstByteTimeout: Int = 600, directory given: String? = nil,
    masterKey: String? = nil, clock: ManualClock = ManualClock(ordinaryMoment, ticking: true),
    configure: (inout ServerConfiguration, Int) -> Void = { _, _ in },
    _ body: (MeterrApplication, SeenRequests) async throws -> Void
) async throws {
    let seen = SeenRequests()
    let (provider, port) = try await FakeProvider.start(seen: seen)
    seen.listening.withLock { $0 = port }
    defer { provider.cancel() }
    let directory =
        given ?? FileManager.default.temporaryDirectory.appendingPathComponent("meterr-\(UUID().uuidString)").path
    defer { if given == nil { try? FileManager.default.removeItem(atPath: directory) } }
    var configuration = ServerConfiguration()
    configuration.dataDirectory = directory
    configuration.adminKey = adminKey
    configuration.logLevel = .warning
    configuration.upstreamReadTimeout = readTimeout
    configuration.upstreamFirstByteTimeout = firstByteTimeout
    configuration.masterKey = masterKey
    configuration.clock = clock.clock
    for provider in Provider.allCases {
        configuration.upstreams[provider] = .init(
            baseURL: "http://127.0.0.1:\(port)", apiKey: "real-\(provider.rawValue)-key")
    }
    configure(&configuration, port)
    try await body(try await buildApplication(configuration), seen)
}

extension TestClientProtocol {
    /// Waits (bounded) for the ledger to hold the event of a request id.
    func event(_ requestId: String) async throws -> [String: Any]? {
        for _ in 0..<200 {
            let events = try await get("/api/usage/events?limit=50").json["events"] as? [[String: Any]] ?? []
            if let event = events.first(where: { $0["request_id"] as? String == requestId }) { return event }
            try await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    func call(_ path: String, _ body: String, headers: HTTPFields) async throws -> TestResponse {
        var all = headers
        all[.contentType] = "application/json"
        return try await execute(uri: path, method: .post, headers: all, body: ByteBuffer(string: body))
    }
}

struct GatewayCase: Sendable, CustomTestStringConvertible {
    var name: String
    var path: String
    var keyHeader: String
    var body: String
    var input: Int
    var cacheRead = 0
    var output: Int
    var reasoning = 0
    var model: String
    var cost: String?
    var stream = false

    var testDescription: String { name }
}

let gatewayCases: [GatewayCase] = [
    GatewayCase(
        name: "OpenAI chat", path: "/openai/v1/chat/completions", keyHeader: "authorization",
        body: #"{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}"#, input: 1200, cacheRead: 1024,
        output: 8, model: "gpt-4.1-2025-04-14", cost: "0.000928000"),
    GatewayCase(
        name: "OpenAI chat, streamed", path: "/v1/chat/completions", keyHeader: "authorization",
        body: #"{"model":"gpt-4.1","stream":true,"messages":[{"role":"user","content":"hi"}]}"#, input: 12, output: 2,
        model: "gpt-4.1-2025-04-14", cost: "0.000040000", stream: true),
    GatewayCase(
        name: "OpenAI responses, streamed", path: "/openai/v1/responses", keyHeader: "authorization",
        body: #"{"model":"gpt-4.1","stream":true,"input":"hi"}"#, input: 9, output: 3, model: "gpt-4.1-2025-04-14",
        cost: "0.000042000", stream: true),
    GatewayCase(
        name: "OpenAI embeddings", path: "/openai/v1/embeddings", keyHeader: "authorization",
        body: #"{"model":"text-embedding-3-small","input":"hi"}"#, input: 5, output: 0, model: "text-embedding-3-small",
        cost: "0.000000100"),
    GatewayCase(
        name: "Anthropic messages", path: "/anthropic/v1/messages", keyHeader: "x-api-key",
        body: #"{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[]}"#, input: 12_060, cacheRead: 10_000,
        output: 11, model: "claude-sonnet-4-5-20250929", cost: "0.010881000"),
    GatewayCase(
        name: "Anthropic messages, streamed", path: "/anthropic/v1/messages", keyHeader: "authorization",
        body: #"{"model":"claude-sonnet-4-5","max_tokens":100,"stream":true,"messages":[]}"#, input: 12, output: 9,
        model: "claude-sonnet-4-5-20250929", cost: "0.000171000", stream: true),
    GatewayCase(
        name: "Gemini generateContent", path: "/gemini/v1beta/models/gemini-2.5-pro:generateContent",
        keyHeader: "x-goog-api-key", body: #"{"contents":[]}"#, input: 250_000, cacheRead: 200_000, output: 129,
        reasoning: 120, model: "gemini-2.5-pro", cost: "0.176935000"),
    GatewayCase(
        name: "Gemini, streamed", path: "/gemini/v1/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        keyHeader: "x-goog-api-key", body: #"{"contents":[]}"#, input: 8, output: 54, reasoning: 45,
        model: "gemini-2.5-flash", stream: true),
    GatewayCase(
        name: "Mistral chat, streamed", path: "/mistral/v1/chat/completions", keyHeader: "authorization",
        body: #"{"model":"mistral-medium-2508","stream":true,"messages":[]}"#, input: 10, output: 4,
        model: "mistral-medium-2508", stream: true),
    GatewayCase(
        name: "Cohere chat", path: "/cohere/v2/chat", keyHeader: "authorization",
        body: #"{"model":"command-a-03-2025","messages":[]}"#, input: 21, output: 9, model: "command-a-03-2025",
        cost: "0.000142500"),
    GatewayCase(
        name: "Cohere chat, streamed", path: "/cohere/v2/chat", keyHeader: "authorization",
        body: #"{"model":"command-a-03-2025","stream":true,"messages":[]}"#, input: 21, output: 4,
        model: "command-a-03-2025", cost: "0.000092500", stream: true),
    GatewayCase(
        name: "Cohere v1 chat", path: "/cohere/v1/chat", keyHeader: "authorization",
        body: #"{"model":"command-a-03-2025","message":"hi"}"#, input: 21, output: 9, model: "command-a-03-2025",
        cost: "0.000142500"),
    GatewayCase(
        name: "Mistral chat", path: "/mistral/v1/chat/completions", keyHeader: "authorization",
        body: #"{"model":"mistral-medium-2508","messages":[]}"#, input: 10, output: 4, model: "mistral-medium-2508",
        cost: "0.000012000"),
    GatewayCase(
        name: "Gemini, streamed as a JSON array", path: "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        keyHeader: "x-goog-api-key", body: #"{"contents":[]}"#, input: 8, output: 54, reasoning: 45,
        model: "gemini-2.5-flash", cost: "0.000137400", stream: true),
    GatewayCase(
        name: "Azure deployment", path: "/azure/openai/deployments/prod-gpt41/chat/completions?api-version=2024-10-21",
        keyHeader: "api-key", body: #"{"messages":[{"role":"user","content":"hi"}]}"#, input: 1200, cacheRead: 1024,
        output: 8, model: "gpt-4.1-2025-04-14", cost: "0.000928000"),
    GatewayCase(
        name: "Azure deployment, streamed (empty first chunk)",
        path: "/azure/openai/deployments/prod-gpt5mini/chat/completions?api-version=2024-10-21", keyHeader: "api-key",
        body: #"{"stream":true,"messages":[{"role":"user","content":"hi"}]}"#, input: 14, output: 75, reasoning: 64,
        model: "gpt-5-mini-2025-08-07", cost: "0.000153500", stream: true),
]

@Suite("The gateway meters calls to every provider")
struct GatewayTests {
    @Test(
        "A call through meterr reaches the provider with the real key and is recorded with exact usage and cost",
        arguments: gatewayCases)
    func meters(_ item: GatewayCase) async throws {
        try await withGateway { client, seen in
            let key = item.keyHeader == "authorization" ? "Bearer \(adminKey)" : adminKey
            let response = try await client.call(
                item.path, item.body,
                headers: [HTTPField.Name(item.keyHeader)!: key, .init("x-meterr-team")!: "search"])
            #expect(response.status == .ok)
            let requestId = try #require(response.headers[.init("x-meterr-request-id")!])
            #expect(response.headers[.init("Server-Timing")!]?.contains("upstream;dur=") == true)
            if !item.stream, let cost = item.cost {
                #expect(response.headers[.init("x-meterr-cost-usd")!] == cost)
            }
            // The provider got its real key, never the gateway key.
            let upstream = try #require(seen.last.withLock { $0 })
            #expect(!upstream.headers.values.contains { $0.contains(adminKey) })
            #expect(upstream.headers.values.contains { $0.contains("real-") })

            let event = try #require(try await client.event(requestId))
            #expect(event["input_tokens"] as? Int == item.input)
            #expect(event["cache_read_tokens"] as? Int == item.cacheRead)
            #expect(event["output_tokens"] as? Int == item.output)
            #expect(event["reasoning_tokens"] as? Int == item.reasoning)
            #expect(event["model"] as? String == item.model)
            #expect(event["usage_source"] as? String == "reported")
            #expect(event["stream"] as? Bool == item.stream)
            #expect(event["team"] as? String == "search")
            if let cost = item.cost { #expect(event["cost_usd"] as? String == cost) }
            #expect(event["cost_usd"] is String, "every model here has a price")
        }
    }

    @Test(
        "A base URL written as each SDK's docs write it (with its version, or Azure's /openai) is not doubled",
        arguments: gatewayCases)
    func baseURLForms(_ item: GatewayCase) async throws {
        // The form OPENAI_BASE_URL, vLLM, Ollama, LiteLLM and the providers' own docs use; Gemini's
        // v1beta base also serves the google-genai SDK's /v1 calls, and Cohere's v2 base its v1 chat.
        let suffix: [Provider: String] = [
            .openai: "/v1/", .azure: "/openai", .anthropic: "/v1", .gemini: "/v1beta", .mistral: "/v1", .cohere: "/v2",
        ]
        try await withGateway(configure: { configuration, port in
            for provider in Provider.allCases {
                configuration.upstreams[provider] = .init(
                    baseURL: "http://127.0.0.1:\(port)" + suffix[provider]!, apiKey: "real-\(provider.rawValue)-key")
            }
        }) { client, seen in
            let key = item.keyHeader == "authorization" ? "Bearer \(adminKey)" : adminKey
            let response = try await client.call(item.path, item.body, headers: [HTTPField.Name(item.keyHeader)!: key])
            #expect(response.status == .ok)
            let path = String(item.path.prefix { $0 != "?" })
            let expected = path.hasPrefix("/v1/") ? path : String(path.drop { $0 == "/" }.drop { $0 != "/" })
            #expect(seen.last.withLock { $0 }?.path == expected)
        }
    }

    @Test("Base URL paths: an overlap with the call's path is not doubled; a different version gives way")
    func baseURLPaths() throws {
        func path(_ base: String, _ call: String) -> String? { UpstreamEndpoint(baseURL: base)?.path(for: call) }
        #expect(path("http://h:8000/v1", "/v1/chat/completions") == "/v1/chat/completions")
        #expect(path("http://h:8000/v1/", "/v1/chat/completions") == "/v1/chat/completions")
        #expect(path("http://h:8000", "/v1/chat/completions") == "/v1/chat/completions")
        #expect(path("https://corp/llm/openai/v1", "/v1/embeddings") == "/llm/openai/v1/embeddings")
        #expect(path("https://corp/llm/openai", "/v1/embeddings") == "/llm/openai/v1/embeddings")
        #expect(
            path("https://r.openai.azure.com/openai", "/openai/deployments/d/chat/completions")
                == "/openai/deployments/d/chat/completions")
        #expect(path("https://r.openai.azure.com/openai/v1", "/openai/v1/responses") == "/openai/v1/responses")
        #expect(
            path("https://g.googleapis.com/v1beta", "/v1/models/m:generateContent") == "/v1/models/m:generateContent")
        #expect(
            path("https://g.googleapis.com/v1beta", "/v1beta/models/m:generateContent")
                == "/v1beta/models/m:generateContent")
        #expect(path("https://api.cohere.com/v2", "/v1/chat") == "/v1/chat")
        #expect(path("https://h/v1alpha2", "/v1/x") == "/v1/x")
        #expect(path("https://h/version", "/v1/x") == "/version/v1/x", "not a version segment")
    }

    @Test("Nothing that goes into an upstream header may carry a line break: base URLs and provider keys")
    func headerInjection() throws {
        // The upstream client writes headers as it gets them; base URLs and provider keys are the
        // ways text from configuration or a stored credential reaches one.
        #expect(UpstreamEndpoint(baseURL: "http://h\r\nx-evil: 1") == nil)
        #expect(UpstreamEndpoint(baseURL: "http://h x") == nil)
        #expect(UpstreamEndpoint(baseURL: "https://h/p\u{7F}") == nil)
        #expect(UpstreamEndpoint(baseURL: "https://h:8443/v1")?.hostHeader == "h:8443")
        // Provider keys are checked where they enter: configured ones when meterr starts (stored ones
        // when they are stored: `CredentialTests`).
        var configuration = ServerConfiguration()
        configuration.upstreams[.openai]?.apiKey = "sk-good\tkey"
        try configuration.validate()
        configuration.upstreams[.anthropic]?.apiKey = "sk-key\r\nx-evil: 1"
        #expect(throws: MeterrError.self) { try configuration.validate() }
        configuration.upstreams[.anthropic]?.apiKey = nil
        configuration.deploymentKeys["eu"] = "sk-key\u{0}"
        #expect(throws: MeterrError.self) { try configuration.validate() }
    }

    @Test("An OpenAI stream without include_usage gets it upstream, and the extra chunk never reaches the caller")
    func injectsAndStripsUsage() async throws {
        try await withGateway { client, seen in
            let response = try await client.call(
                "/openai/v1/chat/completions", #"{"model":"gpt-4.1","stream":true,"messages":[]}"#,
                headers: [.authorization: "Bearer \(adminKey)"])
            let text = String(buffer: response.body)
            #expect(text.contains("data: [DONE]"))
            #expect(!text.contains(#""usage":{"#), "the usage chunk meterr asked for is stripped")
            #expect(text.contains(#""content":"Hello""#))
            #expect(seen.last.withLock { $0 }?.body.contains(#""stream_options":{"include_usage":true}"#) == true)
            let event = try #require(try await client.event(response.headers[.init("x-meterr-request-id")!]!))
            #expect(event["input_tokens"] as? Int == 12)

            let asked = try await client.call(
                "/openai/v1/chat/completions",
                #"{"model":"gpt-4.1","stream":true,"stream_options":{"include_usage":true},"messages":[]}"#,
                headers: [.authorization: "Bearer \(adminKey)"])
            #expect(String(buffer: asked.body).contains(#""usage":{"#), "a caller who asked keeps the chunk")
        }
    }

    @Test("A stream cut before its usage is recorded as estimated from what was sent and streamed")
    func cutStreamIsEstimated() async throws {
        try await withGateway { client, _ in
            let response = try await client.call(
                "/openai/v1/chat/completions",
                #"{"model":"gpt-4.1","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"fault-cut"}]}"#,
                headers: [.authorization: "Bearer \(adminKey)"])
            #expect(response.status == .ok)
            let event = try #require(try await client.event(response.headers[.init("x-meterr-request-id")!]!))
            #expect(event["usage_source"] as? String == "estimated")
            #expect((event["input_tokens"] as? Int ?? 0) > 0)
            #expect(event["cost_usd"] is String)
        }
    }

    @Test("An error event after a 200 reaches the caller unchanged; the call counts what streamed, estimated")
    func errorAfterSuccess() async throws {
        try await withGateway { client, _ in
            let response = try await client.call(
                "/anthropic/v1/messages",
                #"{"model":"claude-sonnet-4-5","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"fault-overloaded"}]}"#,
                headers: [.init("x-api-key")!: adminKey])
            #expect(response.status == .ok)
            #expect(
                String(buffer: response.body).hasSuffix(
                    #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"# + "\n\n"))
            let event = try #require(try await client.event(response.headers[.init("x-meterr-request-id")!]!))
            #expect(event["usage_source"] as? String == "estimated")
            #expect((event["input_tokens"] as? Int ?? 0) >= 12, "the provider's input count is kept")
            #expect(
                (event["output_tokens"] as? Int ?? 0) > 1, "output from the text that streamed past the provider's 1")
            #expect(event["cost_usd"] is String)
        }
    }

    @Test("Upstream errors pass through in the provider's shape and are recorded with their status")
    func upstreamErrors() async throws {
        try await withGateway { client, _ in
            let failed = try await client.call(
                "/openai/v1/chat/completions", #"{"model":"fault-500","messages":[]}"#,
                headers: [.authorization: "Bearer \(adminKey)"])
            #expect(failed.status == .internalServerError)
            #expect(String(buffer: failed.body).contains("boom"))
            let event = try #require(try await client.event(failed.headers[.init("x-meterr-request-id")!]!))
            #expect(event["status"] as? Int == 500)

            let garbage = try await client.call(
                "/anthropic/v1/messages", #"{"model":"fault-garbage","max_tokens":5,"messages":[]}"#,
                headers: [.init("x-api-key")!: adminKey])
            #expect(garbage.status == .ok)
            #expect(String(buffer: garbage.body) == "<html>not json", "the body reaches the caller unchanged")
        }
    }

    @Test("A missing or wrong gateway key gets a 401 in the calling provider's error shape")
    func wrongKey() async throws {
        try await withGateway { client, seen in
            let openai = try await client.call(
                "/openai/v1/chat/completions", #"{"model":"gpt-4.1"}"#,
                headers: [.authorization: "Bearer sk-not-meterr"])
            #expect(openai.status == .unauthorized)
            #expect((openai.json["error"] as? [String: Any])?["code"] as? String == "invalid_api_key")
            let anthropic = try await client.call("/anthropic/v1/messages", "{}", headers: [:])
            #expect(anthropic.status == .unauthorized)
            #expect(anthropic.json["type"] as? String == "error")
            let gemini = try await client.call(
                "/gemini/v1beta/models/gemini-2.5-pro:generateContent?key=wrong", "{}", headers: [:])
            #expect((gemini.json["error"] as? [String: Any])?["status"] as? String == "UNAUTHENTICATED")
            #expect(seen.last.withLock { $0 } == nil, "nothing reached the provider")
        }
    }

    @Test(
        "Bad JSON, no model or a POST meterr cannot meter: meterr answers in the provider's shape, nothing goes upstream",
        arguments: [
            ("/openai/v1/chat/completions", "authorization", "not json", 400, "not a JSON object"),
            ("/openai/v1/chat/completions", "authorization", #"{"model":"gpt-4.1"} {}"#, 400, "not a JSON object"),
            ("/v1/embeddings", "authorization", #"{"input":"hi"}"#, 400, "names no model"),
            ("/openai/v1/audio/speech", "authorization", #"{"model":"tts-1","input":"hi"}"#, 404, "does not forward"),
            ("/azure/openai/v1/chat/completions", "api-key", #"{"messages":[]}"#, 400, "names no model"),
            ("/anthropic/v1/messages", "x-api-key", #"{"model":"claude-sonnet-4-5","max_tokens":1"#, 400, "JSON"),
            ("/anthropic/v1/messages", "x-api-key", #"{"max_tokens":1,"messages":[]}"#, 400, "names no model"),
            ("/anthropic/v1/messages/batches", "x-api-key", #"{"requests":[]}"#, 404, "does not forward"),
            ("/gemini/v1beta/models/:generateContent", "x-goog-api-key", #"{"contents":[]}"#, 400, "names no model"),
            ("/gemini/v1beta/models/imagen-4:predict", "x-goog-api-key", #"{"instances":[]}"#, 404, "does not forward"),
            ("/mistral/v1/chat/completions", "authorization", "", 400, "not a JSON object"),
            ("/cohere/v2/chat", "authorization", #"{"messages":[]}"#, 400, "names no model"),
            ("/cohere/v2/rerank", "authorization", #"{"model":"rerank-v3.5"}"#, 404, "does not forward"),
        ])
    func refusedBeforeUpstream(path: String, keyHeader: String, body: String, status: Int, message: String)
        async throws
    {
        try await withGateway { client, seen in
            let key = keyHeader == "authorization" ? "Bearer \(adminKey)" : adminKey
            let response = try await client.call(path, body, headers: [HTTPField.Name(keyHeader)!: key])
            #expect(response.status.code == status)
            #expect(response.headers[.init("x-meterr-request-id")!] != nil)
            let json = response.json
            let error = json["error"] as? [String: Any]
            let text = (error?["message"] ?? json["message"]) as? String ?? ""
            #expect(text.contains(message), "\(text)")
            switch path.split(separator: "/").first {
            case "anthropic":
                #expect(json["type"] as? String == "error")
                #expect(error?["type"] as? String == (status == 404 ? "not_found_error" : "invalid_request_error"))
            case "gemini": #expect(error?["status"] as? String == (status == 404 ? "NOT_FOUND" : "INVALID_ARGUMENT"))
            case "cohere": #expect(json["message"] is String)
            default: #expect(error?["type"] as? String == "invalid_request_error")
            }
            #expect(seen.last.withLock { $0 } == nil, "nothing reached the provider")
        }
    }

    @Test("Calls that cost nothing pass unmetered: reads, moderations, a Responses call taking its model from a prompt")
    func freeCallsPass() async throws {
        try await withGateway { client, seen in
            let bearer: HTTPFields = [.authorization: "Bearer \(adminKey)"]
            let models = try await client.execute(uri: "/openai/v1/models", method: .get, headers: bearer)
            #expect(models.status == .ok)
            #expect(seen.last.withLock { $0 }?.path == "/v1/models")
            _ = try await client.call("/openai/v1/moderations", #"{"input":"hi"}"#, headers: bearer)
            #expect(seen.last.withLock { $0 }?.path == "/v1/moderations")
            let responses = try await client.call(
                "/openai/v1/responses", #"{"prompt":{"id":"pmpt_1"},"input":"hi"}"#, headers: bearer)
            #expect(responses.status == .ok)
            #expect(seen.last.withLock { $0 }?.path == "/v1/responses")
        }
    }

    @Test("Bring your own key: the caller's provider key goes upstream, the gateway key travels in x-meterr-key")
    func bringYourOwnKey() async throws {
        try await withGateway { client, seen in
            let response = try await client.call(
                "/openai/v1/chat/completions", #"{"model":"gpt-4.1","messages":[]}"#,
                headers: [.authorization: "Bearer sk-callers-own", .init("x-meterr-key")!: adminKey])
            #expect(response.status == .ok)
            let upstream = try #require(seen.last.withLock { $0 })
            #expect(upstream.headers["authorization"] == "Bearer sk-callers-own")
            #expect(upstream.headers["x-meterr-key"] == nil)
        }
    }

    @Test("Gemini's key in the query is meterr's and never goes upstream")
    func geminiQueryKey() async throws {
        try await withGateway { client, seen in
            let response = try await client.call(
                "/gemini/v1beta/models/gemini-2.5-pro:generateContent?key=\(adminKey)", #"{"contents":[]}"#,
                headers: [:])
            #expect(response.status == .ok)
            #expect(seen.last.withLock { $0 }?.path == "/v1beta/models/gemini-2.5-pro:generateContent")
            #expect(seen.last.withLock { $0 }?.headers["x-goog-api-key"] == "real-gemini-key")
        }
    }

    @Test(
        "/v1 with provider/model and x-meterr-wire: compatible reaches the provider's OpenAI-compatible surface",
        arguments: [
            ("anthropic/claude-sonnet-4-5", "/v1/chat/completions", "claude-sonnet-4-5", "anthropic"),
            ("gemini/gemini-2.5-flash", "/v1beta/openai/chat/completions", "gemini-2.5-flash", "gemini"),
            ("mistral/mistral-large-latest", "/v1/chat/completions", "mistral-large-latest", "mistral"),
            ("cohere/command-a-03-2025", "/compatibility/v1/chat/completions", "command-a-03-2025", "cohere"),
            ("azure/prod-chat", "/openai/v1/chat/completions", "prod-chat", "azure"),
        ])
    func unifiedRouting(model: String, upstreamPath: String, bare: String, provider: String) async throws {
        try await withGateway { client, seen in
            let response = try await client.call(
                "/v1/chat/completions", #"{"messages":[],"model":"\#(model)","temperature":0}"#,
                headers: [.authorization: "Bearer \(adminKey)", .init(MeterrHeader.wire)!: "compatible"])
            #expect(response.status == .ok)
            let upstream = try #require(seen.last.withLock { $0 })
            #expect(upstream.path == upstreamPath)
            #expect(upstream.body == #"{"messages":[],"model":"\#(bare)","temperature":0}"#)
            let key = provider == "azure" ? upstream.headers["api-key"] : upstream.headers["authorization"]
            #expect(key?.contains("real-\(provider)-key") == true)
            let event = try #require(try await client.event(response.headers[.init("x-meterr-request-id")!]!))
            #expect(event["provider"] as? String == provider)
            #expect(event["model_requested"] as? String == model)
            // The fake provider answers Mistral-named calls with Mistral's recorded response.
            #expect(event["input_tokens"] as? Int == (provider == "mistral" ? 10 : 1200))
        }
    }

    @Test("/v1 refuses a provider/model on a surface that provider does not serve, in OpenAI's shape")
    func unifiedRoutingRefusal() async throws {
        try await withGateway { client, seen in
            let response = try await client.call(
                "/v1/embeddings", #"{"model":"anthropic/claude-sonnet-4-5","input":"hi"}"#,
                headers: [.authorization: "Bearer \(adminKey)"])
            #expect(response.status == .badRequest)
            #expect((response.json["error"] as? [String: Any])?["message"] as? String != nil)
            #expect(seen.last.withLock { $0 } == nil)
        }
    }

    @Test("/metrics counts gateway calls by provider, status and usage source, and the ledger's commits")
    func metrics() async throws {
        try await withGateway { client, _ in
            let response = try await client.call(
                "/openai/v1/chat/completions", #"{"model":"gpt-4.1","messages":[]}"#,
                headers: [.authorization: "Bearer \(adminKey)"])
            _ = try await client.event(response.headers[.init("x-meterr-request-id")!]!)
            let metrics = try await client.get("/metrics", key: nil)
            #expect(metrics.status == .ok)
            let text = String(buffer: metrics.body)
            #expect(
                text.contains(#"meterr_gateway_calls_total{provider="openai",status="200",usage_source="reported"} 1"#))
            #expect(text.contains("meterr_ledger_events_committed_total 1"))
            #expect(text.contains("# TYPE meterr_ledger_queue_events gauge"))
            // meterr's own time and the provider's, as histograms per provider.
            for name in ["meterr_gateway_overhead_seconds", "meterr_gateway_upstream_seconds"] {
                #expect(text.contains("# TYPE \(name) histogram"))
                #expect(text.contains(#"\#(name)_bucket{provider="openai",le="+Inf"} 1"#))
                #expect(text.contains(#"\#(name)_count{provider="openai"} 1"#))
            }
            #expect(text.contains(#"meterr_gateway_overhead_seconds_bucket{provider="openai",le="0.00005"}"#))
            #expect(text.contains(#"meterr_gateway_upstream_seconds_bucket{provider="openai",le="120"}"#))
        }
    }

    @Test(
        "A provider slower than the first-byte or read time-out gets a 504 in its shape; the call is recorded with its input, as it may have run",
        arguments: [(300, 1), (1, 600)])
    func slowProvider(readTimeout: Int, firstByteTimeout: Int) async throws {
        try await withGateway(readTimeout: readTimeout, firstByteTimeout: firstByteTimeout) { client, _ in
            let response = try await client.call(
                "/anthropic/v1/messages",
                #"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"content":"fault-slow"}]}"#,
                headers: [.init("x-api-key")!: adminKey])
            #expect(response.status == .gatewayTimeout)
            #expect(response.json["type"] as? String == "error")
            let event = try #require(try await client.event(response.headers[.init("x-meterr-request-id")!]!))
            #expect(event["status"] as? Int == 504)
            #expect(event["usage_source"] as? String == "estimated")
            #expect((event["input_tokens"] as? Int ?? 0) > 0, "the possible spend is visible")
            #expect(event["output_tokens"] as? Int == 0)
        }
    }

    @Test("A client that leaves mid-stream still leaves an estimated event")
    func clientDisconnect() async throws {
        try await withGateway { client, _ in
            let port = try #require(client.port)
            let body =
                #"{"model":"gpt-4.1","stream":true,"stream_options":{"include_usage":true},"messages":[{"content":"fault-trickle"}]}"#
            let request =
                "POST /openai/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(adminKey)\r\n"
                + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            // A raw socket: read the first bytes of the stream, then hang up.
            let socket = try RawSocket(port: port)
            try socket.send(request)
            let head = try await socket.receive(atLeast: 200)
            socket.close()
            let requestId = try #require(
                head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("x-meterr-request-id:") }?
                    .split(separator: ":").last?.trimmingCharacters(in: .whitespaces))
            let event = try #require(try await client.event(requestId))
            #expect(event["usage_source"] as? String == "estimated")
            #expect(event["stream"] as? Bool == true)
        }
    }
}

@Suite("The gateway on one connection")
struct GatewayConnectionTests {
    @Test("Pipelined requests are answered in order, gateway calls and Hummingbird's routes alike")
    func pipelining() async throws {
        try await withGateway { client, _ in
            let port = try #require(client.port)
            let body = #"{"model":"gpt-4.1","messages":[{"content":"Say hello"}]}"#
            func call(closing: Bool) -> String {
                "POST /openai/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(adminKey)\r\n"
                    + "Content-Type: application/json\r\n\(closing ? "Connection: close\r\n" : "")"
                    + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
            }
            // Four requests in one write: a gateway call, one of Hummingbird's routes, the liveness
            // answer (the gateway's handler serves it), a gateway call that closes.
            let answer = try await RawSocket.exchange(
                port: port,
                call(closing: false) + "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                    + "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + call(closing: true))
            let answers = answer.components(separatedBy: "HTTP/1.1 ").dropFirst().map {
                $0.lowercased()
            }
            #expect(answers.count == 4)
            #expect(answers.allSatisfy { $0.hasPrefix("200") })
            #expect(answers.first?.contains("x-meterr-cost-usd") == true)
            #expect(answers.dropFirst().first?.contains(#"{"status":"ready"}"#) == true)
            #expect(answers.dropFirst(2).first?.contains(#"{"status":"ok"}"#) == true)
            #expect(answers.last?.contains("x-meterr-cost-usd") == true)
        }
    }

    @Test("GET /healthz is answered on the event loop as the router answers it: body, type and common headers")
    func liveness() async throws {
        try await withGateway { client, _ in
            let port = try #require(client.port)
            let answer = try await RawSocket.exchange(
                port: port, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            let lines = answer.lowercased().components(separatedBy: "\r\n")
            #expect(lines.first == "http/1.1 200 ok")
            #expect(lines.contains("content-type: application/json; charset=utf-8"))
            #expect(lines.contains("content-length: 15"))
            #expect(lines.contains("x-content-type-options: nosniff"))
            #expect(lines.contains { $0.hasPrefix("x-meterr-request-id: req_") })
            #expect(lines.contains { $0.hasPrefix("date: ") && $0.hasSuffix(" gmt") })
            #expect(answer.hasSuffix(#"{"status":"ok"}"#))
            // Other methods stay with the router, as before.
            #expect(try await client.execute(uri: "/healthz", method: .post).status == .notFound)
        }
    }

    @Test("Request targets: the origin form is the path as sent, the absolute form is read for its path")
    func requestTargets() async throws {
        try await withGateway { client, _ in
            let port = try #require(client.port)
            let answer = try await RawSocket.exchange(
                port: port,
                "GET http://127.0.0.1:\(port)/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                    + "GET /readyz?probe=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                    + "GET /api/budgets?limit=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(adminKey)\r\n\r\n"
                    + "GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            let answers = answer.components(separatedBy: "HTTP/1.1 ").dropFirst()
            #expect(answers.count == 4)
            let statuses = answers.map { String($0.prefix(3)) }
            #expect(statuses == ["200", "200", "200", "404"])
            #expect(answers.first?.hasSuffix(#"{"status":"ok"}"#) == true)
            #expect(answers.dropFirst().first?.contains(#"{"status":"ready"}"#) == true)
        }
    }

    @Test(
        "A stream's head reaches the caller when it arrives, before the provider's first chunk",
        .timeLimit(.minutes(5)))
    func streamHeadAlone() async throws {
        let provider = try HeadFirstStreamProvider()
        defer { provider.stop() }
        try await withGateway(configure: { configuration, _ in
            configuration.upstreams[.openai] = .init(baseURL: "http://127.0.0.1:\(provider.port)", apiKey: "sk-x")
        }) { client, _ in
            let port = try #require(client.port)
            let body = #"{"model":"gpt-4.1","stream":true,"messages":[{"role":"user","content":"hi"}]}"#
            let socket = try RawSocket(port: port)
            defer { socket.close() }
            try socket.send(
                "POST /openai/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(adminKey)\r\n"
                    + "Content-Type: application/json\r\nConnection: close\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
                    + body)
            // The provider sends its first chunk only once the caller has the head (or after 10 s).
            let head = try await socket.receive(atLeast: 12)
            provider.headSeen.signal()
            #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(!head.contains("chatcmpl"), "the head came alone: \(head)")
            let rest = try await socket.receive(atLeast: .max)
            #expect(rest.contains("chatcmpl-head-first"))
            #expect(rest.contains("[DONE]"))
        }
    }

    @Test("A call the provider read whole and hung up on is never sent again: a 502 in its shape, input recorded")
    func droppedAfterRequest() async throws {
        let provider = try OneAnswerPerConnectionProvider(closeAfterAnswer: false)
        defer { provider.stop() }
        try await withGateway(configure: { configuration, _ in
            configuration.upstreams[.openai] = .init(baseURL: "http://127.0.0.1:\(provider.port)", apiKey: "sk-x")
        }) { client, _ in
            let body = #"{"model":"gpt-4.1","messages":[{"role":"user","content":"write a long essay"}]}"#
            let first = try await client.call(
                "/openai/v1/chat/completions", body, headers: [.authorization: "Bearer \(adminKey)"])
            #expect(first.status == .ok)
            // The second call goes on the pooled connection; the provider reads it whole and hangs up.
            let second = try await client.call(
                "/openai/v1/chat/completions", body, headers: [.authorization: "Bearer \(adminKey)"])
            #expect(second.status == .badGateway)
            #expect(second.json["error"] is [String: Any], "OpenAI's error shape: \(String(buffer: second.body))")
            #expect(String(buffer: second.body).contains("not sent again"))
            #expect(provider.requests == 2, "the provider got the second call once")
            let id = try #require(second.headers[.init("x-meterr-request-id")!])
            let event = try #require(try await client.event(id))
            #expect(event["status"] as? Int == 502)
            #expect(event["usage_source"] as? String == "estimated")
            #expect((event["input_tokens"] as? Int ?? 0) > 0, "the possible spend is visible")
            #expect(event["output_tokens"] as? Int == 0)
            #expect(event["cost_usd"] as? String != nil)
            // The next call opens a new connection and is answered.
            let third = try await client.call(
                "/openai/v1/chat/completions", body, headers: [.authorization: "Bearer \(adminKey)"])
            #expect(third.status == .ok)
            #expect(provider.connections == 2)
            #expect(provider.requests == 3)
        }
    }

    @Test("A pooled connection the provider closed while idle is not reused: the call goes once, on a new one")
    func closedWhileIdle() async throws {
        let provider = try OneAnswerPerConnectionProvider(closeAfterAnswer: true)
        defer { provider.stop() }
        try await withGateway(configure: { configuration, _ in
            configuration.upstreams[.openai] = .init(baseURL: "http://127.0.0.1:\(provider.port)", apiKey: "sk-x")
        }) { client, _ in
            for _ in 0..<3 {
                let response = try await client.call(
                    "/openai/v1/chat/completions", #"{"model":"gpt-4.1","messages":[]}"#,
                    headers: [.authorization: "Bearer \(adminKey)"])
                #expect(response.status == .ok)
                #expect(response.headers[.init("x-meterr-cost-usd")!] == "0.000060000")
            }
            // Each call found its predecessor's connection closed and opened its own; none went twice.
            #expect(provider.connections == 3)
            #expect(provider.requests == 3)
        }
    }

    @Test("A caller that writes its whole over-limit body before reading (Python's http.client) still reads the 413")
    func bodyLimitWholeBodyFirst() async throws {
        try await withGateway(configure: { configuration, _ in configuration.maxGatewayBodyBytes = 1024 }) {
            client, _ in
            let port = try #require(client.port)
            // 32 MiB: far more than the socket buffers hold, so the whole write succeeds only if meterr
            // keeps reading after its answer.
            let body =
                #"{"model":"gpt-4.1","messages":[{"content":""# + String(repeating: "x", count: 32 << 20) + #""}]}"#
            let answer = try await RawSocket.exchange(
                port: port,
                "POST /openai/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(adminKey)\r\n"
                    + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
            #expect(answer.hasPrefix("HTTP/1.1 413"))
            #expect(answer.contains("request body exceeds 1024 bytes"))
            #expect(answer.lowercased().contains("connection: close"))
        }
    }

    @Test("A large request (admitted off the event loop) is forwarded whole, metered and budgeted like any other")
    func largeBody() async throws {
        try await withGateway { client, seen in
            _ = try await client.post("/api/budgets", #"{"name":"month","limit_usd":"100"}"#)
            let text = String(repeating: "the quick brown fox jumps over the lazy dog. ", count: 6000)
            let body = #"{"model":"gpt-4.1","messages":[{"role":"user","content":"\#(text)"}]}"#
            #expect(body.utf8.count > 256 << 10)
            let response = try await client.call(
                "/openai/v1/chat/completions", body, headers: [.authorization: "Bearer \(adminKey)"])
            #expect(response.status == .ok)
            #expect(response.headers[.init("x-meterr-cost-usd")!] == "0.000928000")
            #expect(seen.last.withLock { $0 }?.body == body)
        }
    }

    @Test("A gateway body over the limit gets a 413 in the provider's shape and the connection closes")
    func bodyLimit() async throws {
        try await withGateway(configure: { configuration, _ in configuration.maxGatewayBodyBytes = 1024 }) {
            client, _ in
            let port = try #require(client.port)
            let body =
                #"{"model":"claude-sonnet-4-5","messages":[{"content":""# + String(repeating: "x", count: 4096)
                + #""}]}"#
            let answer = try await RawSocket.exchange(
                port: port,
                "POST /anthropic/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: \(adminKey)\r\n"
                    + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
            #expect(answer.hasPrefix("HTTP/1.1 413"))
            #expect(answer.contains(#""type":"error""#))
            #expect(answer.lowercased().contains("x-meterr-request-id"))
        }
    }
}

/// A listening TCP socket on a free loopback port, and the port.
func listenOnLoopback() throws -> (Int32, Int) {
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(listener, pointer, length) == 0 && listen(listener, 16) == 0
                && getsockname(listener, pointer, &length) == 0
        }
    }
    guard bound else {
        _ = Glibc.close(listener)
        throw MeterrError(.unavailable, "cannot listen")
    }
    return (listener, Int(UInt16(bigEndian: address.sin_port)))
}

/// A provider that answers the first request on each connection (keep-alive promised) and closes
/// the connection, unanswered, when a second one arrives on it: an idle connection that died.
/// A provider that answers one call per connection: on a second call it reads the request whole and
/// hangs up without a word (`closeAfterAnswer: false`), or it closes each connection right after its
/// answer, though the answer said keep-alive (`closeAfterAnswer: true`).
final class OneAnswerPerConnectionProvider: Sendable {
    final class Counter: Sendable {
        let value = Mutex(0)
    }

    let port: Int
    private let listener: Int32
    private let accepted = Counter()
    private let received = Counter()

    var connections: Int { accepted.value.withLock { $0 } }
    /// Whole requests read, answered or not.
    var requests: Int { received.value.withLock { $0 } }

    init(closeAfterAnswer: Bool) throws {
        let (listener, port) = try listenOnLoopback()
        self.listener = listener
        self.port = port
        let accepted = self.accepted
        let received = self.received
        Thread {
            while true {
                let connection = accept(listener, nil, nil)
                guard connection >= 0 else { return }
                accepted.value.withLock { $0 += 1 }
                Thread { Self.serve(connection, received: received, closeAfterAnswer: closeAfterAnswer) }.start()
            }
        }.start()
    }

    private static func serve(_ connection: Int32, received counter: Counter, closeAfterAnswer: Bool) {
        defer { _ = Glibc.close(connection) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var answered = false
        while true {
            let read = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard read > 0 else { return }
            received += buffer[..<read]
            let text = String(decoding: received, as: UTF8.self)
            guard let headEnd = text.range(of: "\r\n\r\n") else { continue }
            let length =
                text[..<headEnd.lowerBound].split(separator: "\r\n")
                .first { $0.lowercased().hasPrefix("content-length:") }
                .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
            guard text.utf8.count >= text.utf8.distance(from: text.startIndex, to: headEnd.upperBound) + length
            else { continue }
            counter.value.withLock { $0 += 1 }
            // A second request on this connection: hang up without a word.
            if answered { return }
            answered = true
            received.removeAll()
            let body =
                #"{"id":"c","object":"chat.completion","model":"gpt-4.1-2025-04-14","choices":[],"#
                + #""usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}"#
            let answer = Array(
                ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
                    + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)").utf8)
            _ = answer.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, 0) }
            if closeAfterAnswer { return }
        }
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        _ = Glibc.close(listener)
    }
}

/// A provider that streams: it sends the answer's head, waits until the test says the caller has it
/// (at most 10 s), then sends one chunk with usage and `[DONE]`, and closes.
final class HeadFirstStreamProvider: Sendable {
    let port: Int
    let headSeen = DispatchSemaphore(value: 0)
    private let listener: Int32

    init() throws {
        let (listener, port) = try listenOnLoopback()
        self.listener = listener
        self.port = port
        let headSeen = headSeen
        Thread {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            defer { _ = Glibc.close(connection) }
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            // The request's head and its body (the body's last byte is the JSON's closing brace).
            while !String(decoding: received, as: UTF8.self).hasSuffix("}") {
                let read = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
                guard read > 0 else { return }
                received += buffer[..<read]
            }
            func write(_ text: String) {
                _ = Array(text.utf8).withUnsafeBytes { send(connection, $0.baseAddress, $0.count, 0) }
            }
            write(
                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
                    + "Connection: close\r\n\r\n")
            _ = headSeen.wait(timeout: .now() + 10)
            let events =
                #"data: {"id":"chatcmpl-head-first","object":"chat.completion.chunk","model":"gpt-4.1","#
                + #""choices":[{"index":0,"delta":{"content":"Hi"}}],"usage":{"prompt_tokens":8,"#
                + #""completion_tokens":1,"total_tokens":9}}"# + "\n\ndata: [DONE]\n\n"
            write(String(events.utf8.count, radix: 16) + "\r\n" + events + "\r\n0\r\n\r\n")
        }.start()
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        _ = Glibc.close(listener)
    }
}

/// A blocking TCP client for the tests that must speak HTTP by hand.
struct RawSocket {
    let descriptor: Int32

    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else { throw MeterrError(.unavailable, "cannot connect to 127.0.0.1:\(port)") }
        // A server that never answers fails the test instead of hanging it.
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard count > 0 else { throw MeterrError(.unavailable, "send failed") }
            sent += count
        }
    }

    /// Reads on a thread of its own: a blocking read must not hold the concurrency pool the server needs.
    func receive(atLeast count: Int) async throws -> String {
        await receiveUntilEnd(atLeast: count).text
    }

    /// What arrives until `count` bytes have, the server closes the connection (`closed`), or 10 s pass
    /// without a byte; read on a thread of its own.
    func receiveUntilEnd(atLeast count: Int) async -> (text: String, closed: Bool) {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: self.receiveBlocking(atLeast: count)) }.start()
        }
    }

    private func receiveBlocking(atLeast count: Int) -> (text: String, closed: Bool) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var closed = false
        while received.count < count {
            let read = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard read > 0 else {
                closed = read == 0
                break
            }
            received += buffer[..<read]
        }
        return (String(decoding: received, as: UTF8.self), closed)
    }

    func close() { _ = Glibc.close(descriptor) }

    /// Sends `text` on a new connection to `port` and reads until the server closes it (`closed`) or
    /// stays silent for 10 s.
    static func exchangeUntilClosed(port: Int, _ text: String) async throws -> (text: String, closed: Bool) {
        let socket = try RawSocket(port: port)
        defer { socket.close() }
        try socket.send(text)
        return await socket.receiveUntilEnd(atLeast: .max)
    }

    /// Sends `text` on a new connection to `port` and reads everything until the server closes it.
    static func exchange(port: Int, _ text: String) async throws -> String {
        try await exchangeUntilClosed(port: port, text).text
    }
}
