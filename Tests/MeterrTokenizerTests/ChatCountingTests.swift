import Foundation
import Testing

@testable import MeterrTokenizer

@Suite("Model map and chat, tool and image counting")
struct ChatCountingTests {
    static var cookbookMessages: [[String: Any]] {
        [
            [
                "role": "system",
                "content":
                    "You are a helpful, pattern-following assistant that translates corporate jargon into plain English.",
            ],
            ["role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."],
            [
                "role": "system", "name": "example_assistant",
                "content": "Things working well together will increase revenue.",
            ],
            [
                "role": "system", "name": "example_user",
                "content":
                    "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.",
            ],
            [
                "role": "system", "name": "example_assistant",
                "content": "Let's talk later when we're less busy about how to do better.",
            ],
            [
                "role": "user",
                "content": "This late pivot means we don't have time to boil the ocean for the client deliverable.",
            ],
        ]
    }

    static var weatherTools: [[String: Any]] {
        [
            [
                "type": "function",
                "function": [
                    "name": "get_current_weather",
                    "description": "Get the current weather in a given location",
                    "parameters": [
                        "type": "object",
                        "properties": [
                            "location": [
                                "type": "string", "description": "The city and state, e.g. San Francisco, CA",
                            ],
                            "unit": [
                                "type": "string", "description": "The unit of temperature to return",
                                "enum": ["celsius", "fahrenheit"],
                            ],
                        ],
                        "required": ["location"],
                    ] as [String: Any],
                ] as [String: Any],
            ]
        ]
    }

    static var weatherMessages: [[String: Any]] {
        [
            [
                "role": "system",
                "content": "You are a helpful assistant that can answer to questions about the weather.",
            ],
            ["role": "user", "content": "What's the weather like in San Francisco?"],
        ]
    }

    @Test("models map to their encodings, with snapshots, provider prefixes and fine-tunes")
    func modelMap() throws {
        let o200k: [String] = [
            "gpt-4o", "gpt-4o-mini-2024-07-18", "openai/gpt-4.1", "azure/gpt-4.1-nano", "gpt-5", "gpt-5.1",
            "gpt-5-mini", "o1", "o1-preview", "o3-mini", "o4-mini-2025-04-16", "chatgpt-4o-latest",
            "ft:gpt-4o-mini-2024-07-18:acme::abc123", "gpt-4.5-preview",
        ]
        for m in o200k { #expect(ModelMap.tokenizer(for: m) == .exact(.o200kBase), "\(m)") }
        let cl100k = [
            "gpt-4", "gpt-4-0613", "gpt-4-turbo", "gpt-3.5-turbo", "gpt-35-turbo", "text-embedding-3-small",
            "text-embedding-ada-002", "azure/gpt-4-32k",
        ]
        for m in cl100k { #expect(ModelMap.tokenizer(for: m) == .exact(.cl100kBase), "\(m)") }
        for m in [
            "mistral-large-latest", "mistral/mistral-small-2409", "open-mistral-nemo", "pixtral-12b-2409",
            "ministral-8b-latest", "codestral-latest",
        ] {
            #expect(ModelMap.tokenizer(for: m) == .exact(.tekken), "\(m)")
        }
        #expect(ModelMap.tokenizer(for: "open-mixtral-8x7b") == .approximate(.tekken))
        // Newer than tiktoken 0.14's map: o200k_base, but not claimed exact.
        #expect(ModelMap.tokenizer(for: "gpt-6-sol") == .approximate(.o200kBase))
        #expect(try TokenCounter.count(model: "openai/gpt-6.1-terra", text: "hi").exact == false)
        #expect(ModelMap.tokenizer(for: "claude-sonnet-4-5") == .estimated(.anthropic))
        #expect(ModelMap.tokenizer(for: "gemini-2.5-flash") == .estimated(.gemini))
        #expect(ModelMap.tokenizer(for: "command-r-plus") == .estimated(.cohere))
        #expect(ModelMap.tokenizer(for: "o1x") == .estimated(.unknown))
    }

    @Test("the cookbook's six messages count 129 on gpt-4 and gpt-3.5 and 124 on gpt-4o and gpt-4o-mini")
    func cookbookMessages() throws {
        for (model, expected) in [
            ("gpt-3.5-turbo-0125", 129), ("gpt-4-0613", 129), ("gpt-4o-2024-08-06", 124),
            ("gpt-4o-mini-2024-07-18", 124),
        ] {
            #expect(try ChatTokenCounter(model: model).countMessages(Self.cookbookMessages) == expected, "\(model)")
        }
    }

    @Test("the cookbook's weather tool with two messages counts 105 on gpt-4 and 101 on gpt-4o")
    func cookbookTools() throws {
        for (model, expected) in [("gpt-3.5-turbo", 105), ("gpt-4", 105), ("gpt-4o", 101), ("gpt-4o-mini", 101)] {
            let counter = try ChatTokenCounter(model: model)
            let total = try counter.countMessages(Self.weatherMessages) + counter.countTools(Self.weatherTools)
            #expect(total == expected, "\(model)")
        }
    }

    @Test("the JSON entry point counts messages and tools like the typed one, labelled not exact")
    func jsonEntryPoint() throws {
        let messages = try JSONSerialization.data(withJSONObject: Self.weatherMessages)
        let tools = try JSONSerialization.data(withJSONObject: Self.weatherTools)
        let result = try TokenCounter.count(model: "gpt-4o", messages: messages, tools: tools)
        #expect(result == TokenCount(count: 101, exact: false, encoding: "o200k_base"))
        #expect(
            try TokenCounter.count(model: "gpt-4o", text: "tiktoken is great!")
                == TokenCount(count: 6, exact: true, encoding: "o200k_base"))
        #expect(try TokenCounter.count(model: "claude-3-5-haiku", text: "hello world").exact == false)
    }

    @Test("a whole request body is counted from its model and fields, and a body without a model is refused")
    func requestBody() throws {
        let body: [String: Any] = ["model": "gpt-4o", "messages": Self.weatherMessages, "tools": Self.weatherTools]
        let data = try JSONSerialization.data(withJSONObject: body)
        #expect(
            try TokenCounter.count(requestJSON: data) == TokenCount(count: 101, exact: false, encoding: "o200k_base"))
        let text = try JSONSerialization.data(withJSONObject: ["model": "gpt-4", "text": "tiktoken is great!"])
        #expect(try TokenCounter.count(requestJSON: text) == TokenCount(count: 6, exact: true, encoding: "cl100k_base"))
        #expect(throws: ChatCountError.self) { try TokenCounter.count(requestJSON: Data(#"{"text":"x"}"#.utf8)) }
        #expect(throws: ChatCountError.self) { try TokenCounter.count(requestJSON: Data(#"{"model":"gpt-4o"}"#.utf8)) }
        #expect(throws: (any Error).self) { try TokenCounter.count(requestJSON: Data("not json".utf8)) }
    }

    @Test("image tiles follow OpenAI's examples: 85 low, 765 for 1024², 1105 for 2048×4096")
    func imageTiles() {
        let rule = ImageTokenRule.forModel("gpt-4o")
        #expect(rule.tokens(width: 1024, height: 1024, detail: .low) == 85)
        #expect(rule.tokens(width: 1024, height: 1024, detail: .high) == 765)
        #expect(rule.tokens(width: 2048, height: 4096, detail: .high) == 1105)
        #expect(ImageTokenRule.forModel("gpt-4o-mini").tokens(width: 512, height: 512, detail: .low) == 2833)
        #expect(
            ImageTokenRule.forModel("gpt-4o-mini").tokens(width: 1024, height: 1024, detail: .high)
                == 2833 + 4 * 5667)
    }

    @Test("patch models count 32-px patches capped at 1536: 1024² → 1024, 1800×2400 → 1452 patches")
    func imagePatches() {
        #expect(ImageTokenRule.forModel("gpt-4.1-mini") == .patches(multiplier: 1.62))
        #expect(ImageTokenRule.patches(multiplier: 1).tokens(width: 1024, height: 1024, detail: .high) == 1024)
        #expect(ImageTokenRule.patches(multiplier: 1).tokens(width: 1800, height: 2400, detail: .high) == 1452)
    }

    @Test("an image part with a PNG data URL is sized from its header")
    func imagePart() throws {
        // A PNG header claiming 1024×1024.
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]
        png += [0, 0, 4, 0, 0, 0, 4, 0, 8, 6, 0, 0, 0]
        let url = "data:image/png;base64," + Data(png).base64EncodedString()
        let message: [String: Any] = [
            "role": "user",
            "content": [
                ["type": "text", "text": "What is in this image?"],
                ["type": "image_url", "image_url": ["url": url, "detail": "high"]],
            ],
        ]
        let counter = try ChatTokenCounter(model: "gpt-4o")
        let textOnly = try counter.countMessages([["role": "user", "content": "What is in this image?"]])
        #expect(try counter.countMessages([message]) == textOnly + 765)
    }

    @Test("Responses API input counts like the equivalent chat messages")
    func responsesInput() throws {
        let counter = try ChatTokenCounter(model: "gpt-4o")
        let asChat = try counter.countMessages([
            ["role": "developer", "content": "Be brief."], ["role": "user", "content": "Hello there"],
        ])
        #expect(try counter.countResponsesInput("Hello there", instructions: "Be brief.") == asChat)
        let items: [[String: Any]] = [
            ["role": "user", "content": [["type": "input_text", "text": "Hello there"]]]
        ]
        #expect(try counter.countResponsesInput(items, instructions: "Be brief.") == asChat)
    }

    @Test("the Anthropic estimate follows its calibrated formula")
    func anthropicEstimate() throws {
        let o200k = try Tokenizer.shared(for: .o200kBase)
        let text = "Größe 東京"
        let nonASCII = text.unicodeScalars.filter { $0.value >= 0x80 }.count
        let expected = Int((1.05 * Double(o200k.count(text)) + 0.58 * Double(nonASCII)).rounded(.up))
        #expect(try TokenEstimate.estimate(text, family: .anthropic) == expected)
    }
}

@Suite("Mistral chat template")
struct MistralChatTests {
    @Test("Tekken chat counts equal mistral-common's encode_chat_completion and are marked exact")
    func mistralChat() throws {
        let url = Bundle.module.url(forResource: "Fixtures/mistral_chat", withExtension: "json")!
        let cases = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [[String: Any]]
        #expect(cases.count >= 6)
        let counter = try ChatTokenCounter(model: "mistral-large-latest")
        for c in cases {
            let messages = c["messages"] as! [[String: Any]]
            let expected = (c["ids"] as! [Int]).count
            let result = try counter.countMessagesDetailed(messages)
            #expect(result.count == expected && result.exact, "\(messages)")
            let json = try JSONSerialization.data(withJSONObject: messages)
            #expect(
                try TokenCounter.count(model: "mistral/mistral-small-latest", messages: json)
                    == TokenCount(count: expected, exact: true, encoding: "tekken"))
        }
    }

    @Test("Mistral messages with tool calls fall back to the estimate")
    func mistralToolsNotExact() throws {
        let counter = try ChatTokenCounter(model: "mistral-large-latest")
        let messages: [[String: Any]] = [["role": "tool", "content": "42", "tool_call_id": "abc"]]
        #expect(try counter.countMessagesDetailed(messages).exact == false)
    }
}

@Suite("Prompt estimates from provider request bodies")
struct RequestBodyEstimateTests {
    @Test("an OpenAI chat body counts like its messages and tools")
    func openAIChatBody() throws {
        let body: [String: Any] = [
            "model": "gpt-4o", "stream": true, "messages": ChatCountingTests.weatherMessages,
            "tools": ChatCountingTests.weatherTools,
        ]
        let bytes = [UInt8](try JSONSerialization.data(withJSONObject: body))
        #expect(try TokenCounter.promptTokens(model: "gpt-4o", requestBody: bytes).count == 101)
    }

    @Test("Anthropic, Gemini and Cohere bodies count their text, not their settings")
    func otherProviders() throws {
        let text = "Explain the theory of relativity in simple terms."
        let anthropic: [String: Any] = [
            "model": "claude-sonnet-4-5", "max_tokens": 1024, "system": "Be brief.",
            "messages": [["role": "user", "content": [["type": "text", "text": text]]]],
        ]
        let gemini: [String: Any] = ["contents": [["role": "user", "parts": [["text": text]]]]]
        let cohere: [String: Any] = ["model": "command-r-plus", "messages": [["role": "user", "content": text]]]
        let claude = try TokenCounter.promptTokens(
            model: "claude-sonnet-4-5", requestBody: [UInt8](try JSONSerialization.data(withJSONObject: anthropic)))
        let expectedClaude =
            try TokenEstimate.estimate(text, family: .anthropic)
            + TokenEstimate.estimate("Be brief.", family: .anthropic)
            + 3
        #expect(claude == TokenCount(count: expectedClaude, exact: false, encoding: nil))
        let o200k = try Tokenizer.shared(for: .o200kBase).count(text)
        let g = try TokenCounter.promptTokens(
            model: "gemini-2.5-pro", requestBody: [UInt8](try JSONSerialization.data(withJSONObject: gemini)))
        #expect(g.count == o200k + 3 && !g.exact)
        let c = try TokenCounter.promptTokens(
            model: "command-r-plus", requestBody: [UInt8](try JSONSerialization.data(withJSONObject: cohere)))
        #expect(c.count == o200k + 3 && !c.exact)
    }

    @Test("a body that is not a JSON object is refused")
    func invalidBody() {
        #expect(throws: (any Error).self) {
            try TokenCounter.promptTokens(model: "gpt-4o", requestBody: Array("[]".utf8))
        }
    }
}
