import MeterrCore
import MeterrProviders
import Testing

/// Feeds JSON payloads to a provider's stream tap, one event each, and returns what it read.
func tapReading(_ provider: Provider, _ endpoint: ProviderEndpoint, _ payloads: [String]) -> UsageReading {
    var tap = UsageReader.tap(provider: provider, endpoint: endpoint)
    for payload in payloads { tap.consume(StreamEvent(data: Array(payload.utf8))) }
    return tap.reading
}

@Suite("Anthropic stream usage: later partial updates overlay, never erase")
struct AnthropicOverlayTests {
    /// `message_start` with 10 uncached, 3,000 cache reads and 500 5m + 1,500 1h cache writes.
    let start = """
        {"type":"message_start","message":{"id":"msg_1","model":"claude-sonnet-4-5-20250929","usage":\
        {"input_tokens":10,"cache_read_input_tokens":3000,"cache_creation_input_tokens":2000,\
        "cache_creation":{"ephemeral_5m_input_tokens":500,"ephemeral_1h_input_tokens":1500},"output_tokens":1}}}
        """

    func delta(_ usage: String) -> String { #"{"type":"message_delta","delta":{},"usage":\#(usage)}"# }

    func usage(_ payloads: String...) -> Usage? { tapReading(.anthropic, .messages, payloads).usage }

    @Test("A total equal to the known split keeps the 5m/1h split exactly")
    func totalOnlyKeepsSplit() {
        #expect(
            usage(start, delta(#"{"cache_creation_input_tokens":2000,"output_tokens":300}"#))
                == Usage(
                    inputTokens: 5010, cacheReadTokens: 3000, cacheWriteTokens: 500, cacheWrite1hTokens: 1500,
                    outputTokens: 300))
    }

    @Test("A changed total keeps the known 1h writes where they fit and puts the difference in 5m writes")
    func changedTotal() {
        let grown = usage(start, delta(#"{"cache_creation_input_tokens":2600,"output_tokens":300}"#))
        #expect(grown?.cacheWrite1hTokens == 1500)
        #expect(grown?.cacheWriteTokens == 1100)
        #expect(grown?.inputTokens == 5610)
        let shrunk = usage(start, delta(#"{"cache_creation_input_tokens":1800,"output_tokens":300}"#))
        #expect(shrunk?.cacheWrite1hTokens == 1500)
        #expect(shrunk?.cacheWriteTokens == 300)
        let belowOneHour = usage(start, delta(#"{"cache_creation_input_tokens":1200,"output_tokens":300}"#))
        #expect(belowOneHour?.cacheWrite1hTokens == 1200)
        #expect(belowOneHour?.cacheWriteTokens == 0)
        #expect(belowOneHour?.inputTokens == 4210)
    }

    @Test("A total with no breakdown ever seen is all 5-minute writes")
    func totalWithoutBreakdown() {
        let start = #"{"type":"message_start","message":{"usage":{"input_tokens":10,"output_tokens":1}}}"#
        #expect(
            usage(start, delta(#"{"cache_creation_input_tokens":2000,"output_tokens":5}"#))
                == Usage(inputTokens: 2010, cacheWriteTokens: 2000, outputTokens: 5))
    }

    @Test("An update without cache reads, input tokens or thinking keeps the earlier counts")
    func missingFieldsKeepEarlierValues() {
        let thinking = delta(#"{"output_tokens":120,"output_tokens_details":{"thinking_tokens":80}}"#)
        let final = usage(start, thinking, delta(#"{"output_tokens":300}"#))
        #expect(final?.cacheReadTokens == 3000)
        #expect(final?.uncachedInputTokens == 10)
        #expect(final?.cacheWriteTokens == 500)
        #expect(final?.cacheWrite1hTokens == 1500)
        #expect(final?.reasoningTokens == 80)
        #expect(final?.outputTokens == 300)
    }

    @Test("A breakdown that names only one duration keeps the other's earlier count")
    func partialBreakdown() {
        let final = usage(start, delta(#"{"cache_creation":{"ephemeral_1h_input_tokens":1700},"output_tokens":3}"#))
        #expect(final?.cacheWriteTokens == 500)
        #expect(final?.cacheWrite1hTokens == 1700)
        #expect(final?.inputTokens == 5210)
    }

    @Test("A gateway that sends the cache fields only in message_delta is read in full")
    func breakdownInDeltaOnly() {
        let start = #"{"type":"message_start","message":{"usage":{"input_tokens":0,"output_tokens":0}}}"#
        let final = usage(
            start,
            delta(
                #"{"input_tokens":10,"cache_creation_input_tokens":2000,"cache_read_input_tokens":0,"#
                    + #""cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":2000},"#
                    + #""output_tokens":48}"#))
        #expect(final == Usage(inputTokens: 2010, cacheWrite1hTokens: 2000, outputTokens: 48))
    }
}

@Suite("Gemini stream usage: running totals, fields left out keep their counts")
struct GeminiOverlayTests {
    func usage(_ metadata: String...) -> Usage? {
        tapReading(.gemini, .streamGenerateContent, metadata.map { #"{"usageMetadata":\#($0)}"# }).usage
    }

    @Test("A later chunk that leaves out cached and thought counts keeps them (Google's JSON omits unset fields)")
    func omittedCountsKeepEarlierValues() {
        let final = usage(
            #"{"promptTokenCount":8,"cachedContentTokenCount":6,"candidatesTokenCount":2,"thoughtsTokenCount":45,"#
                + #""totalTokenCount":55}"#,
            #"{"promptTokenCount":8,"candidatesTokenCount":9,"totalTokenCount":62}"#)
        #expect(final == Usage(inputTokens: 8, cacheReadTokens: 6, outputTokens: 54, reasoningTokens: 45))
    }

    @Test("A later chunk's counts replace earlier ones; chunks without counts alone yield no usage")
    func runningTotalsReplace() {
        #expect(
            usage(
                #"{"promptTokenCount":8,"candidatesTokenCount":2,"thoughtsTokenCount":40,"totalTokenCount":50}"#,
                #"{"trafficType":"ON_DEMAND"}"#,
                #"{"promptTokenCount":8,"candidatesTokenCount":9,"thoughtsTokenCount":45,"totalTokenCount":62}"#)
                == Usage(inputTokens: 8, outputTokens: 54, reasoningTokens: 45))
        #expect(usage(#"{"cachedContentTokenCount":5100,"trafficType":"ON_DEMAND"}"#) == nil)
    }
}

@Suite("OpenAI chat stream usage: the last usage object is the whole request's")
struct OpenAIChatUsageOrderTests {
    @Test("A server that sends basic usage, then the full object, is read from the full one (vLLM)")
    func basicThenFull() {
        let reading = tapReading(
            .openai, .chatCompletions,
            [
                #"{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"#
                    + #""usage":{"prompt_tokens":35227,"completion_tokens":12,"total_tokens":35239}}"#,
                #"{"id":"c1","choices":[],"usage":{"prompt_tokens":35227,"completion_tokens":12,"#
                    + #""total_tokens":35239,"prompt_tokens_details":{"cached_tokens":32512}}}"#,
                "[DONE]",
            ])
        #expect(reading.usage == Usage(inputTokens: 35227, cacheReadTokens: 32512, outputTokens: 12))
        #expect(reading.finished)
    }
}
