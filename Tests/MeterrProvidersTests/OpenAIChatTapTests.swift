import MeterrCore
import Testing

@testable import MeterrProviders

/// The Chat Completions stream tap walks each chunk's bytes; it must read exactly what the parsed chunk
/// says (the tap over `JSONValue` it replaced), odd chunks included.
@Suite("OpenAI stream chunks read from the bytes")
struct OpenAIChatTapTests {
    static let chunks: [String] = [
        #"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4.1-2025-04-14","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
        #"{"id":"chatcmpl-1","model":"gpt-4.1","choices":[{"index":0,"delta":{"content":"Hel\u006co \"there\""},"finish_reason":null}]}"#,
        #"{"id":"chatcmpl-1","model":"gpt-4.1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        #"{"id":"chatcmpl-1","model":"gpt-4.1","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":2}}}"#,
        // Mistral: usage on the chunk with the finish reason.
        #"{"id":"m1","model":"mistral-small","choices":[{"index":0,"delta":{"content":"!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1}}"#,
        // Legacy completions: text, several choices, a choice that is not an object.
        #"{"id":"c2","model":"gpt-3.5-turbo-instruct","choices":[{"text":"a","finish_reason":""},{"text":"b"},7,null]}"#,
        // Repeated members: the last one counts, as in a parsed object.
        #"{"model":"a","model":"b","id":"x","id":"y","usage":{"prompt_tokens":1},"usage":null}"#,
        #"{"choices":[{"delta":{"content":"one"}}],"choices":[{"delta":{"content":"two"}}]}"#,
        #"{"choices":[{"delta":{"content":"one"},"delta":{}}],"choices":[{"delta":{"content":"two","content":"three"},"text":"t"}]}"#,
        #"{"choices":[{"finish_reason":"stop"}],"usage":{"prompt_tokens":2},"choices":[{"finish_reason":null}]}"#,
        // Odd kinds: usage not an object, choices not an array, content not a string, an error.
        #"{"usage":42,"choices":[{"finish_reason":"length"}]}"#,
        #"{"choices":{"delta":{"content":"x"}},"usage":{"prompt_tokens":"3"}}"#,
        #"{"choices":[{"delta":{"content":5},"text":"fallback"},{"delta":"x","text":"y"}]}"#,
        #"{"error":{"message":"overloaded","type":"server_error"}}"#,
        #"{"error":{"type":"x"},"id":""}"#,
        #"{"error":null,"id":7,"model":null}"#,
        // Escaped keys and whitespace around the members read.
        " { \"ch\\u006fices\" : [ { \"delta\" : { \"content\" : \"esc\" } } ] , \"mod\\u0065l\" : \"m\" } ",
        // Not an object, or not JSON: nothing.
        #"[1,2]"#, #""text""#, "null", #"{"id":"z""#, #"{"id":"z"} trailing"#, "",
        #"{"choices":[{"delta":{"content":"x"}]}"#,
    ]

    @Test("Each chunk reads as its parsed form does", arguments: chunks)
    func equalsParsed(chunk: String) {
        var walked = OpenAIChatTap()
        var parsed = ParsedChatTap()
        // From a fresh tap, and after a chunk that set everything, so no member is forgotten.
        let first = StreamEvent(
            data: Array(
                #"{"id":"first","model":"first-model","choices":[{"delta":{"content":"start "}}],"usage":{"prompt_tokens":9}}"#
                    .utf8))
        var walkedAfter = OpenAIChatTap()
        var parsedAfter = ParsedChatTap()
        walkedAfter.consume(first)
        parsedAfter.consume(first)
        let event = StreamEvent(data: Array(chunk.utf8))
        walked.consume(event)
        parsed.consume(event)
        walkedAfter.consume(event)
        parsedAfter.consume(event)
        #expect(walked.reading == parsed.reading)
        #expect(walkedAfter.reading == parsedAfter.reading)
    }

    @Test("A whole stream reads its text, model, id, usage and end as the parsed chunks do")
    func wholeStream() {
        var walked = OpenAIChatTap()
        var parsed = ParsedChatTap()
        for chunk in Self.chunks.prefix(4) + [#"[DONE]"#] {
            let event = StreamEvent(data: Array(chunk.utf8))
            walked.consume(event)
            parsed.consume(event)
        }
        #expect(walked.reading == parsed.reading)
        #expect(walked.reading.outputText == #"Hello "there""#)
        #expect(walked.reading.usage == Usage(inputTokens: 12, cacheReadTokens: 4, outputTokens: 3, reasoningTokens: 2))
        #expect(walked.reading.finished)
        #expect(walked.reading.responseId == "chatcmpl-1")
    }
}

/// The check that finds the usage chunk meterr asked for (and the caller did not) walks the bytes too.
@Suite("The injected usage chunk found from the bytes")
struct UsageOnlyChunkTests {
    static let payloads: [String] = [
        #"{"id":"c","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}"#,
        #"{"choices":[ ],"usage":42}"#,
        #"{"choices":[],"usage":null}"#,
        #"{"choices":[{"delta":{}}],"usage":{"prompt_tokens":1}}"#,
        #"{"choices":[],"usage":null,"usage":{"prompt_tokens":1}}"#,
        #"{"choices":[],"usage":{"prompt_tokens":1},"usage":null}"#,
        #"{"choices":[1],"choices":[],"usage":{}}"#,
        #"{"choices":[],"choices":[1],"usage":{}}"#,
        #"{"choices":null,"usage":{}}"#,
        #"{"choices":{},"usage":{}}"#,
        #"{"usage":{}}"#,
        #"{"choices":[]}"#,
        #" { "ch\u006fices" : [ ] , "us\u0061ge" : { } } "#,
        #"{"choices":[],"usage":{}} extra"#, #"{"choices":[],"usage":{}"#, #"{"choices":[],"usage":nul}"#,
        #"[{"choices":[],"usage":{}}]"#, "null", "",
    ]

    @Test("Each event is found as its parsed form says", arguments: payloads)
    func equalsParsed(payload: String) {
        let event = Array("data: \(payload)\n\n".utf8)
        let parsed = JSONValue(parsing: Array(payload.utf8)).map {
            $0["choices"]?.array?.isEmpty == true && $0["usage"].map { !$0.isNull } == true
        }
        #expect(UsageChunkStripper.isUsageOnlyChunk(event[...]) == (parsed ?? false))
    }
}

/// The tap as it read chunks before it walked their bytes: each chunk parsed whole.
private struct ParsedChatTap {
    var reading = UsageReading()

    mutating func consume(_ event: StreamEvent) {
        if event.isDone {
            reading.finished = true
            return
        }
        guard let chunk = JSONValue(parsing: event.data) else { return }
        reading.noteModel(chunk["model"])
        if reading.responseId == nil, let id = chunk["id"]?.string, !id.isEmpty { reading.responseId = id }
        if let usage = chunk["usage"], !usage.isNull { reading.usage = OpenAIUsage.chat(usage) }
        if let error = chunk["error"], !error.isNull { reading.error = error["message"]?.string ?? "error" }
        for choice in chunk["choices"]?.array ?? [] {
            reading.appendText(choice[path: "delta", "content"]?.string ?? choice["text"]?.string)
            if let finish = choice["finish_reason"]?.string, !finish.isEmpty, chunk["usage"] != nil,
                chunk["usage"]?.isNull == false
            {
                reading.finished = true
            }
        }
    }
}
