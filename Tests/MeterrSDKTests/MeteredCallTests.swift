import AsyncHTTPClient
import Foundation
import MeterrCore
import MeterrSDK
import MeterrTestSupport
import NIOCore
import Synchronization
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A transport that stands in for meterr: it keeps every event it is sent and answers 200.
final class RecordingTransport: HTTPTransport {
    let events = Mutex<[UsageEvent]>([])

    /// A reporter that sends to this transport; the address is never dialled.
    func reporter() -> Reporter {
        Reporter(
            connection: MeterrConnection(baseURL: "http://127.0.0.1:9", key: "mk_test"),
            configuration: .init(flushInterval: .milliseconds(10)), transport: self)
    }

    func send(_ request: TransportRequest, timeout: Duration) async throws -> TransportResponse {
        let (batch, _) = try UsageEventParser.parseBatch(request.body, receivedAt: Timestamp(milliseconds: 0))
        events.withLock { $0.append(contentsOf: batch) }
        return TransportResponse(status: 200, body: Array(#"{"received":0,"inserted":0,"duplicates":0}"#.utf8))
    }
}

struct MeteredCase: Sendable, CustomTestStringConvertible {
    var name: String
    /// The recorded response the fake provider answers with.
    var fixture: String
    var provider: Provider
    var path: String
    var body: String
    var input: Int
    var cacheRead = 0
    var output: Int
    var reasoning = 0
    var model: String
    var endpoint: String
    var stream = false

    var testDescription: String { name }
}

let meteredCases: [MeteredCase] = [
    MeteredCase(
        name: "OpenAI chat", fixture: "openai-chat.json", provider: .openai, path: "/v1/chat/completions",
        body: #"{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}"#, input: 1200, cacheRead: 1024,
        output: 8, model: "gpt-4.1-2025-04-14", endpoint: "chat.completions"),
    MeteredCase(
        name: "OpenAI chat, streamed", fixture: "openai-chat.sse", provider: .openai, path: "/v1/chat/completions",
        body: #"{"model":"gpt-4.1","stream":true,"stream_options":{"include_usage":true},"messages":[]}"#, input: 12,
        output: 2, model: "gpt-4.1-2025-04-14", endpoint: "chat.completions", stream: true),
    MeteredCase(
        name: "OpenAI responses, streamed", fixture: "openai-responses.sse", provider: .openai, path: "/v1/responses",
        body: #"{"model":"gpt-4.1","stream":true,"input":"hi"}"#, input: 9, output: 3, model: "gpt-4.1-2025-04-14",
        endpoint: "responses", stream: true),
    MeteredCase(
        name: "Anthropic messages", fixture: "anthropic-messages.json", provider: .anthropic, path: "/v1/messages",
        body: #"{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[]}"#, input: 12_060, cacheRead: 10_000,
        output: 11, model: "claude-sonnet-4-5-20250929", endpoint: "messages"),
    MeteredCase(
        name: "Anthropic messages, streamed", fixture: "anthropic-messages.sse", provider: .anthropic,
        path: "/v1/messages",
        body: #"{"model":"claude-sonnet-4-5","max_tokens":100,"stream":true,"messages":[]}"#, input: 12, output: 9,
        model: "claude-sonnet-4-5-20250929", endpoint: "messages", stream: true),
    MeteredCase(
        name: "Gemini generateContent", fixture: "gemini-generate.json", provider: .gemini,
        path: "/v1beta/models/gemini-2.5-pro:generateContent",
        body: #"{"contents":[]}"#, input: 250_000, cacheRead: 200_000, output: 129, reasoning: 120,
        model: "gemini-2.5-pro", endpoint: "generateContent"),
    MeteredCase(
        name: "Gemini, streamed", fixture: "gemini-generate.sse", provider: .gemini,
        path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", body: #"{"contents":[]}"#, input: 8,
        output: 54, reasoning: 45, model: "gemini-2.5-flash", endpoint: "streamGenerateContent", stream: true),
    MeteredCase(
        name: "Mistral chat, streamed", fixture: "mistral-chat.sse", provider: .mistral, path: "/v1/chat/completions",
        body: #"{"model":"mistral-medium-2508","stream":true,"messages":[]}"#, input: 10, output: 4,
        model: "mistral-medium-2508", endpoint: "chat.completions", stream: true),
    MeteredCase(
        name: "Cohere chat", fixture: "cohere-chat.json", provider: .cohere, path: "/v2/chat",
        body: #"{"model":"command-a-03-2025","messages":[]}"#,
        input: 21, output: 9, model: "command-a-03-2025", endpoint: "chat"),
]

/// What the three ways of making a metered call have in common: a fake provider, a reporter into a
/// recording transport, and the check of the one event that must come out.
func withMetering(
    _ item: MeteredCase, _ call: @Sendable (_ url: String, _ metering: Metering) async throws -> [UInt8]
) async throws {
    let (provider, baseURL) = try await startFakeProvider()
    defer { provider.cancel() }
    let recorder = RecordingTransport()
    let reporter = recorder.reporter()
    let metering = Metering(
        reporter: reporter, provider: item.provider,
        attribution: Attribution(team: "search", user: "ana", tags: ["env": "test"]))
    let body = try await call(baseURL + item.path, metering)
    await reporter.shutdown()

    #expect(body == providerFixture(item.fixture), "the app gets the provider's bytes unchanged")
    let events = recorder.events.withLock { $0 }
    let event = try #require(events.first)
    #expect(events.count == 1)
    #expect(event.provider == item.provider)
    #expect(event.model == item.model)
    #expect(event.endpoint == item.endpoint)
    #expect(event.usage.inputTokens == item.input)
    #expect(event.usage.cacheReadTokens == item.cacheRead)
    #expect(event.usage.outputTokens == item.output)
    #expect(event.usage.reasoningTokens == item.reasoning)
    #expect(event.usageSource == .reported)
    #expect(event.stream == item.stream)
    #expect(event.status == 200)
    #expect(event.team == "search" && event.user == "ana" && event.tags == ["env": "test"])
    #expect(event.cost == nil, "meterr prices the event, not the app")
    #expect(event.id.hasPrefix("evt_"))
}

@Suite("Metered calls read the usage of every provider's responses with the gateway's parsers")
struct MeteredCallTests {
    @Test("AsyncHTTPClient: the body streams to the app and the event carries the exact usage", arguments: meteredCases)
    func asyncHTTPClient(_ item: MeteredCase) async throws {
        try await withMetering(item) { url, metering in
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            let response = try await HTTPClient.shared.executeMetered(
                request, body: Array(item.body.utf8), timeout: .seconds(30), metering: metering)
            var received: [UInt8] = []
            for try await chunk in response.body { received.append(contentsOf: chunk.readableBytesView) }
            return received
        }
    }

    @Test("URLSession: meteredData(for:) reports the call's exact usage", arguments: meteredCases)
    func urlSession(_ item: MeteredCase) async throws {
        try await withMetering(item) { url, metering in
            var request = URLRequest(url: URL(string: url)!)
            request.httpMethod = "POST"
            request.httpBody = Data(item.body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "content-type")
            let (data, _) = try await URLSession.shared.meteredData(for: request, metering: metering)
            return Array(data)
        }
    }

    @Test(
        "MeteredTransport over URLSessionTransport and AsyncHTTPClientTransport reports the same usage",
        arguments: [meteredCases[1], meteredCases[4], meteredCases[5]], [true, false])
    func transport(_ item: MeteredCase, overURLSession: Bool) async throws {
        try await withMetering(item) { url, metering in
            let base: any HTTPTransport = overURLSession ? URLSessionTransport() : AsyncHTTPClientTransport()
            let transport = MeteredTransport(base, metering: metering)
            let response = try await transport.send(
                TransportRequest(
                    method: "POST", url: url, headers: [("content-type", "application/json")],
                    body: Array(item.body.utf8)),
                timeout: .seconds(30))
            #expect(response.status == 200)
            return response.body
        }
    }

    @Test("A stream the app stops reading is still reported when released, with an estimate")
    func abandonedStream() async throws {
        let (provider, baseURL) = try await startFakeProvider()
        defer { provider.cancel() }
        let recorder = RecordingTransport()
        let reporter = recorder.reporter()
        let metering = Metering(reporter: reporter, provider: .anthropic)
        do {
            var request = HTTPClientRequest(url: baseURL + "/v1/messages")
            request.method = .POST
            let response = try await HTTPClient.shared.executeMetered(
                request, body: Array(#"{"model":"claude-sonnet-4-5","stream":true,"messages":[]}"#.utf8),
                timeout: .seconds(30), metering: metering)
            for try await _ in response.body { break }
        }
        #expect(await eventually { recorder.events.withLock { $0.count } == 1 })
        let event = try #require(recorder.events.withLock { $0.first })
        #expect(event.usageSource == .estimated)
        #expect(event.stream)
        await reporter.shutdown()
    }

    @Test("A model list costs nothing and reports nothing")
    func unmeteredPath() async throws {
        let recorder = RecordingTransport()
        let reporter = recorder.reporter()
        let call = MeteredCall(
            metering: Metering(reporter: reporter, provider: .openai), url: "http://127.0.0.1:1/v1/models",
            requestBody: [])
        call.receivedHead(status: 200, headers: [("content-type", "application/json")])
        call.received(Array(#"{"data":[]}"#.utf8))
        #expect(call.finish() == nil)
        await reporter.shutdown()
        #expect(recorder.events.withLock { $0.isEmpty })
    }
}
