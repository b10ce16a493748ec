/// An AI API provider that meterr meters.
public enum Provider: String, Sendable, Hashable, CaseIterable, Codable {
    case openai
    case azure
    case anthropic
    case gemini
    case mistral
    case cohere

    /// Decodes a provider name, naming the accepted ones when it is unknown.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let name = try container.decode(String.self)
        guard let provider = Provider(rawValue: name) else {
            let known = Provider.allCases.map(\.rawValue).joined(separator: ", ")
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "unknown provider \"\(name)\" (expected one of \(known))")
        }
        self = provider
    }
}
