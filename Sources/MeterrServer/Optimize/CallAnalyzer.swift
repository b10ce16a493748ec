import Crypto
import MeterrCore
import MeterrProviders
import MeterrStore
import MeterrTokenizer

/// Works out each metered call's shape for the savings report: the request hashed whole, its prompt
/// tokenized (o200k) and hashed at the prefix lengths where providers cache; only the hashes are
/// kept. The ledger writer calls it in the commit that stores the call's event (off the call's path)
/// and stores the shape in the same transaction.
enum CallAnalyzer {
    struct Job: Sendable {
        var org: String
        var eventId: String
        var ts: Timestamp
        var provider: Provider
        var endpoint: ProviderEndpoint
        var body: [UInt8]
        var maxTokens: Int?
    }

    /// Prefix lengths hashed (each one the prompt reaches), beside its whole length in 128-token steps:
    /// every provider's caching minimum (512 to 4,096) and doublings up to long contexts.
    static let boundaries = [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131_072]

    static func shape(_ job: Job) -> CallShape? {
        // The body is parsed once, for the request's hash and for its prompt.
        guard let json = try? OrderedJSONParser.parse(job.body),
            let key = ResponseCacheKey(
                org: job.org, provider: job.provider, format: job.provider, endpoint: job.endpoint, path: "",
                query: nil, headers: [], parsed: json, bodyBytes: job.body.count)
        else { return nil }
        let tools = (json["tools"]?.array?.isEmpty == false) || (json["functions"]?.array?.isEmpty == false)
        var prefixes: [CallShape.Prefix] = []
        var count = 0
        let prompt = promptBytes(json, endpoint: job.endpoint)
        // Fewer bytes than the smallest caching minimum has tokens cannot reach it.
        if prompt.count >= boundaries[0], let tokenizer = try? Tokenizer.shared(for: .o200kBase) {
            let tokens = tokenizer.encode(prompt)
            count = tokens.count
            var lengths = boundaries.filter { $0 <= count }
            let whole = count / 128 * 128
            if whole >= boundaries[0], !lengths.contains(whole) { lengths.append(whole) }
            var hasher = SHA256()
            var hashed = 0
            for length in lengths.sorted() {
                // Four bytes a token, little-endian.
                let words = tokens[hashed..<length].map { UInt32(truncatingIfNeeded: $0).littleEndian }
                words.withUnsafeBytes { hasher.update(bufferPointer: $0) }
                hashed = length
                let digest = hasher.finalize()
                prefixes.append(.init(tokens: length, hash: Hex.string(digest.prefix(8))))
            }
        }
        return CallShape(
            org: job.org, eventId: job.eventId, ts: job.ts, requestHash: key.hex, promptTokens: count,
            prefixes: prefixes, tools: tools, maxTokens: job.maxTokens)
    }

    /// The prompt in the order the provider reads (and caches) it: tools and instructions first, then
    /// the conversation; each member as compact JSON.
    static func promptBytes(_ json: OrderedJSON, endpoint: ProviderEndpoint) -> [UInt8] {
        let members: [String] =
            switch endpoint {
            case .chatCompletions, .completions: ["tools", "functions", "response_format", "messages", "prompt"]
            case .responses: ["instructions", "tools", "input"]
            case .messages: ["tools", "system", "messages"]
            case .generateContent, .streamGenerateContent:
                ["systemInstruction", "system_instruction", "tools", "toolConfig", "contents"]
            case .chat: ["tools", "messages"]
            case .chatV1: ["preamble", "tools", "chat_history", "message"]
            case .embeddings, .embedContent, .embed, .models, .countTokens: []
            }
        var bytes: [UInt8] = []
        for name in members {
            guard let value = json[name] else { continue }
            if case .array(let items) = value {
                for item in items { bytes.append(contentsOf: item.compactBytes) }
            } else {
                bytes.append(contentsOf: value.compactBytes)
            }
        }
        return bytes
    }
}
