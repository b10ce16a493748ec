/// The token counts of one call, normalised across providers.
///
/// `inputTokens` counts every prompt token however the provider splits them: the cache reads and
/// cache writes are parts of it, never added on top. `outputTokens` includes `reasoningTokens`.
public struct Usage: Sendable, Hashable, Codable {
    /// All prompt tokens: uncached, cache reads and cache writes.
    public var inputTokens: Int
    /// The part of `inputTokens` read from the provider's prompt cache.
    public var cacheReadTokens: Int
    /// The part of `inputTokens` written to a 5-minute prompt cache.
    public var cacheWriteTokens: Int
    /// The part of `inputTokens` written to a 1-hour prompt cache.
    public var cacheWrite1hTokens: Int
    /// All billed output tokens, reasoning included.
    public var outputTokens: Int
    /// The reasoning (thinking) part of `outputTokens`.
    public var reasoningTokens: Int

    /// Creates a usage record; parts default to zero.
    public init(
        inputTokens: Int = 0, cacheReadTokens: Int = 0, cacheWriteTokens: Int = 0, cacheWrite1hTokens: Int = 0,
        outputTokens: Int = 0, reasoningTokens: Int = 0
    ) {
        self.inputTokens = inputTokens
        self.cacheReadTokens = cacheReadTokens
        self.cacheWriteTokens = cacheWriteTokens
        self.cacheWrite1hTokens = cacheWrite1hTokens
        self.outputTokens = outputTokens
        self.reasoningTokens = reasoningTokens
    }

    /// Prompt tokens billed at the plain input price: those neither read from nor written to a cache.
    public var uncachedInputTokens: Int { inputTokens - cacheReadTokens - cacheWriteTokens - cacheWrite1hTokens }

    /// Checks that no count is negative and that the parts fit inside their totals.
    /// - Parameter prefix: the path of this record in the caller's input, for error messages.
    public func validate(prefix: String = "") throws(MeterrError) {
        let counts: [(String, Int)] = [
            ("input_tokens", inputTokens), ("cache_read_tokens", cacheReadTokens),
            ("cache_write_tokens", cacheWriteTokens), ("cache_write_1h_tokens", cacheWrite1hTokens),
            ("output_tokens", outputTokens), ("reasoning_tokens", reasoningTokens),
        ]
        for (name, value) in counts where value < 0 {
            throw .invalid(prefix + name, "must not be negative (got \(value))")
        }
        if uncachedInputTokens < 0 {
            throw .invalid(
                prefix + "input_tokens",
                "counts all prompt tokens and must be at least cache_read_tokens + cache_write_tokens"
                    + " + cache_write_1h_tokens (got \(inputTokens))")
        }
        if reasoningTokens > outputTokens {
            throw .invalid(
                prefix + "output_tokens",
                "includes reasoning tokens and must be at least reasoning_tokens (got \(outputTokens))")
        }
    }

    /// Adds another call's counts to these.
    public static func += (lhs: inout Usage, rhs: Usage) {
        lhs.inputTokens += rhs.inputTokens
        lhs.cacheReadTokens += rhs.cacheReadTokens
        lhs.cacheWriteTokens += rhs.cacheWriteTokens
        lhs.cacheWrite1hTokens += rhs.cacheWrite1hTokens
        lhs.outputTokens += rhs.outputTokens
        lhs.reasoningTokens += rhs.reasoningTokens
    }

    enum CodingKeys: String, CodingKey {
        case inputTokens = "input_tokens"
        case cacheReadTokens = "cache_read_tokens"
        case cacheWriteTokens = "cache_write_tokens"
        case cacheWrite1hTokens = "cache_write_1h_tokens"
        case outputTokens = "output_tokens"
        case reasoningTokens = "reasoning_tokens"
    }
}
