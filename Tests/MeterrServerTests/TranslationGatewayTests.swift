import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import MeterrTestSupport
import NIOCore
import Testing

/// `/v1` Chat Completions calls naming `anthropic/…`, `gemini/…` or `cohere/…`, translated to those
/// providers' native APIs by a real gateway in front of a fake provider that serves native paths.
@Suite("The unified API: /v1 translated to native APIs through the gateway")
struct TranslationGatewayTests {
    static let bearer: HTTPFields = [.authorization: "Bearer \(adminKey)"]

    @Test(
        "A call goes to the native path with the native key and headers, and answers in OpenAI's format",
        arguments: [
            ("anthropic/claude-sonnet-4-5", "/v1/messages", "x-api-key", "anthropic", 12060, "messages"),
            (
                "gemini/gemini-2.5-pro", "/v1beta/models/gemini-2.5-pro:generateContent", "x-goog-api-key", "gemini",
                250000, "generateContent"
            ),
            ("cohere/command-a-03-2025", "/v2/chat", "authorization", "cohere", 21, "chat"),
        ])
    func native(model: String, path: String, keyHeader: String, provider: String, prompt: Int, endpoint: String)
        async throws
    {
        try await withGateway { client, seen in
            let response = try await client.call(
                "/v1/chat/completions",
                #"{"model":"\#(model)","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}],"seed":3}"#,
                headers: Self.bearer)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json")
            #expect(
                response.headers[.init(MeterrHeader.droppedParameters)!] == (provider == "anthropic" ? "seed" : nil))
            let upstream = try #require(seen.last.withLock { $0 })
            #expect(upstream.path == path)
            #expect(upstream.headers[keyHeader]?.contains("real-\(provider)-key") == true)
            #expect(upstream.headers["anthropic-version"] == (provider == "anthropic" ? "2023-06-01" : nil))
            #expect(!upstream.body.contains("\(provider)/"), "the model goes without its prefix")
            let answer = response.json
            #expect(answer["object"] as? String == "chat.completion")
            let usage = try #require(answer["usage"] as? [String: Any])
            #expect(usage["prompt_tokens"] as? Int == prompt)
            let event = try #require(try await client.event(response.headers[.init("x-meterr-request-id")!]!))
            #expect(event["provider"] as? String == provider)
            #expect(event["route"] as? String == "translated")
            #expect(event["endpoint"] as? String == endpoint)
            #expect(event["input_tokens"] as? Int == prompt)
            #expect(event["completion_tokens"] == nil)
            #expect(event["output_tokens"] as? Int == usage["completion_tokens"] as? Int)
            #expect(event["usage_source"] as? String == "reported")
            #expect(response.headers[.init(MeterrHeader.cost)!] == event["cost_usd"] as? String)
        }
    }

    @Test("A stream is translated chunk by chunk; Gemini's goes to streamGenerateContent with alt=sse")
    func stream() async throws {
        try await withGateway { client, seen in
            let response = try await client.call(
                "/v1/chat/completions",
                #"{"model":"gemini/gemini-2.5-flash","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#,
                headers: Self.bearer)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/event-stream")
            #expect(seen.last.withLock { $0 }?.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent")
            let text = String(buffer: response.body)
            #expect(text.hasSuffix("data: [DONE]\n\n"))
            #expect(text.contains(#""object":"chat.completion.chunk""#))
            #expect(text.contains(#""usage":{"prompt_tokens":8,"completion_tokens":54"#))
            let event = try #require(try await client.event(response.headers[.init("x-meterr-request-id")!]!))
            #expect(event["stream"] as? Bool == true)
            #expect(event["input_tokens"] as? Int == 8)
            #expect(event["output_tokens"] as? Int == 54)
        }
    }

    @Test("A stream the provider cuts ends with an error event, and what streamed is metered as an estimate")
    func cutStream() async throws {
        try await withGateway { client, _ in
            let response = try await client.call(
                "/v1/chat/completions",
                #"{"model":"anthropic/claude-sonnet-4-5","stream":true,"messages":[{"role":"user","content":"fault-cut"}]}"#,
                headers: Self.bearer)
            #expect(response.status == .ok)
            let text = String(buffer: response.body)
            #expect(!text.contains("[DONE]"))
            #expect(text.contains(#"data: {"error":{"message":"the provider's stream ended before it finished""#))
            let event = try #require(try await client.event(response.headers[.init("x-meterr-request-id")!]!))
            #expect(event["usage_source"] as? String == "estimated")
        }
    }

    @Test("A provider error keeps its status and comes in OpenAI's error shape")
    func providerError() async throws {
        try await withGateway { client, _ in
            let response = try await client.call(
                "/v1/chat/completions", #"{"model":"anthropic/fault-500","messages":[{"role":"user","content":"hi"}]}"#,
                headers: Self.bearer)
            #expect(response.status == .internalServerError)
            let error = try #require(response.json["error"] as? [String: Any])
            #expect(error["message"] as? String == "boom")
            #expect(error["type"] as? String != nil)
        }
    }

    @Test("What cannot be translated is a 400 in OpenAI's shape, and nothing goes upstream")
    func refusals() async throws {
        try await withGateway { client, seen in
            for (body, headers, fragment) in [
                (
                    #"{"model":"anthropic/claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}],"n":3}"#,
                    Self.bearer, "n = 1"
                ),
                (
                    #"{"model":"anthropic/claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}],"seed":1}"#,
                    Self.bearer + [.init(MeterrHeader.unsupportedParameters)!: "reject"], "seed"
                ),
                (
                    #"{"model":"gemini/gemini-2.5-pro","messages":[{"role":"user","content":"hi"}]}"#,
                    Self.bearer + [.init(MeterrHeader.wire)!: "sideways"], "native or compatible"
                ),
            ] {
                let response = try await client.call("/v1/chat/completions", body, headers: headers)
                #expect(response.status == .badRequest)
                let message = (response.json["error"] as? [String: Any])?["message"] as? String ?? ""
                #expect(message.contains(fragment), "\(message)")
            }
            #expect(seen.last.withLock { $0 } == nil)
        }
    }
}

extension HTTPFields {
    static func + (lhs: HTTPFields, rhs: HTTPFields) -> HTTPFields {
        var all = lhs
        all.append(contentsOf: rhs)
        return all
    }
}
