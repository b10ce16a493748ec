import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import MeterrProviders
import MeterrStore
import MeterrTestSupport
import NIOCore
import Testing

@testable import MeterrServer

/// The response cache's key: every member that can change an answer changes it.
@Suite("The response cache's key")
struct ResponseCacheKeyTests {
    static let base =
        #"{"model":"gpt-4.1","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}],"#
        + #""temperature":0.7,"top_p":1,"max_tokens":100,"stop":["\n"],"seed":7,"tools":[{"type":"function","#
        + #""function":{"name":"f","description":"d","parameters":{"type":"object"}}}],"tool_choice":"auto","#
        + #""parallel_tool_calls":true,"response_format":{"type":"json_object"},"presence_penalty":0,"#
        + #""frequency_penalty":0,"logit_bias":{"50256":-100},"reasoning_effort":"low","safety_settings":[],"#
        + #""prediction":{"type":"content","content":"x"},"stream":false,"user":"u1","metadata":{"a":"b"}}"#

    static func key(
        _ body: String, org: String = "org_a", provider: Provider = .openai, path: String = "/v1/chat/completions",
        query: String? = nil, headers: [(name: String, value: String)] = [], route: String? = nil
    ) -> ResponseCacheKey? {
        ResponseCacheKey(
            org: org, provider: provider, format: .openai, endpoint: .chatCompletions, path: path, query: query,
            headers: headers, body: Array(body.utf8), route: route)
    }

    /// The base request with one member replaced.
    static func changed(_ member: String, to value: String) throws -> String {
        var object = try #require(JSONSerialization.jsonObject(with: Data(base.utf8)) as? [String: Any])
        object[member] = try JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)
        return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    @Test(
        "Changing any member that can change the answer misses",
        arguments: [
            ("model", #""gpt-4.1-mini""#), ("messages", #"[{"role":"user","content":"hi!"}]"#),
            ("temperature", "0.8"), ("top_p", "0.9"), ("max_tokens", "101"), ("stop", #"["."]"#), ("seed", "8"),
            (
                "tools",
                #"[{"type":"function","function":{"name":"f","description":"e","parameters":{"type":"object"}}}]"#
            ),
            ("tool_choice", #""none""#), ("parallel_tool_calls", "false"),
            ("response_format", #"{"type":"text"}"#), ("presence_penalty", "0.1"), ("frequency_penalty", "0.1"),
            ("logit_bias", #"{"50256":-99}"#), ("reasoning_effort", #""high""#), ("safety_settings", "[1]"),
            ("prediction", #"{"type":"content","content":"y"}"#), ("n", "2"), ("logprobs", "true"),
            ("extra_body", #"{"num_ctx":4096}"#),
        ])
    func everyMemberCounts(member: String, value: String) throws {
        let base = try #require(Self.key(Self.base))
        let other = try #require(Self.key(try Self.changed(member, to: value)))
        #expect(base.hex != other.hex, "\(member) must change the key")
    }

    @Test("Members that cannot change the answer, key order and number spelling do not")
    func sameAnswerSameKey() throws {
        let base = try #require(Self.key(Self.base))
        for (member, value) in [
            ("stream", "true"), ("stream_options", #"{"include_usage":true}"#), ("user", #""u2""#),
            ("metadata", #"{"a":"c"}"#),
        ] {
            #expect(try #require(Self.key(try Self.changed(member, to: value))).hex == base.hex, "\(member)")
        }
        let a = try #require(Self.key(#"{"model":"m","temperature":0.70,"max_tokens":1e2,"messages":[]}"#))
        let b = try #require(Self.key(#"{"messages":[],"max_tokens":100,"temperature":0.7,"model":"m"}"#))
        #expect(a.hex == b.hex)
    }

    @Test("The organisation, provider, path, query, route and behaviour headers are in the key")
    func context() throws {
        let body = #"{"contents":[{"parts":[{"text":"hi"}]}]}"#
        let base = try #require(Self.key(body, path: "/v1beta/models/gemini-2.5-flash:generateContent"))
        for other in [
            Self.key(body, org: "org_b", path: "/v1beta/models/gemini-2.5-flash:generateContent"),
            Self.key(body, provider: .gemini, path: "/v1beta/models/gemini-2.5-flash:generateContent"),
            Self.key(body, path: "/v1beta/models/gemini-2.5-pro:generateContent"),
            Self.key(body, path: "/v1beta/models/gemini-2.5-flash:generateContent", query: "api-version=2"),
            Self.key(body, path: "/v1beta/models/gemini-2.5-flash:generateContent", headers: [("anthropic-beta", "x")]),
            Self.key(body, path: "/v1beta/models/gemini-2.5-flash:generateContent", route: "fast:openai/gpt-4.1"),
        ] {
            #expect(try #require(other).hex != base.hex)
        }
        // Gemini's stream surface, its `alt=sse` and the caller's `key=` do not change the answer.
        let streamed = try #require(
            Self.key(body, path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent", query: "alt=sse&key=mk_x"))
        #expect(streamed.hex == base.hex)
    }

    @Test("n, candidateCount and store are read; the Responses API stores unless told not to")
    func facts() throws {
        #expect(try #require(Self.key(#"{"n":3}"#)).choices == 3)
        #expect(try #require(Self.key(#"{"generationConfig":{"candidateCount":2}}"#)).choices == 2)
        #expect(try #require(Self.key(#"{"store":true}"#)).storesUpstream)
        #expect(!(try #require(Self.key(#"{"store":false}"#)).storesUpstream))
        let responses = ResponseCacheKey(
            org: "o", provider: .openai, format: .openai, endpoint: .responses, path: "/v1/responses", query: nil,
            headers: [], body: Array(#"{"input":"hi"}"#.utf8))
        #expect(responses?.storesUpstream == true)
        #expect(Self.key("[1]") == nil)
    }

    @Test("Truncated answers are told apart from finished ones in every provider's format")
    func truncation() {
        for text in [
            #"{"choices":[{"finish_reason": "length"}]}"#, #"{"stop_reason":"max_tokens"}"#,
            #"{"candidates":[{"finishReason":"MAX_TOKENS"}]}"#, #"{"finish_reason":"MAX_TOKENS"}"#,
            #"{"status" : "incomplete"}"#,
        ] {
            #expect(GatewayCache.truncated(Array(text.utf8)), "\(text)")
        }
        for text in [#"{"finish_reason":"stop"}"#, #"{"stop_reason":"end_turn"}"#, #"{"status":"completed"}"#] {
            #expect(!GatewayCache.truncated(Array(text.utf8)), "\(text)")
        }
    }
}

/// The response cache through the gateway, in front of a fake provider.
@Suite("The response cache through the gateway")
struct ResponseCacheGatewayTests {
    static let bearer: HTTPFields = [.authorization: "Bearer \(adminKey)"]
    static let on: HTTPFields = bearer + [.init(MeterrHeader.cache)!: "on"]
    static let chat = #"{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}"#

    @Test("A covered call misses then hits: the provider is called once, the hit costs 0 and saves the first cost")
    func missThenHit() async throws {
        try await withGateway { client, seen in
            let first = try await client.call("/openai/v1/chat/completions", Self.chat, headers: Self.on)
            #expect(first.status == .ok)
            #expect(first.headers[GatewayCache.header] == "miss")
            let key = try #require(first.headers[GatewayCache.keyHeader])
            try await client.waitForCachedAnswers(1)
            let calls = seen.all.withLock { $0.count }
            let second = try await client.call("/openai/v1/chat/completions", Self.chat, headers: Self.on)
            #expect(second.status == .ok)
            #expect(second.headers[GatewayCache.header] == "hit")
            #expect(second.headers[GatewayCache.keyHeader] == key)
            #expect(second.headers[.init(MeterrHeader.cost)!] == "0.000000000")
            #expect(seen.all.withLock { $0.count } == calls, "a hit never reaches the provider")
            // The same answer, with its own id and time.
            let a = first.json
            let b = second.json
            #expect(a["id"] as? String != b["id"] as? String)
            #expect((b["id"] as? String)?.hasPrefix("chatcmpl-") == true)
            #expect(
                ((a["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
                    == ((b["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String)
            #expect((a["usage"] as? [String: Any])?["prompt_tokens"] as? Int == 1200)
            #expect((b["usage"] as? [String: Any])?["prompt_tokens"] as? Int == 1200)

            let missed = try #require(try await client.event(first.headers[.init("x-meterr-request-id")!]!))
            let hit = try #require(try await client.event(second.headers[.init("x-meterr-request-id")!]!))
            #expect(missed["cache_hit"] as? Bool == false)
            #expect(missed["saved_usd"] is NSNull)
            #expect(hit["cache_hit"] as? Bool == true)
            #expect(hit["cost_usd"] as? String == "0.000000000")
            #expect(hit["saved_usd"] as? String == missed["cost_usd"] as? String)
            #expect(second.headers[GatewayCache.savedHeader] == missed["cost_usd"] as? String)
            #expect(hit["input_tokens"] as? Int == 0, "the provider billed nothing: token limits and reports agree")
            #expect(hit["route"] as? String == "cache")
            #expect(hit["model"] as? String == missed["model"] as? String)
            // Spend counts the first call only.
            let summary = try await client.get("/api/usage/summary?from=2026-01-01T00:00:00Z").json
            #expect((summary["totals"] as? [String: Any])?["cost_usd"] as? String == missed["cost_usd"] as? String)
            #expect((summary["totals"] as? [String: Any])?["requests"] as? Int == 2)
        }
    }

    @Test("Without a rule or header the cache is silent; off bypasses; refresh calls again; a rule covers by model")
    func coverage() async throws {
        try await withGateway(configure: { configuration, _ in
            configuration.responseCache.rules = [.init(models: ["gpt-4.1-mini"], ttl: .seconds(60))]
        }) { client, seen in
            let plain = try await client.call("/openai/v1/chat/completions", Self.chat, headers: Self.bearer)
            #expect(plain.headers[GatewayCache.header] == nil)
            let off = try await client.call(
                "/openai/v1/chat/completions", Self.chat, headers: Self.bearer + [.init(MeterrHeader.cache)!: "off"])
            #expect(off.headers[GatewayCache.header] == "bypass")
            let mini = #"{"model":"gpt-4.1-mini","messages":[{"role":"user","content":"hi"}]}"#
            #expect(
                try await client.call("/openai/v1/chat/completions", mini, headers: Self.bearer).headers[
                    GatewayCache.header] == "miss")
            try await client.waitForCachedAnswers(1)
            #expect(
                try await client.call("/openai/v1/chat/completions", mini, headers: Self.bearer).headers[
                    GatewayCache.header] == "hit")
            let before = seen.all.withLock { $0.count }
            let refreshed = try await client.call(
                "/openai/v1/chat/completions", mini, headers: Self.bearer + [.init(MeterrHeader.cache)!: "refresh"])
            #expect(refreshed.headers[GatewayCache.header] == "miss")
            #expect(seen.all.withLock { $0.count } == before + 1)
            let bad = try await client.call(
                "/openai/v1/chat/completions", mini, headers: Self.bearer + [.init(MeterrHeader.cache)!: "maybe"])
            #expect(bad.status == .badRequest)
            #expect(String(buffer: bad.body).contains("x-meterr-cache must be on, off or refresh"))
            let badTTL = try await client.call(
                "/openai/v1/chat/completions", mini, headers: Self.on + [.init(MeterrHeader.cacheTTL)!: "-1"])
            #expect(badTTL.status == .badRequest)
        }
    }

    @Test("Errors, cut streams and n > 1 are never kept; n > 1 is kept when the call asks with on")
    func neverKept() async throws {
        try await withGateway { client, seen in
            let failing = #"{"model":"fault-500","messages":[{"role":"user","content":"hi"}]}"#
            #expect(try await client.call("/openai/v1/chat/completions", failing, headers: Self.on).status.code == 500)
            let cut = #"{"model":"gpt-4.1","stream":true,"messages":[{"role":"user","content":"fault-cut"}]}"#
            _ = try await client.call("/openai/v1/chat/completions", cut, headers: Self.on)
            let many = #"{"model":"gpt-4.1","n":2,"messages":[{"role":"user","content":"hi"}]}"#
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await client.cachedAnswers() == 0)
            let before = seen.all.withLock { $0.count }
            #expect(try await client.call("/openai/v1/chat/completions", failing, headers: Self.on).status.code == 500)
            #expect(seen.all.withLock { $0.count } == before + 1)
            // Asked explicitly, n > 1 is kept.
            #expect(
                try await client.call("/openai/v1/chat/completions", many, headers: Self.on).headers[
                    GatewayCache.header] == "miss")
            try await client.waitForCachedAnswers(1)
        }
    }

    @Test("A stream is replayed event for event, with its id and time re-stamped; its usage chunk only if asked")
    func streamReplay() async throws {
        try await withGateway { client, _ in
            let body =
                #"{"model":"gpt-4.1","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#
            let first = try await client.call("/openai/v1/chat/completions", body, headers: Self.on)
            #expect(first.headers[GatewayCache.header] == "miss")
            try await client.waitForCachedAnswers(1)
            let second = try await client.call("/openai/v1/chat/completions", body, headers: Self.on)
            #expect(second.headers[GatewayCache.header] == "hit")
            #expect(second.headers[.contentType] == "text/event-stream")
            let original = Self.events(first)
            let replayed = Self.events(second)
            #expect(original.count == replayed.count && original.count > 3)
            let firstId = try #require(Self.id(original[0]))
            let secondId = try #require(Self.id(replayed[0]))
            #expect(firstId != secondId)
            for (a, b) in zip(original, replayed) {
                #expect(Self.normalised(a, id: firstId) == Self.normalised(b, id: secondId))
            }
            #expect(original.last == "data: [DONE]")
            // A caller that did not ask for usage gets no usage chunk.
            let plain = #"{"model":"gpt-4.1","stream":true,"messages":[{"role":"user","content":"hi"}]}"#
            let third = try await client.call("/openai/v1/chat/completions", plain, headers: Self.on)
            #expect(third.headers[GatewayCache.header] == "hit")
            #expect(Self.events(third).count == original.count - 1)
            #expect(!String(buffer: third.body).contains(#""usage":{"#))
        }
    }

    @Test("A streamed call is served from a whole answer and a whole call from a stream, in OpenAI's format")
    func reshaped() async throws {
        try await withGateway { client, seen in
            let whole = try await client.call("/openai/v1/chat/completions", Self.chat, headers: Self.on)
            try await client.waitForCachedAnswers(1)
            let calls = seen.all.withLock { $0.count }
            let streamed =
                #"{"model":"gpt-4.1","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#
            let asStream = try await client.call("/openai/v1/chat/completions", streamed, headers: Self.on)
            #expect(asStream.headers[GatewayCache.header] == "hit")
            #expect(asStream.headers[.contentType] == "text/event-stream")
            let text = Self.streamedText(asStream)
            let content =
                ((whole.json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"]
                as? String
            #expect(text == content)
            #expect(String(buffer: asStream.body).contains(#""prompt_tokens":1200"#))
            #expect(String(buffer: asStream.body).hasSuffix("data: [DONE]\n\n"))
            #expect(seen.all.withLock { $0.count } == calls)

            // The reverse: a stream kept, a whole call served from it.
            let other = #"{"model":"gpt-4.1","stream":true,"messages":[{"role":"user","content":"again"}]}"#
            let stream = try await client.call("/openai/v1/chat/completions", other, headers: Self.on)
            try await client.waitForCachedAnswers(2)
            let asWhole = try await client.call(
                "/openai/v1/chat/completions", #"{"model":"gpt-4.1","messages":[{"role":"user","content":"again"}]}"#,
                headers: Self.on)
            #expect(asWhole.headers[GatewayCache.header] == "hit")
            let choice = try #require((asWhole.json["choices"] as? [[String: Any]])?.first)
            #expect((choice["message"] as? [String: Any])?["content"] as? String == Self.streamedText(stream))
            #expect(choice["finish_reason"] as? String == "stop")
            #expect((asWhole.json["usage"] as? [String: Any])?["completion_tokens"] as? Int == 2)
        }
    }

    @Test("A translated answer is kept as the provider sent it and served translated, whole or streamed")
    func translated() async throws {
        try await withGateway { client, seen in
            let body = #"{"model":"anthropic/claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}"#
            let first = try await client.call("/v1/chat/completions", body, headers: Self.on)
            #expect(first.headers[GatewayCache.header] == "miss")
            try await client.waitForCachedAnswers(1)
            let calls = seen.all.withLock { $0.count }
            let again = try await client.call("/v1/chat/completions", body, headers: Self.on)
            #expect(again.headers[GatewayCache.header] == "hit")
            #expect(again.json["object"] as? String == "chat.completion")
            #expect((again.json["usage"] as? [String: Any])?["prompt_tokens"] as? Int == 12060)
            let streamed = try await client.call(
                "/v1/chat/completions",
                #"{"model":"anthropic/claude-sonnet-4-5","stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
                headers: Self.on)
            #expect(streamed.headers[GatewayCache.header] == "hit")
            #expect(String(buffer: streamed.body).contains(#""object":"chat.completion.chunk""#))
            let content =
                ((first.json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"]
                as? String
            #expect(Self.streamedText(streamed) == content)
            #expect(seen.all.withLock { $0.count } == calls)
            let hit = try #require(try await client.event(again.headers[.init("x-meterr-request-id")!]!))
            #expect(hit["provider"] as? String == "anthropic")
            #expect(hit["saved_usd"] as? String == "0.010881000")
        }
    }

    @Test(
        "Each provider's own surface replays its own format, whole and streamed",
        arguments: [
            ("/anthropic/v1/messages", #"{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[]}"#),
            ("/anthropic/v1/messages", #"{"model":"claude-sonnet-4-5","max_tokens":100,"stream":true,"messages":[]}"#),
            ("/gemini/v1beta/models/gemini-2.5-pro:generateContent", #"{"contents":[]}"#),
            ("/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", #"{"contents":[]}"#),
            ("/cohere/v2/chat", #"{"model":"command-a-03-2025","stream":true,"messages":[]}"#),
            ("/mistral/v1/chat/completions", #"{"model":"mistral-large-latest","messages":[]}"#),
            ("/openai/v1/embeddings", #"{"model":"text-embedding-3-small","input":"hi"}"#),
        ])
    func nativeSurfaces(path: String, body: String) async throws {
        try await withGateway { client, seen in
            let first = try await client.call(path, body, headers: Self.on)
            #expect(first.status == .ok)
            #expect(first.headers[GatewayCache.header] == "miss")
            try await client.waitForCachedAnswers(1)
            let calls = seen.all.withLock { $0.count }
            let second = try await client.call(path, body, headers: Self.on)
            #expect(second.headers[GatewayCache.header] == "hit")
            #expect(second.headers[.contentType] == first.headers[.contentType])
            #expect(seen.all.withLock { $0.count } == calls)
            let a = Self.events(first)
            let b = Self.events(second)
            #expect(a.count == b.count)
            let idA = Self.id(a[0]) ?? ""
            let idB = Self.id(b[0]) ?? ""
            for (x, y) in zip(a, b) { #expect(Self.normalised(x, id: idA) == Self.normalised(y, id: idB)) }
            let missed = try #require(try await client.event(first.headers[.init("x-meterr-request-id")!]!))
            let hit = try #require(try await client.event(second.headers[.init("x-meterr-request-id")!]!))
            #expect(hit["saved_usd"] as? String == missed["cost_usd"] as? String)
            #expect(hit["provider"] as? String == missed["provider"] as? String)
        }
    }

    @Test("Another organisation's identical call misses; purging and forgetting a user empty the cache")
    func isolation() async throws {
        try await withGateway { client, seen in
            _ = try await client.call(
                "/openai/v1/chat/completions", Self.chat, headers: Self.on + [.init(MeterrHeader.user)!: "ana"])
            try await client.waitForCachedAnswers(1)
            let created = try await client.post("/api/orgs", #"{"name":"Other Corp"}"#)
            let other = try #require(created.json["admin_key"] as? String)
            let theirs: HTTPFields = [.authorization: "Bearer \(other)", .init(MeterrHeader.cache)!: "on"]
            let calls = seen.all.withLock { $0.count }
            let answer = try await client.call("/openai/v1/chat/completions", Self.chat, headers: theirs)
            #expect(answer.headers[GatewayCache.header] == "miss")
            #expect(seen.all.withLock { $0.count } == calls + 1)
            try await client.waitForCachedAnswers(1, key: other)
            #expect(try await client.cachedAnswers() == 1, "each organisation sees its own")
            let forgotten = try await client.post("/api/users/ana/forget", "{}")
            #expect(forgotten.json["cached_answers"] as? Int == 1)
            #expect(try await client.cachedAnswers() == 0)
            let purged = try await client.execute(
                uri: "/api/cache", method: .delete, headers: [.authorization: "Bearer \(other)"])
            #expect(purged.json["deleted"] as? Int == 1)
            #expect(try await client.cachedAnswers(key: other) == 0)
        }
    }

    @Test("A hit is served even when a hard budget would refuse the call: it costs nothing")
    func budgets() async throws {
        try await withGateway { client, _ in
            _ = try await client.call("/openai/v1/chat/completions", Self.chat, headers: Self.on)
            try await client.waitForCachedAnswers(1)
            let budget = try await client.post(
                "/api/budgets", #"{"name":"tiny","limit_usd":"0.000000001","period":"month","hard":true}"#)
            #expect(budget.status == .created, "\(String(buffer: budget.body))")
            let hit = try await client.call("/openai/v1/chat/completions", Self.chat, headers: Self.on)
            #expect(hit.status == .ok)
            #expect(hit.headers[GatewayCache.header] == "hit")
            let miss = try await client.call(
                "/openai/v1/chat/completions", #"{"model":"gpt-4.1","messages":[{"role":"user","content":"new"}]}"#,
                headers: Self.on)
            #expect(miss.status == .tooManyRequests)
        }
    }

    // MARK: Helpers

    static func events(_ response: TestResponse) -> [String] {
        String(buffer: response.body).components(separatedBy: "\n\n").filter { !$0.isEmpty }
    }

    /// The answer's id: OpenAI's, Anthropic's and Cohere's `id`, Gemini's `responseId`.
    static func id(_ event: String) -> String? {
        guard let range = event.range(of: #""(id|responseId)" ?: ?""#, options: .regularExpression) else { return nil }
        return String(event[range.upperBound...].prefix { $0 != "\"" })
    }

    /// An event with its id and `created` second blanked.
    static func normalised(_ event: String, id: String) -> String {
        event.replacingOccurrences(of: id, with: "ID").replacingOccurrences(
            of: #""created(_at)?": ?\d+"#, with: #""created":0"#, options: .regularExpression)
    }

    /// The content a stream of OpenAI chunks carries.
    static func streamedText(_ response: TestResponse) -> String {
        var text = ""
        for event in events(response) where event.hasPrefix("data: {") {
            let json = try? JSONSerialization.jsonObject(with: Data(event.dropFirst(6).utf8)) as? [String: Any]
            for choice in json?["choices"] as? [[String: Any]] ?? [] {
                text += (choice["delta"] as? [String: Any])?["content"] as? String ?? ""
            }
        }
        return text
    }
}

extension TestClientProtocol {
    func cachedAnswers(key: String = adminKey) async throws -> Int {
        try await get("/api/cache", key: key).json["entries"] as? Int ?? -1
    }

    /// Waits (bounded) until the organisation's cache holds `count` answers: answers are kept off the
    /// call's path.
    func waitForCachedAnswers(_ count: Int, key: String = adminKey) async throws {
        for _ in 0..<200 {
            if try await cachedAnswers(key: key) >= count { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("the cache never held \(count) answers")
    }
}
