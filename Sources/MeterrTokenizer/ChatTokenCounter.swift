import Foundation

/// Errors from chat, tool and Responses input counting.
public enum ChatCountError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The JSON does not have the expected shape.
    case invalidJSON(String)

    /// One line, safe to print.
    public var description: String {
        switch self {
        case .invalidJSON(let why): "invalid JSON: \(why)"
        }
    }
}

/// Image detail levels of the OpenAI vision API.
public enum ImageDetail: String, Sendable {
    /// A fixed base cost.
    case low
    /// Tiles (or patches) of the scaled image.
    case high
    /// The API picks; counted as `high` (the upper bound).
    case auto
}

/// How a model family prices image inputs in tokens (OpenAI "calculating costs", per-model constants).
public enum ImageTokenRule: Sendable, Equatable {
    /// Fit 2048², shortest side to 768, 512-px tiles: `base + perTile · tiles`; low detail = `base`.
    case tiles(base: Int, perTile: Int)
    /// 32-px patches, capped at 1536 by scaling down, times a multiplier.
    case patches(multiplier: Double)

    /// The rule for `model` (canonical name).
    public static func forModel(_ model: String) -> ImageTokenRule {
        let name = ModelMap.canonicalName(model)
        let patchModels: [(String, Double)] = [
            ("gpt-4.1-mini", 1.62), ("gpt-4.1-nano", 2.46), ("gpt-5-mini", 1.62), ("gpt-5-nano", 2.46),
            ("o4-mini", 1.72),
        ]
        for (prefix, multiplier) in patchModels where name.hasPrefix(prefix) { return .patches(multiplier: multiplier) }
        if name.hasPrefix("gpt-4o-mini") { return .tiles(base: 2833, perTile: 5667) }
        if name.hasPrefix("o1") || name.hasPrefix("o3") { return .tiles(base: 75, perTile: 150) }
        if name.hasPrefix("gpt-5") { return .tiles(base: 70, perTile: 140) }
        return .tiles(base: 85, perTile: 170)
    }

    /// Tokens for an image of `width`×`height` pixels.
    public func tokens(width: Int, height: Int, detail: ImageDetail) -> Int {
        var w = Double(max(width, 1))
        var h = Double(max(height, 1))
        switch self {
        case .tiles(let base, let perTile):
            if detail == .low { return base }
            if max(w, h) > 2048 {
                let s = 2048 / max(w, h)
                w *= s
                h *= s
            }
            if min(w, h) > 768 {
                let s = 768 / min(w, h)
                w *= s
                h *= s
            }
            let tiles = Int((w / 512).rounded(.up)) * Int((h / 512).rounded(.up))
            return base + perTile * tiles
        case .patches(let multiplier):
            var patches = Int((w / 32).rounded(.up)) * Int((h / 32).rounded(.up))
            if patches > 1536 {
                let r = (32.0 * 32.0 * 1536.0 / (w * h)).squareRoot()
                w *= r
                h *= r
                let r2 = (w / 32).rounded(.down) / (w / 32)
                w *= r2
                h *= r2
                patches = min(1536, Int((w / 32).rounded(.up)) * Int((h / 32).rounded(.up)))
            }
            return Int((Double(patches) * multiplier).rounded())
        }
    }
}

/// OpenAI's chat counting formulas (cookbook "How to count tokens with tiktoken"): per message, per name, reply
/// priming; tool definitions; images; Responses API input. Other providers use the same shape with their tokenizer
/// or estimate. Results are estimates, as the cookbook itself says.
public struct ChatTokenCounter: Sendable {
    /// The model as given.
    public let model: String
    /// The tokenizer used for strings.
    public let modelTokenizer: ModelTokenizer
    /// Tokens added per message (3; 4 for gpt-3.5-turbo-0301).
    public let tokensPerMessage: Int
    /// Tokens added per `name` field (1; -1 for gpt-3.5-turbo-0301).
    public let tokensPerName: Int
    /// Tokens priming the reply (`<|start|>assistant<|message|>`).
    public let replyPriming: Int
    /// Tokens opening each function definition (7 for o200k models, 10 for cl100k models).
    public let functionInit: Int
    /// The image rule of the model.
    public let imageRule: ImageTokenRule
    /// Image size assumed when a message gives none (an `https` URL): 1024×1024.
    public static let assumedImageSize = (width: 1024, height: 1024)

    let tokenizer: Tokenizer?
    let family: EstimateFamily?

    /// The encoding used for strings, if any.
    public var encoding: Encoding? { modelTokenizer.encoding }

    /// Prepares counting for `model` (loads its tokenizer).
    public init(model: String) throws {
        self.model = model
        let name = ModelMap.canonicalName(model)
        modelTokenizer = ModelMap.tokenizer(for: model)
        if let encoding = modelTokenizer.encoding {
            tokenizer = try Tokenizer.shared(for: encoding)
            family = nil
        } else {
            tokenizer = nil
            if case .estimated(let f) = modelTokenizer { family = f } else { family = .unknown }
        }
        if name == "gpt-3.5-turbo-0301" {
            tokensPerMessage = 4
            tokensPerName = -1
        } else {
            tokensPerMessage = 3
            tokensPerName = 1
        }
        replyPriming = 3
        functionInit = modelTokenizer.encoding == .cl100kBase ? 10 : 7
        imageRule = ImageTokenRule.forModel(model)
    }

    /// Tokens of one string (exact with a tokenizer, else the estimator).
    public func tokens(_ text: String) throws -> Int {
        if let tokenizer { return tokenizer.count(text) }
        return try TokenEstimate.estimate(text, family: family ?? .unknown)
    }

    /// Chat Completions `messages`: `Σ (tokensPerMessage + tokens(every string value) + tokensPerName if name)
    /// + replyPriming`; content parts count their text and images; other values count as their JSON text.
    /// Tekken models use Mistral's own template instead (see `countMessagesDetailed`).
    public func countMessages(_ messages: [[String: Any]]) throws -> Int {
        try countMessagesDetailed(messages).count
    }

    /// `countMessages` plus whether the count is exact: true only for Tekken models with system, user and
    /// assistant messages of plain text, which follow mistral-common's InstructTokenizerV3 exactly:
    /// `<s>`, then `[INST]` user `[/INST]` and assistant `</s>`, with all system prompts joined by a blank line
    /// in front of the last user message.
    public func countMessagesDetailed(_ messages: [[String: Any]]) throws -> (count: Int, exact: Bool) {
        if modelTokenizer == .exact(.tekken), let n = try mistralTemplateCount(messages) {
            return (n, true)
        }
        return (try openAIFormula(messages), false)
    }

    private func mistralTemplateCount(_ messages: [[String: Any]]) throws -> Int? {
        var systems: [String] = []
        var lastUser = -1
        for (i, message) in messages.enumerated() {
            guard message.keys.allSatisfy({ $0 == "role" || $0 == "content" }),
                let role = message["role"] as? String, message["content"] is String
            else { return nil }
            switch role {
            case "system": systems.append(message["content"] as! String)
            case "user": lastUser = i
            case "assistant": continue
            default: return nil
            }
        }
        if lastUser < 0 { return nil }
        var n = 1  // <s>
        for (i, message) in messages.enumerated() {
            let content = message["content"] as! String
            switch message["role"] as! String {
            case "user":
                let text =
                    i == lastUser && !systems.isEmpty ? systems.joined(separator: "\n\n") + "\n\n" + content : content
                n += 2 + (try tokens(text))  // [INST] … [/INST]
            case "assistant":
                n += (try tokens(content)) + 1  // … </s>
            default:
                continue
            }
        }
        return n
    }

    private func openAIFormula(_ messages: [[String: Any]]) throws -> Int {
        var n = 0
        for message in messages {
            n += tokensPerMessage
            for (key, value) in message {
                n += try valueTokens(value)
                if key == "name" { n += tokensPerName }
            }
        }
        return n + replyPriming
    }

    private func valueTokens(_ value: Any) throws -> Int {
        switch value {
        case let s as String:
            return try tokens(s)
        case is NSNull:
            return 0
        case let parts as [[String: Any]] where parts.allSatisfy({ $0["type"] is String }):
            var n = 0
            for part in parts { n += try partTokens(part) }
            return n
        default:
            let data = try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys])
            return try tokens(String(decoding: data, as: UTF8.self))
        }
    }

    private func partTokens(_ part: [String: Any]) throws -> Int {
        switch part["type"] as? String {
        case "text", "input_text", "output_text":
            return try tokens(part["text"] as? String ?? "")
        case "image_url", "input_image":
            var url = part["image_url"] as? String
            var detail = part["detail"] as? String
            if let object = part["image_url"] as? [String: Any] {
                url = object["url"] as? String
                detail = object["detail"] as? String ?? detail
            }
            let size = url.flatMap(ImageSize.fromDataURL) ?? Self.assumedImageSize
            return imageRule.tokens(
                width: size.width, height: size.height, detail: ImageDetail(rawValue: detail ?? "auto") ?? .auto)
        default:
            let data = try JSONSerialization.data(withJSONObject: part, options: [.sortedKeys])
            return try tokens(String(decoding: data, as: UTF8.self))
        }
    }

    /// Tool or function definitions (cookbook section 7): `functionInit + tokens("name:description")`, 3 to open
    /// the properties, per property 3 + `tokens("key:type:description")` (+ enum items), and 12 at the end.
    public func countTools(_ tools: [[String: Any]]) throws -> Int {
        if tools.isEmpty { return 0 }
        var n = 0
        for tool in tools {
            let function = tool["function"] as? [String: Any] ?? tool
            n += functionInit
            let name = function["name"] as? String ?? ""
            n += try tokens(name + ":" + Self.trimPeriod(function["description"] as? String ?? ""))
            let parameters = function["parameters"] as? [String: Any] ?? [:]
            let properties = parameters["properties"] as? [String: Any] ?? [:]
            if !properties.isEmpty {
                n += 3
                for key in properties.keys.sorted() {
                    n += 3
                    let property = properties[key] as? [String: Any] ?? [:]
                    if let items = property["enum"] as? [Any] {
                        n -= 3
                        for item in items { n += 3 + (try tokens("\(item)")) }
                    }
                    let type: String
                    if let t = property["type"] as? String {
                        type = t
                    } else if let ts = property["type"] as? [String] {
                        type = ts.joined(separator: ",")
                    } else {
                        type = "object"
                    }
                    let description = Self.trimPeriod(property["description"] as? String ?? "")
                    n += try tokens("\(key):\(type):\(description)")
                }
            }
        }
        return n + 12
    }

    /// Responses API `input` (a string, or an array of message items and function-call items) plus
    /// `instructions`, counted with the chat formula (instructions as a developer message).
    public func countResponsesInput(_ input: Any, instructions: String?) throws -> Int {
        var messages: [[String: Any]] = []
        if let instructions { messages.append(["role": "developer", "content": instructions]) }
        if let text = input as? String {
            if !text.isEmpty { messages.append(["role": "user", "content": text]) }
        } else if let items = input as? [[String: Any]] {
            for item in items {
                switch item["type"] as? String {
                case "function_call":
                    messages.append([
                        "role": "assistant", "name": item["name"] as? String ?? "",
                        "content": item["arguments"] as? String ?? "",
                    ])
                case "function_call_output":
                    messages.append(["role": "tool", "content": item["output"] as? String ?? ""])
                default:
                    var message: [String: Any] = ["role": item["role"] as? String ?? "user"]
                    message["content"] = item["content"] ?? ""
                    messages.append(message)
                }
            }
        } else {
            throw ChatCountError.invalidJSON("input must be a string or an array of items")
        }
        return try countMessages(messages)
    }

    static func trimPeriod(_ s: String) -> String { s.hasSuffix(".") ? String(s.dropLast()) : s }
}

/// Reads image dimensions from the header of a `data:` URL (PNG, GIF, JPEG).
enum ImageSize {
    static func fromDataURL(_ url: String) -> (width: Int, height: Int)? {
        guard url.hasPrefix("data:"), let comma = url.firstIndex(of: ",") else { return nil }
        // The header sits in the first bytes; decode a prefix whose length is a multiple of 4.
        let payload = url[url.index(after: comma)...]
        let prefix = String(payload.prefix(65_536 - 65_536 % 4))
        guard let data = Data(base64Encoded: prefix, options: .ignoreUnknownCharacters) else { return nil }
        let b = [UInt8](data)
        func be16(_ i: Int) -> Int { Int(b[i]) << 8 | Int(b[i + 1]) }
        func be32(_ i: Int) -> Int { be16(i) << 16 | be16(i + 2) }
        if b.count >= 24 && b[0] == 0x89 && b[1] == 0x50 && b[2] == 0x4E && b[3] == 0x47 {
            return (be32(16), be32(20))
        }
        if b.count >= 10 && b[0] == 0x47 && b[1] == 0x49 && b[2] == 0x46 {
            return (Int(b[6]) | Int(b[7]) << 8, Int(b[8]) | Int(b[9]) << 8)
        }
        if b.count >= 4 && b[0] == 0xFF && b[1] == 0xD8 {
            var i = 2
            while i + 9 < b.count {
                guard b[i] == 0xFF else { return nil }
                let marker = b[i + 1]
                if (0xC0...0xCF).contains(marker) && marker != 0xC4 && marker != 0xC8 && marker != 0xCC {
                    return (be16(i + 7), be16(i + 5))
                }
                i += 2 + be16(i + 2)
            }
        }
        return nil
    }
}
