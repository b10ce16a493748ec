/// The answer to `POST /api/tokens/count`.
public struct TokenCountResult: Sendable, Hashable, Codable {
    /// The tokens counted.
    public var tokens: Int
    /// Whether the count is the provider's exact one (its tokenizer) or an estimate.
    public var exact: Bool
    /// The encoding used (`o200k_base`, …); `nil` for an estimate.
    public var encoding: String?

    /// Creates an answer.
    public init(tokens: Int, exact: Bool, encoding: String?) {
        self.tokens = tokens
        self.exact = exact
        self.encoding = encoding
    }

    /// Encodes every key (`encoding` is `null` for an estimate).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(tokens, forKey: .tokens)
        try c.encode(exact, forKey: .exact)
        try c.encode(encoding, forKey: .encoding)
    }
}
