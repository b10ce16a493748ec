import Foundation

/// A token count and whether it is exact.
public struct TokenCount: Sendable, Equatable, Codable {
    /// The number of tokens.
    public var count: Int
    /// True when `count` is what the provider's tokenizer produces for this input; false for formula-based or
    /// estimated counts (chat/tool/image overheads, providers without a local tokenizer).
    public var exact: Bool
    /// The encoding used (`o200k_base`, `cl100k_base`, `tekken`), or nil for a pure estimate.
    public var encoding: String?

    /// Creates a count.
    public init(count: Int, exact: Bool, encoding: String?) {
        self.count = count
        self.exact = exact
        self.encoding = encoding
    }
}

/// Estimates for providers that publish no local tokenizer for their current models.
///
/// Anthropic: `ceil(1.05 · o200k + 0.58 · non-ASCII scalars)`, fitted against the only local Claude tokenizer ever
/// published (the legacy one in old `anthropic` wheels) by scripts/tokenizer/calibrate_estimates.py: mean |error|
/// 19 % over 38 short texts in 20+ scripts, within ±8 % on English prose and source code. Claude 3+ tokenizes
/// differently and Anthropic publishes no tokenizer, so the error against current models is not measured here.
/// Gemini and Cohere: the o200k count (both use large multilingual vocabularies); not calibrated locally, because
/// no tokenizer for them is installable here. Every estimate is labelled `exact: false`.
public enum TokenEstimate {
    /// Estimated tokens of `text` for `family`.
    public static func estimate(_ text: String, family: EstimateFamily) throws -> Int {
        let o200k = try Tokenizer.shared(for: .o200kBase).count(text)
        switch family {
        case .anthropic:
            var nonASCII = 0
            for scalar in text.unicodeScalars where scalar.value >= 0x80 { nonASCII += 1 }
            return Int((1.05 * Double(o200k) + 0.58 * Double(nonASCII)).rounded(.up))
        case .gemini, .cohere, .unknown:
            return o200k
        }
    }
}

/// Counting entry points for the CLI and `POST /api/tokens/count`: a model plus text, chat messages or tools.
public enum TokenCounter {
    /// Tokens of plain `text` for `model`: exact for OpenAI and Tekken-era Mistral models, estimated otherwise.
    public static func count(model: String, text: String) throws -> TokenCount {
        switch ModelMap.tokenizer(for: model) {
        case .exact(let encoding):
            return TokenCount(
                count: try Tokenizer.shared(for: encoding).count(text), exact: true,
                encoding: encoding.rawValue)
        case .approximate(let encoding):
            return TokenCount(
                count: try Tokenizer.shared(for: encoding).count(text), exact: false,
                encoding: encoding.rawValue)
        case .estimated(let family):
            return TokenCount(count: try TokenEstimate.estimate(text, family: family), exact: false, encoding: nil)
        }
    }

    /// Prompt tokens of a request for `model`: any of `text`, `messages` (Chat Completions JSON array),
    /// `tools` (JSON array of tool/function definitions) and Responses API `input` (string or JSON array),
    /// summed. Exact for a lone `text`, and for Mistral (Tekken) plain-text messages; OpenAI's chat and tool
    /// formulas are the cookbook's estimates.
    public static func count(
        model: String,
        text: String? = nil,
        messages: Data? = nil,
        tools: Data? = nil,
        responsesInput: Data? = nil,
        instructions: String? = nil
    ) throws -> TokenCount {
        if let text, messages == nil, tools == nil, responsesInput == nil, instructions == nil {
            return try count(model: model, text: text)
        }
        let counter = try ChatTokenCounter(model: model)
        var total = 0
        var exact = false
        if let text { total += try counter.tokens(text) }
        if let messages {
            guard let array = try JSONSerialization.jsonObject(with: messages) as? [[String: Any]] else {
                throw ChatCountError.invalidJSON("messages must be an array of objects")
            }
            let detailed = try counter.countMessagesDetailed(array)
            total += detailed.count
            // Exact only when the messages are the whole request and follow a template we reproduce exactly.
            exact = detailed.exact && text == nil && tools == nil && responsesInput == nil && instructions == nil
        }
        if let tools {
            guard let array = try JSONSerialization.jsonObject(with: tools) as? [[String: Any]] else {
                throw ChatCountError.invalidJSON("tools must be an array of objects")
            }
            total += try counter.countTools(array)
        }
        if responsesInput != nil || instructions != nil {
            var input: Any = ""
            if let responsesInput {
                input = try JSONSerialization.jsonObject(with: responsesInput, options: [.fragmentsAllowed])
            }
            total += try counter.countResponsesInput(input, instructions: instructions)
        }
        return TokenCount(count: total, exact: exact, encoding: counter.encoding?.rawValue)
    }

    /// A whole `POST /api/tokens/count` body: `{"model": …, "text"?: …, "messages"?: […], "tools"?: […],
    /// "input"?: … (Responses API), "instructions"?: …}`.
    public static func count(requestJSON: Data) throws -> TokenCount {
        guard let body = try JSONSerialization.jsonObject(with: requestJSON) as? [String: Any] else {
            throw ChatCountError.invalidJSON("body must be a JSON object")
        }
        guard let model = body["model"] as? String, !model.isEmpty else {
            throw ChatCountError.invalidJSON("\"model\" is required")
        }
        func json(_ key: String) throws -> Data? {
            guard let value = body[key], !(value is NSNull) else { return nil }
            return try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed])
        }
        let text = body["text"] as? String
        let messages = try json("messages")
        let tools = try json("tools")
        let input = try json("input")
        let instructions = body["instructions"] as? String
        if text == nil && messages == nil && tools == nil && input == nil && instructions == nil {
            throw ChatCountError.invalidJSON("give \"text\", \"messages\", \"tools\" or \"input\"")
        }
        return try count(
            model: model, text: text, messages: messages, tools: tools, responsesInput: input,
            instructions: instructions)
    }
}

extension TokenCounter {
    /// Keys whose string values are settings, not prompt text.
    static let settingKeys: Set<String> = [
        "model", "role", "type", "tool_choice", "stream", "user", "id", "tool_call_id", "detail", "url", "mime_type",
        "mimeType", "media_type", "response_format", "service_tier", "reasoning_effort", "modalities", "stop",
        "cache_control", "metadata", "safety_settings", "safetySettings", "responseMimeType",
    ]

    /// Estimated prompt tokens of a provider request body, for usage that never arrived (a cut stream).
    ///
    /// OpenAI-shaped bodies (`messages`, `tools`, `functions`, Responses `input`/`instructions`) use the chat
    /// formulas; any other shape (Anthropic `system`/`messages`, Gemini `contents`, Cohere `message`/`chat_history`,
    /// completions `prompt`) counts the text of every string value except settings, plus 3 tokens per message
    /// object. Images inside such bodies are not priced. Always `exact: false` unless the body is plain text
    /// messages for a Tekken model.
    public static func promptTokens(model: String, requestBody: [UInt8]) throws -> TokenCount {
        guard let body = try JSONSerialization.jsonObject(with: Data(requestBody)) as? [String: Any] else {
            throw ChatCountError.invalidJSON("body must be a JSON object")
        }
        let counter = try ChatTokenCounter(model: model)
        let openAI = counter.modelTokenizer.encoding != nil && body["contents"] == nil && body["system"] == nil
        if openAI && (body["messages"] != nil || body["input"] != nil || body["instructions"] != nil) {
            var total = 0
            var exact = false
            if let messages = body["messages"] as? [[String: Any]] {
                let detailed = try counter.countMessagesDetailed(messages)
                total += detailed.count
                exact = detailed.exact && body["tools"] == nil
            }
            if let tools = (body["tools"] ?? body["functions"]) as? [[String: Any]] {
                total += try counter.countTools(tools)
            }
            if body["input"] != nil || body["instructions"] != nil {
                let input: Any = body["input"] ?? ""
                if input is String || input is [[String: Any]] {
                    total += try counter.countResponsesInput(input, instructions: body["instructions"] as? String)
                } else {
                    // Embeddings: a string array.
                    total += try textTokens(input, counter)
                }
            }
            return TokenCount(count: total, exact: exact, encoding: counter.encoding?.rawValue)
        }
        return TokenCount(count: try textTokens(body, counter), exact: false, encoding: counter.encoding?.rawValue)
    }

    /// Tokens of every string value in `value` (skipping settings) plus 3 per object that has a `role`.
    static func textTokens(_ value: Any, _ counter: ChatTokenCounter) throws -> Int {
        switch value {
        case let s as String:
            return try counter.tokens(s)
        case let array as [Any]:
            var n = 0
            for item in array { n += try textTokens(item, counter) }
            return n
        case let object as [String: Any]:
            var n = object["role"] != nil ? counter.tokensPerMessage : 0
            for (key, item) in object where !settingKeys.contains(key) {
                // Base64 payloads (images, files) are not text.
                if key == "data" || key == "inline_data" || key == "inlineData" || key == "image_url" { continue }
                n += try textTokens(item, counter)
            }
            return n
        default:
            return 0
        }
    }
}
