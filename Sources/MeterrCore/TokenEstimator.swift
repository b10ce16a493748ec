/// Estimates token counts where a provider's own count never arrived (a cut stream, a client that
/// left): the event is then marked `estimated`.
public protocol TokenEstimator: Sendable {
    /// The prompt tokens of a request body sent to `provider` for `model`.
    func inputTokens(provider: Provider, model: String?, requestBody: [UInt8]) -> Int
    /// The tokens of text a model produced.
    func outputTokens(provider: Provider, model: String?, text: String) -> Int
}

/// The plainest estimate: one token per four bytes of UTF-8, the usual average for English text
/// and code. The tokenizer gives exact counts where it knows the model.
public struct ByteLengthEstimator: TokenEstimator {
    /// Creates the estimator.
    public init() {}

    public func inputTokens(provider: Provider, model: String?, requestBody: [UInt8]) -> Int {
        (requestBody.count + 3) / 4
    }

    public func outputTokens(provider: Provider, model: String?, text: String) -> Int { (text.utf8.count + 3) / 4 }
}
