import Foundation
import MeterrCore
import MeterrProviders
import Testing

/// A whole OpenAI conversation: system and developer messages, text and images, an assistant turn with
/// two tool calls and their two results, tools, and the settings every translator maps.
let richRequest = #"""
    {"model":"x","messages":[
     {"role":"system","content":"Be brief."},
     {"role":"developer","content":[{"type":"text","text":"Use metric units."}]},
     {"role":"user","content":[{"type":"text","text":"Weather in these?"},
       {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}},
       {"type":"image_url","image_url":{"url":"https://example.com/tokyo.jpg"}}]},
     {"role":"assistant","content":null,"tool_calls":[
       {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\",\"unit\":\"c\"}"}},
       {"id":"call_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Tokyo\"}"}}]},
     {"role":"tool","tool_call_id":"call_1","content":"{\"temp\":18}"},
     {"role":"tool","tool_call_id":"call_2","content":"sunny"},
     {"role":"user","content":"Thanks"}],
     "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather now",
       "parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":["string","null"]}},
       "required":["city"],"additionalProperties":false},"strict":true}}],
     "tool_choice":"required","parallel_tool_calls":false,"stop":["END"," "],"temperature":1.5,"top_p":0.9,
     "max_completion_tokens":500,"user":"u-42","seed":7,"logprobs":true}
    """#

func parsed(_ bytes: [UInt8]) throws -> OrderedJSON { try OrderedJSONParser.parse(bytes) }
func parsed(_ text: String) throws -> OrderedJSON { try OrderedJSONParser.parse(text) }

func chat(_ body: String, model: String = "m") throws -> ChatRequest {
    try ChatRequest(body: Array(body.utf8), model: model)
}

@Suite("OpenAI Chat Completions to each provider's native request")
struct TranslationRequestTests {
    @Test("Anthropic: system blocks, merged turns, tool_use and tool_result, images, tools, settings")
    func anthropicRequest() throws {
        let native = try AnthropicTranslator().request(
            try chat(richRequest, model: "claude-sonnet-4-5"), options: .init())
        #expect(native.path == "/v1/messages")
        #expect(native.headers.contains { $0.name == "anthropic-version" && $0.value == "2023-06-01" })
        #expect(native.dropped == ["seed", "logprobs"])
        let expected = #"""
            {"model":"claude-sonnet-4-5","max_tokens":500,
             "system":[{"type":"text","text":"Be brief."},{"type":"text","text":"Use metric units."}],
             "messages":[
              {"role":"user","content":[{"type":"text","text":"Weather in these?"},
                {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
                {"type":"image","source":{"type":"url","url":"https://example.com/tokyo.jpg"}}]},
              {"role":"assistant","content":[
                {"type":"tool_use","id":"call_1","name":"get_weather","input":{"city":"Paris","unit":"c"}},
                {"type":"tool_use","id":"call_2","name":"get_weather","input":{"city":"Tokyo"}}]},
              {"role":"user","content":[
                {"type":"tool_result","tool_use_id":"call_1","content":[{"type":"text","text":"{\"temp\":18}"}]},
                {"type":"tool_result","tool_use_id":"call_2","content":[{"type":"text","text":"sunny"}]},
                {"type":"text","text":"Thanks"}]}],
             "tools":[{"name":"get_weather","description":"Weather now","input_schema":{"type":"object",
               "properties":{"city":{"type":"string"},"unit":{"type":["string","null"]}},"required":["city"],
               "additionalProperties":false}}],
             "tool_choice":{"type":"any","disable_parallel_tool_use":true},
             "temperature":1,"top_p":0.9,"stop_sequences":["END"],"metadata":{"user_id":"u-42"}}
            """#
        #expect(try parsed(native.body) == parsed(expected))
    }

    @Test("Gemini: systemInstruction, model turns, functionResponse by name, subset schemas, generationConfig")
    func geminiRequest() throws {
        var request = try chat(richRequest, model: "gemini-2.5-pro")
        request.stream = true
        let native = try GeminiTranslator().request(request, options: .init())
        #expect(native.path == "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse")
        #expect(native.dropped == ["parallel_tool_calls", "logprobs"])
        let expected = #"""
            {"contents":[
              {"role":"user","parts":[{"text":"Weather in these?"},
                {"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}},
                {"fileData":{"mimeType":"image/jpeg","fileUri":"https://example.com/tokyo.jpg"}}]},
              {"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris","unit":"c"}}},
                {"functionCall":{"name":"get_weather","args":{"city":"Tokyo"}}}]},
              {"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"temp":18}}},
                {"functionResponse":{"name":"get_weather","response":{"result":"sunny"}}},{"text":"Thanks"}]}],
             "systemInstruction":{"parts":[{"text":"Be brief."},{"text":"Use metric units."}]},
             "tools":[{"functionDeclarations":[{"name":"get_weather","description":"Weather now",
               "parameters":{"type":"object","properties":{"city":{"type":"string"},
                 "unit":{"type":"string","nullable":true}},"required":["city"]}}]}],
             "toolConfig":{"functionCallingConfig":{"mode":"ANY"}},
             "generationConfig":{"maxOutputTokens":500,"temperature":1.5,"topP":0.9,"stopSequences":["END"," "],
               "seed":7}}
            """#
        #expect(try parsed(native.body) == parsed(expected))
    }

    @Test("Cohere: roles kept, tool calls as strings, p for top_p, REQUIRED, strict tools")
    func cohereRequest() throws {
        let native = try CohereTranslator().request(try chat(richRequest, model: "command-a-03-2025"), options: .init())
        #expect(native.path == "/v2/chat")
        #expect(native.dropped == ["parallel_tool_calls", "logprobs"])
        let expected = #"""
            {"model":"command-a-03-2025","messages":[
              {"role":"system","content":"Be brief."},{"role":"system","content":"Use metric units."},
              {"role":"user","content":[{"type":"text","text":"Weather in these?"},
                {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
                {"type":"image_url","image_url":{"url":"https://example.com/tokyo.jpg"}}]},
              {"role":"assistant","tool_calls":[
                {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\",\"unit\":\"c\"}"}},
                {"id":"call_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Tokyo\"}"}}]},
              {"role":"tool","content":"{\"temp\":18}","tool_call_id":"call_1"},
              {"role":"tool","content":"sunny","tool_call_id":"call_2"},
              {"role":"user","content":"Thanks"}],
             "tool_choice":"REQUIRED",
             "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather now",
               "parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":["string","null"]}},
               "required":["city"],"additionalProperties":false}}}],
             "strict_tools":true,"max_tokens":500,"temperature":1.5,"p":0.9,"stop_sequences":["END"," "],"seed":7}
            """#
        #expect(try parsed(native.body) == parsed(expected))
    }

    @Test("A named tool choice: Anthropic's tool, Gemini's allowed names, Cohere's narrowed tool list")
    func namedToolChoice() throws {
        let body = #"""
            {"model":"x","messages":[{"role":"user","content":"hi"}],"tool_choice":{"type":"function","function":{"name":"b"}},
             "tools":[{"type":"function","function":{"name":"a"}},{"type":"function","function":{"name":"b"}}]}
            """#
        let anthropic = try parsed(AnthropicTranslator().request(try chat(body), options: .init()).body)
        #expect(anthropic["tool_choice"] == (try parsed(#"{"type":"tool","name":"b"}"#)))
        #expect(
            anthropic["tools"]?.array?.first?["input_schema"] == (try parsed(#"{"type":"object","properties":{}}"#)))
        let gemini = try parsed(GeminiTranslator().request(try chat(body), options: .init()).body)
        #expect(
            gemini[path: "toolConfig", "functionCallingConfig"]
                == (try parsed(#"{"mode":"ANY","allowedFunctionNames":["b"]}"#)))
        let cohere = try parsed(CohereTranslator().request(try chat(body), options: .init()).body)
        #expect(cohere["tools"]?.array?.count == 1)
        #expect(cohere["tool_choice"] == .string("REQUIRED"))
    }

    @Test("JSON output: Anthropic's forced json_output tool, Gemini's responseSchema subset, Cohere's json_object")
    func jsonSchema() throws {
        let body = #"""
            {"model":"x","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema",
             "json_schema":{"name":"city","strict":true,"schema":{"$schema":"https://json-schema.org/draft/2020-12/schema",
              "type":"object","properties":{"city":{"$ref":"#/$defs/name"},"temperature_c":{"type":"number","const":18}},
              "required":["city"],"additionalProperties":false,"$defs":{"name":{"type":"string","examples":["Paris"]}}}}}}
            """#
        let anthropic = try parsed(AnthropicTranslator().request(try chat(body), options: .init()).body)
        #expect(anthropic["tool_choice"] == (try parsed(#"{"type":"tool","name":"json_output"}"#)))
        #expect(anthropic["tools"]?.array?.first?["input_schema"]?["required"] == .array([.string("city")]))
        let gemini = try parsed(GeminiTranslator().request(try chat(body), options: .init()).body)
        #expect(gemini[path: "generationConfig", "responseMimeType"] == .string("application/json"))
        let schema = #"""
            {"type":"object","properties":{"city":{"type":"string"},"temperature_c":{"type":"number","enum":[18]}},
             "required":["city"]}
            """#
        #expect(gemini[path: "generationConfig", "responseSchema"] == (try parsed(schema)))
        let cohere = try parsed(CohereTranslator().request(try chat(body), options: .init()).body)
        #expect(cohere[path: "response_format", "type"] == .string("json_object"))
        #expect(cohere[path: "response_format", "json_schema", "required"] == .array([.string("city")]))
    }

    @Test("Provider-only options come through the meterr extension, replacing what the translation set")
    func extensions() throws {
        let body = #"""
            {"model":"x","messages":[{"role":"user","content":"hi"}],"max_tokens":100,
             "meterr":{"anthropic":{"top_k":5,"max_tokens":200},"gemini":{"cachedContent":"cachedContents/abc"}}}
            """#
        let anthropic = try parsed(AnthropicTranslator().request(try chat(body), options: .init()).body)
        #expect(anthropic["top_k"] == .number("5"))
        #expect(anthropic["max_tokens"] == .number("200"))
        let gemini = try parsed(GeminiTranslator().request(try chat(body), options: .init()).body)
        #expect(gemini["cachedContent"] == .string("cachedContents/abc"))
        #expect(gemini["top_k"] == nil)
    }

    @Test("Reasoning effort: Anthropic thinking without temperature, Gemini's thinking budget")
    func reasoning() throws {
        let body =
            #"{"model":"x","messages":[{"role":"user","content":"hi"}],"reasoning_effort":"low","temperature":0.2,"max_completion_tokens":3000}"#
        let native = try AnthropicTranslator().request(try chat(body), options: .init())
        let anthropic = try parsed(native.body)
        #expect(anthropic["thinking"] == (try parsed(#"{"type":"enabled","budget_tokens":1024}"#)))
        #expect(anthropic["temperature"] == nil)
        #expect(native.dropped == ["temperature"])
        let gemini = try parsed(GeminiTranslator().request(try chat(body), options: .init()).body)
        #expect(gemini[path: "generationConfig", "thinkingConfig", "thinkingBudget"] == .number("1024"))
        let tooSmall =
            #"{"model":"x","messages":[{"role":"user","content":"hi"}],"reasoning_effort":"high","max_tokens":100}"#
        #expect(throws: TranslationError.self) {
            try AnthropicTranslator().request(try chat(tooSmall), options: .init())
        }
    }

    @Test("What cannot be translated is a clear error, and reject refuses what would be dropped")
    func errors() throws {
        let cases: [(String, any ChatTranslator, String)] = [
            (#"{"model":"x","messages":[]}"#, AnthropicTranslator(), "non-empty"),
            (#"{"model":"x","messages":[{"role":"user","content":"hi"}],"n":2}"#, AnthropicTranslator(), "n = 1"),
            (#"{"model":"x","messages":[{"role":"user","content":"hi"}],"n":2}"#, CohereTranslator(), "n = 1"),
            (
                #"{"model":"x","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{oops"}}]}]}"#,
                AnthropicTranslator(), "not a JSON object"
            ),
            (
                #"{"model":"x","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}"#,
                GeminiTranslator(), "input_audio"
            ),
            (
                #"{"model":"x","messages":[{"role":"tool","tool_call_id":"c9","content":"1"}]}"#, GeminiTranslator(),
                "by name"
            ),
            (#"{"model":"x","messages":[{"role":"robot","content":"hi"}]}"#, CohereTranslator(), "robot"),
            (#"{"model":"x","messages":[{"role":"user","content":"hi"}],"functions":[]}"#, CohereTranslator(), "tools"),
            (#"[1]"#, CohereTranslator(), "JSON object"),
        ]
        for (body, translator, fragment) in cases {
            do {
                _ = try translator.request(try ChatRequest(body: Array(body.utf8), model: "m"), options: .init())
                Issue.record("\(body) was translated")
            } catch {
                #expect(error.message.contains(fragment), "\(error.message)")
            }
        }
        let seeded = try chat(#"{"model":"x","messages":[{"role":"user","content":"hi"}],"seed":1}"#)
        #expect(throws: TranslationError.self) {
            try AnthropicTranslator().request(seeded, options: .init(unsupported: .reject))
        }
        #expect(try GeminiTranslator().request(seeded, options: .init(unsupported: .reject)).dropped.isEmpty)
    }

    @Test("Gemini's thought signature rides in the call id and goes back on the next turn")
    func thoughtSignature() throws {
        let answer = #"""
            {"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"f","args":{"b":1,"a":2}},
             "thoughtSignature":"c2lnbmF0dXJl"}]},"finishReason":"STOP"}],"responseId":"r1","modelVersion":"gemini-3-pro"}
            """#
        let translated = try #require(GeminiTranslator().answer(Array(answer.utf8), chat: try chat(richRequest)))
        let call = try #require(translated.choices.first?.toolCalls.first)
        #expect(call.arguments == #"{"b":1,"a":2}"#)
        #expect(translated.choices.first?.finishReason == "tool_calls")
        let next = #"""
            {"model":"x","messages":[{"role":"user","content":"go"},
             {"role":"assistant","tool_calls":[{"id":"\#(call.id)","type":"function","function":{"name":"f","arguments":"{}"}}]},
             {"role":"tool","tool_call_id":"\#(call.id)","content":"ok"}]}
            """#
        let native = try parsed(GeminiTranslator().request(try chat(next), options: .init()).body)
        let part = native["contents"]?.array?[1][path: "parts"]?.array?.first
        #expect(part?["thoughtSignature"] == .string("c2lnbmF0dXJl"))
    }
}

/// A recorded native answer, whole and streamed, and the OpenAI answer it must become.
struct TranslatedCase: Sendable, CustomTestStringConvertible {
    var provider: Provider
    var json: String
    var sse: String
    var endpoint: ProviderEndpoint
    var streamEndpoint: ProviderEndpoint
    var text: String
    var finish: String

    var testDescription: String { json }
    var translator: any ChatTranslator { Providers.profile(provider).chatTranslator! }
}

let translatedCases: [TranslatedCase] = [
    TranslatedCase(
        provider: .anthropic, json: "anthropic-messages.json", sse: "anthropic-messages.sse", endpoint: .messages,
        streamEndpoint: .messages, text: "Hello! How can I help?", finish: "stop"),
    TranslatedCase(
        provider: .gemini, json: "gemini-generate.json", sse: "gemini-generate.sse", endpoint: .generateContent,
        streamEndpoint: .streamGenerateContent, text: "Hello! How can I help?", finish: "stop"),
    TranslatedCase(
        provider: .cohere, json: "cohere-chat.json", sse: "cohere-chat.sse", endpoint: .chat, streamEndpoint: .chat,
        text: "Coca-Cola.", finish: "stop"),
]

/// Runs a native stream through the meter and the translator as the gateway does, in chunks of `size`.
func translateStream(
    _ bytes: [UInt8], provider: Provider, endpoint: ProviderEndpoint, chat: ChatRequest, size: Int
) -> (out: [UInt8], reading: UsageReading) {
    let translator = Providers.profile(provider).chatTranslator!
    var meter = ResponseUsageMeter(
        provider: provider, endpoint: endpoint, contentType: "text/event-stream", streaming: true)
    var stream = ChatStream(reader: translator.stream(chat), chat: chat, created: 1_700_000_000, fallbackId: "req_1")
    var out: [UInt8] = []
    var offset = 0
    while offset < bytes.count {
        meter.feed(bytes[offset..<min(offset + size, bytes.count)]) { stream.translate($0, into: &out) }
        offset += size
    }
    let reading = meter.finish { stream.translate($0, into: &out) }
    stream.finish(usage: reading.usage, into: &out)
    return (out, reading)
}

/// The `data:` payloads of an OpenAI stream.
func chunks(_ out: [UInt8]) -> [String] {
    String(decoding: out, as: UTF8.self).components(separatedBy: "\n\n").filter { !$0.isEmpty }.map {
        String($0.dropFirst("data: ".count))
    }
}

@Suite("Native answers and streams back to OpenAI's format, with the native usage exactly")
struct TranslationAnswerTests {
    @Test(
        "A whole answer: content, finish reason, and the usage the provider's reader finds", arguments: translatedCases)
    func wholeAnswer(item: TranslatedCase) throws {
        let body = try fixture(item.json)
        let reading = UsageReader.read(provider: item.provider, endpoint: item.endpoint, body: body)
        let answer = try #require(
            item.translator.answer(body, chat: try chat(#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#)))
        let completion = try #require(
            try JSONSerialization.jsonObject(
                with: Data(
                    answer.completionBody(created: 1, fallbackId: "req_1", fallbackModel: "m", usage: reading.usage)))
                as? [String: Any])
        #expect(completion["object"] as? String == "chat.completion")
        let choice = try #require((completion["choices"] as? [[String: Any]])?.first)
        #expect(choice["finish_reason"] as? String == item.finish)
        let usage = try #require(completion["usage"] as? [String: Any])
        let expected = try #require(reading.usage)
        #expect(usage["prompt_tokens"] as? Int == expected.inputTokens)
        #expect(usage["completion_tokens"] as? Int == expected.outputTokens)
        #expect(usage["total_tokens"] as? Int == expected.inputTokens + expected.outputTokens)
        #expect(
            (usage["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int == expected.cacheReadTokens)
        #expect(
            (usage["completion_tokens_details"] as? [String: Any])?["reasoning_tokens"] as? Int
                == expected.reasoningTokens)
        #expect(completion["model"] as? String == reading.model ?? "m")
    }

    @Test(
        "A stream in any chunking: the same chunks, the text, the usage chunk last before [DONE]",
        arguments: translatedCases)
    func stream(item: TranslatedCase) throws {
        let bytes = try fixture(item.sse)
        let request = try chat(
            #"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}"#
        )
        let whole = translateStream(
            bytes, provider: item.provider, endpoint: item.streamEndpoint, chat: request, size: bytes.count)
        for size in [1, 7, 64] {
            let split = translateStream(
                bytes, provider: item.provider, endpoint: item.streamEndpoint, chat: request, size: size)
            #expect(split.out == whole.out, "chunks of \(size)")
        }
        let payloads = chunks(whole.out)
        #expect(payloads.last == "[DONE]")
        var text = ""
        var finishes: [String] = []
        for payload in payloads.dropLast() {
            let chunk = try #require(try JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any])
            #expect(chunk["object"] as? String == "chat.completion.chunk")
            for choice in chunk["choices"] as? [[String: Any]] ?? [] {
                text += (choice["delta"] as? [String: Any])?["content"] as? String ?? ""
                if let reason = choice["finish_reason"] as? String { finishes.append(reason) }
            }
        }
        #expect(text == item.text)
        #expect(finishes == [item.finish])
        let usageChunk = try #require(
            try JSONSerialization.jsonObject(with: Data(payloads[payloads.count - 2].utf8)) as? [String: Any])
        #expect((usageChunk["choices"] as? [Any])?.isEmpty == true)
        let usage = try #require(usageChunk["usage"] as? [String: Any])
        #expect(usage["prompt_tokens"] as? Int == whole.reading.usage?.inputTokens)
        #expect(usage["completion_tokens"] as? Int == whole.reading.usage?.outputTokens)
        // Without include_usage, no chunk carries usage.
        let plain = try chat(#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}"#)
        let quiet = translateStream(bytes, provider: item.provider, endpoint: item.streamEndpoint, chat: plain, size: 7)
        #expect(!String(decoding: quiet.out, as: UTF8.self).contains("\"usage\""))
    }

    @Test("A stream cut short ends with an error event and no [DONE]", arguments: translatedCases)
    func cutStream(item: TranslatedCase) throws {
        let bytes = try fixture(item.sse)
        let request = try chat(#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}"#)
        let cut = translateStream(
            Array(bytes.prefix(bytes.count / 2)), provider: item.provider, endpoint: item.streamEndpoint, chat: request,
            size: 7)
        let payloads = chunks(cut.out)
        #expect(payloads.last?.contains(#""error":{"#) == true)
        #expect(!payloads.contains("[DONE]"))
    }

    @Test("Anthropic's error event after 200 becomes OpenAI's error event, no [DONE]")
    func anthropicErrorEvent() throws {
        let request = try chat(#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}"#)
        let out = translateStream(
            try fixture("anthropic-messages-error.sse"), provider: .anthropic, endpoint: .messages, chat: request,
            size: 9
        ).out
        let payloads = chunks(out)
        #expect(payloads.last?.contains(#""type":"overloaded_error""#) == true)
        #expect(payloads.last?.contains("Overloaded") == true)
        #expect(!payloads.contains("[DONE]"))
    }

    @Test("Anthropic's streamed tool calls: indices over tool calls only, fragments routed by block, {} for none")
    func anthropicToolStream() throws {
        let events: [(String, String)] = [
            (
                "message_start",
                #"{"type":"message_start","message":{"id":"msg_1","model":"claude-sonnet-4-5","usage":{"input_tokens":50,"output_tokens":1}}}"#
            ),
            (
                "content_block_start",
                #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#
            ),
            (
                "content_block_delta",
                #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Checking."}}"#
            ),
            ("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
            (
                "content_block_start",
                #"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_A","name":"get_weather","input":{}}}"#
            ),
            (
                "content_block_delta",
                #"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}"#
            ),
            (
                "content_block_delta",
                #"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Par"}}"#
            ),
            (
                "content_block_delta",
                #"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"is\"}"}}"#
            ),
            ("content_block_stop", #"{"type":"content_block_stop","index":1}"#),
            (
                "content_block_start",
                #"{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_B","name":"now","input":{}}}"#
            ),
            ("content_block_stop", #"{"type":"content_block_stop","index":2}"#),
            (
                "message_delta",
                #"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":40}}"#
            ),
            ("message_stop", #"{"type":"message_stop"}"#),
        ]
        let bytes = Array(events.map { "event: \($0.0)\ndata: \($0.1)\n\n" }.joined().utf8)
        let request = try chat(#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}"#)
        let out = translateStream(bytes, provider: .anthropic, endpoint: .messages, chat: request, size: 11).out
        var calls: [Int: (id: String, name: String, arguments: String)] = [:]
        for payload in chunks(out).dropLast() {
            let chunk = try #require(try JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any])
            let choice = (chunk["choices"] as? [[String: Any]])?.first
            for call in (choice?["delta"] as? [String: Any])?["tool_calls"] as? [[String: Any]] ?? [] {
                let index = try #require(call["index"] as? Int)
                let function = call["function"] as? [String: Any]
                var current = calls[index] ?? ("", "", "")
                if let id = call["id"] as? String { current.id = id }
                if let name = function?["name"] as? String { current.name = name }
                current.arguments += function?["arguments"] as? String ?? ""
                calls[index] = current
            }
        }
        #expect(calls.count == 2)
        #expect(calls[0]?.id == "toolu_A" && calls[0]?.name == "get_weather")
        #expect(calls[0]?.arguments == #"{"city": "Paris"}"#)
        #expect(calls[1]?.id == "toolu_B" && calls[1]?.arguments == "{}")
        #expect(String(decoding: out, as: UTF8.self).contains(#""finish_reason":"tool_calls""#))
    }

    @Test("Anthropic's json_output tool answer is the message content, finished with stop")
    func anthropicJSONAnswer() throws {
        let answer = #"""
            {"id":"msg_j","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"tool_use",
             "id":"toolu_j","name":"json_output","input":{"city":"Paris","temperature_c":18}}],"stop_reason":"tool_use",
             "usage":{"input_tokens":30,"output_tokens":20}}
            """#
        let request = try chat(
            #"{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}}"#)
        let translated = try #require(AnthropicTranslator().answer(Array(answer.utf8), chat: request))
        #expect(translated.choices.first?.text == #"{"city":"Paris","temperature_c":18}"#)
        #expect(translated.choices.first?.toolCalls.isEmpty == true)
        #expect(translated.choices.first?.finishReason == "stop")
    }

    @Test("Cohere's tool plan is reasoning; its tool calls keep their ids and argument strings")
    func cohereTools() throws {
        let answer = #"""
            {"id":"c1","message":{"role":"assistant","tool_plan":"I will look it up.","tool_calls":[{"id":"get_weather_1",
             "type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
             "finish_reason":"TOOL_CALL","usage":{"billed_units":{"input_tokens":30,"output_tokens":12}}}
            """#
        let translated = try #require(CohereTranslator().answer(Array(answer.utf8), chat: try chat(richRequest)))
        let choice = try #require(translated.choices.first)
        #expect(choice.reasoning == "I will look it up.")
        #expect(choice.toolCalls.first?.id == "get_weather_1")
        #expect(choice.toolCalls.first?.arguments == #"{"city":"Paris"}"#)
        #expect(choice.finishReason == "tool_calls")
        #expect(choice.text == nil)
        // The plan goes back with the calls on the next turn.
        let next = #"""
            {"model":"x","messages":[{"role":"user","content":"go"},{"role":"assistant","reasoning_content":"I will look it up.",
             "tool_calls":[{"id":"get_weather_1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},
             {"role":"tool","tool_call_id":"get_weather_1","content":"18"}]}
            """#
        let native = try parsed(CohereTranslator().request(try chat(next), options: .init()).body)
        #expect(native["messages"]?.array?[1]["tool_plan"] == .string("I will look it up."))
    }
}
