/// An AI API provider that meterr meters.
public enum Provider: String, Sendable, Hashable, CaseIterable, Codable {
    case openai
    case azure
    case anthropic
    case gemini
    case mistral
    case cohere
}
