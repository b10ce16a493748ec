import Foundation
import MeterrCore
import MeterrProviders
import Testing

/// One recorded response and what meterr must read from it.
struct UsageCase: Sendable, CustomTestStringConvertible {
    var fixture: String
    var provider: Provider
    var endpoint: ProviderEndpoint
    var framing: StreamScanner.Framing?
    var usage: Usage?
    var model: String?
    var finished = true
    var error: String? = nil
    var text: String? = nil

    var testDescription: String { fixture }
}

func fixture(_ name: String) throws -> [UInt8] {
    let url = try #require(Bundle.module.url(forResource: "Fixtures/" + name, withExtension: nil))
    return Array(try Data(contentsOf: url))
}

/// Reads a fixture as the gateway would: whole, or streamed in chunks of `chunkSize` bytes.
func read(_ item: UsageCase, bytes: [UInt8], chunkSize: Int = 7) -> UsageReading {
    guard let framing = item.framing else {
        return UsageReader.read(provider: item.provider, endpoint: item.endpoint, body: bytes)
    }
    var scanner = StreamScanner(framing: framing)
    var tap = UsageReader.tap(provider: item.provider, endpoint: item.endpoint)
    var start = 0
    while start < bytes.count {
        scanner.feed(bytes[start..<min(start + chunkSize, bytes.count)]) { tap.consume($0) }
        start += chunkSize
    }
    scanner.finish { tap.consume($0) }
    return tap.reading
}

/// 10 uncached + 3,000 cache reads + 500 5-minute and 1,500 1-hour cache writes; USD 0.016305 on claude-sonnet-4-5.
let anthropicCache1h = Usage(
    inputTokens: 5010, cacheReadTokens: 3000, cacheWriteTokens: 500, cacheWrite1hTokens: 1500, outputTokens: 300)

let usageCases: [UsageCase] = [
    UsageCase(
        fixture: "openai-chat.json", provider: .openai, endpoint: .chatCompletions, framing: nil,
        usage: Usage(inputTokens: 1200, cacheReadTokens: 1024, outputTokens: 8), model: "gpt-4.1-2025-04-14"),
    UsageCase(
        fixture: "openai-chat.sse", provider: .openai, endpoint: .chatCompletions, framing: .serverSentEvents,
        usage: Usage(inputTokens: 12, outputTokens: 2), model: "gpt-4.1-2025-04-14", text: "Hello!"),
    UsageCase(
        fixture: "openai-chat-cut.sse", provider: .openai, endpoint: .chatCompletions, framing: .serverSentEvents,
        usage: nil, model: "gpt-4.1-2025-04-14", finished: false, text: "Hello!"),
    UsageCase(
        fixture: "openai-responses.json", provider: .openai, endpoint: .responses, framing: nil,
        usage: Usage(inputTokens: 10, outputTokens: 25, reasoningTokens: 19), model: "o4-mini-2025-04-16"),
    UsageCase(
        fixture: "openai-responses.sse", provider: .openai, endpoint: .responses, framing: .serverSentEvents,
        usage: Usage(inputTokens: 9, outputTokens: 3), model: "gpt-4.1-2025-04-14", text: "Hello!"),
    UsageCase(
        fixture: "openai-embeddings.json", provider: .openai, endpoint: .embeddings, framing: nil,
        usage: Usage(inputTokens: 5), model: "text-embedding-3-small"),
    UsageCase(
        fixture: "azure-chat.json", provider: .azure, endpoint: .chatCompletions, framing: nil,
        usage: Usage(inputTokens: 2100, cacheReadTokens: 1920, outputTokens: 3), model: "gpt-4.1-2025-04-14"),
    UsageCase(
        fixture: "azure-chat.sse", provider: .azure, endpoint: .chatCompletions, framing: .serverSentEvents,
        usage: Usage(inputTokens: 14, outputTokens: 75, reasoningTokens: 64), model: "gpt-5-mini-2025-08-07",
        text: "Paris"),
    UsageCase(
        fixture: "anthropic-messages.json", provider: .anthropic, endpoint: .messages, framing: nil,
        usage: Usage(inputTokens: 12_060, cacheReadTokens: 10_000, cacheWriteTokens: 2048, outputTokens: 11),
        model: "claude-sonnet-4-5-20250929"),
    UsageCase(
        fixture: "anthropic-messages.sse", provider: .anthropic, endpoint: .messages, framing: .serverSentEvents,
        usage: Usage(inputTokens: 12, outputTokens: 9), model: "claude-sonnet-4-5-20250929",
        text: "Hello! How can I help?"),
    UsageCase(
        fixture: "anthropic-messages-cache-1h.json", provider: .anthropic, endpoint: .messages, framing: nil,
        usage: anthropicCache1h, model: "claude-sonnet-4-5-20250929"),
    // The final message_delta repeats only the cache-write total: the 5m/1h split of message_start must survive.
    UsageCase(
        fixture: "anthropic-messages-cache-1h.sse", provider: .anthropic, endpoint: .messages,
        framing: .serverSentEvents, usage: anthropicCache1h, model: "claude-sonnet-4-5-20250929",
        text: "The contract renews on 1 March."),
    UsageCase(
        fixture: "anthropic-messages-error.sse", provider: .anthropic, endpoint: .messages,
        framing: .serverSentEvents, usage: Usage(inputTokens: 12, outputTokens: 1),
        model: "claude-sonnet-4-5-20250929", finished: false, error: "Overloaded"),
    UsageCase(
        fixture: "gemini-generate.json", provider: .gemini, endpoint: .generateContent, framing: nil,
        usage: Usage(inputTokens: 250_000, cacheReadTokens: 200_000, outputTokens: 129, reasoningTokens: 120),
        model: "gemini-2.5-pro"),
    UsageCase(
        fixture: "gemini-generate.sse", provider: .gemini, endpoint: .streamGenerateContent,
        framing: .serverSentEvents, usage: Usage(inputTokens: 8, outputTokens: 54, reasoningTokens: 45),
        model: "gemini-2.5-flash", text: "Hello! How can I help?"),
    UsageCase(
        fixture: "gemini-generate-array.json", provider: .gemini, endpoint: .streamGenerateContent,
        framing: .jsonArray, usage: Usage(inputTokens: 8, outputTokens: 54, reasoningTokens: 45),
        model: "gemini-2.5-flash", text: "Hello! How can I help?"),
    UsageCase(
        fixture: "mistral-chat.json", provider: .mistral, endpoint: .chatCompletions, framing: nil,
        usage: Usage(inputTokens: 10, outputTokens: 4), model: "mistral-medium-2508"),
    UsageCase(
        fixture: "mistral-chat.sse", provider: .mistral, endpoint: .chatCompletions, framing: .serverSentEvents,
        usage: Usage(inputTokens: 10, outputTokens: 4), model: "mistral-medium-2508", text: "Bonjour !"),
    UsageCase(
        fixture: "cohere-chat.json", provider: .cohere, endpoint: .chat, framing: nil,
        usage: Usage(inputTokens: 21, outputTokens: 9)),
    UsageCase(
        fixture: "cohere-chat.sse", provider: .cohere, endpoint: .chat, framing: .serverSentEvents,
        usage: Usage(inputTokens: 21, outputTokens: 4), text: "Coca-Cola."),
    UsageCase(
        fixture: "cohere-chat-v1.json", provider: .cohere, endpoint: .chatV1, framing: nil,
        usage: Usage(inputTokens: 21, outputTokens: 9)),
    UsageCase(
        fixture: "cohere-chat-v1.ndjson", provider: .cohere, endpoint: .chatV1, framing: .jsonLines,
        usage: Usage(inputTokens: 21, outputTokens: 2), text: "Hi"),
]

@Suite("Usage read from every provider's responses")
struct UsageConformanceTests {
    @Test("Each recorded response yields the provider's exact usage, model and end state", arguments: usageCases)
    func reads(_ item: UsageCase) throws {
        let reading = read(item, bytes: try fixture(item.fixture))
        #expect(reading.usage == item.usage)
        if let model = item.model { #expect(reading.model == model) }
        #expect(reading.finished == item.finished)
        #expect(reading.error == item.error)
        if let text = item.text { #expect(reading.outputText == text) }
    }

    @Test(
        "A stream reads the same in any chunking and with CRLF or CR line ends",
        arguments: usageCases.filter { $0.framing == .serverSentEvents })
    func chunkingAndLineEnds(_ item: UsageCase) throws {
        let bytes = try fixture(item.fixture)
        let expected = read(item, bytes: bytes, chunkSize: bytes.count)
        for size in [1, 2, 3, 13, 64, 1000] {
            #expect(read(item, bytes: bytes, chunkSize: size) == expected, "chunks of \(size)")
        }
        let text = String(decoding: bytes, as: UTF8.self)
        for ending in ["\r\n", "\r"] {
            let converted = Array(text.replacingOccurrences(of: "\n", with: ending).utf8)
            #expect(read(item, bytes: converted, chunkSize: 5) == expected, "line ends \(ending.debugDescription)")
        }
    }
}

@Suite("Server-sent events framing")
struct StreamScannerTests {
    func events(_ text: String, framing: StreamScanner.Framing = .serverSentEvents) -> [StreamEvent] {
        var scanner = StreamScanner(framing: framing)
        var out: [StreamEvent] = []
        scanner.feed(Array(text.utf8)) { out.append($0) }
        scanner.finish { out.append($0) }
        return out
    }

    @Test("Multi-line data joins with newlines; comments and unknown fields are ignored; names reset")
    func wireRules() {
        let parsed = events(": comment\nevent: a\nid: 7\ndata: one\ndata:two\nretry: 5\n\ndata: three\n\n")
        #expect(parsed.count == 2)
        #expect(parsed[0].name == "a")
        #expect(String(decoding: parsed[0].data, as: UTF8.self) == "one\ntwo")
        #expect(parsed[1].name == nil)
        #expect(String(decoding: parsed[1].data, as: UTF8.self) == "three")
    }

    @Test("A last event without its blank line still counts; bare JSON lines are events")
    func lenientEnds() {
        #expect(events("data: {\"a\":1}").count == 1)
        let bare = events("{\"type\":\"message-end\"}\n{\"type\":\"x\"}\n")
        #expect(
            bare.map { String(decoding: $0.data, as: UTF8.self) } == ["{\"type\":\"message-end\"}", "{\"type\":\"x\"}"])
    }

    @Test("A streamed JSON array yields its elements, braces inside strings included")
    func jsonArray() {
        let parsed = events(#"[{"a":"}{[\"]"},{"b":[1,{"c":2}]}]"#, framing: .jsonArray)
        #expect(parsed.map { String(decoding: $0.data, as: UTF8.self) } == [#"{"a":"}{[\"]"}"#, #"{"b":[1,{"c":2}]}"#])
    }

    @Test("The framing follows the content type")
    func framingFromContentType() {
        #expect(StreamScanner.framing(forContentType: "text/event-stream; charset=utf-8") == .serverSentEvents)
        #expect(StreamScanner.framing(forContentType: "application/x-ndjson") == .jsonLines)
        #expect(StreamScanner.framing(forContentType: "application/json") == .jsonArray)
    }
}
