import MeterrCore

/// What meterr learned about one call from its response: the provider's usage, the model that
/// served it, and whether the response ended cleanly.
public struct UsageReading: Sendable, Hashable {
    /// The provider's own token counts, normalised; `nil` when none arrived.
    public var usage: Usage?
    /// The model the provider reports (a dated snapshot, say).
    public var model: String?
    /// The provider's id of the response.
    public var responseId: String?
    /// An error the provider reported inside a successful response (a stream's `error` event).
    public var error: String?
    /// Whether the stream reached its end marker (always true for whole bodies that parsed).
    public var finished: Bool
    /// Text the model produced, kept (up to a bound) to estimate output when no usage arrives.
    public var outputText: String

    /// Creates a reading.
    public init(
        usage: Usage? = nil, model: String? = nil, responseId: String? = nil, error: String? = nil,
        finished: Bool = false, outputText: String = ""
    ) {
        self.usage = usage
        self.model = model
        self.responseId = responseId
        self.error = error
        self.finished = finished
        self.outputText = outputText
    }

    static let maxOutputText = 4 << 20

    mutating func appendText(_ text: String?) {
        guard let text, !text.isEmpty, outputText.utf8.count < Self.maxOutputText else { return }
        outputText += text
    }

    mutating func noteModel(_ value: JSONValue?) {
        if let name = value?.string, !name.isEmpty { model = name }
    }
}

extension UsageReading {
    /// The counts to bill for a call that got this response, and where they came from: the provider's
    /// own when the response ended cleanly (or was an error), else, for a success whose count never
    /// arrived, an estimate from the request and the text that streamed.
    public func billedUsage(
        status: Int, provider: Provider, model: String, requestBody: [UInt8], estimator: any TokenEstimator
    ) -> (usage: Usage, source: UsageSource) {
        if let usage, finished || status >= 400 { return (usage, .reported) }
        guard (200..<300).contains(status) else { return (usage ?? Usage(), .reported) }
        let input =
            usage?.inputTokens ?? estimator.inputTokens(provider: provider, model: model, requestBody: requestBody)
        let streamed = estimator.outputTokens(provider: provider, model: model, text: outputText)
        var estimate = usage ?? Usage(inputTokens: input)
        estimate.inputTokens = max(estimate.inputTokens, input)
        estimate.outputTokens = max(estimate.outputTokens, streamed)
        return (estimate, .estimated)
    }
}

/// Reads usage out of a streamed response, event by event.
public protocol StreamUsageTap: Sendable {
    /// Takes one event of the stream.
    mutating func consume(_ event: StreamEvent)
    /// What the events so far say.
    var reading: UsageReading { get }
}

/// The API surfaces whose responses meterr reads.
public enum ProviderEndpoint: String, Sendable, Hashable, CaseIterable {
    case chatCompletions = "chat.completions"
    case completions
    case responses
    case embeddings
    case models
    case messages
    case countTokens = "count_tokens"
    case generateContent
    case streamGenerateContent
    case embedContent
    case chat
    case chatV1 = "chat.v1"
    case embed
}

/// The usage readers of every provider, chosen by provider and endpoint.
public enum UsageReader {
    /// The usage in a whole (non-streamed) response body.
    public static func read(provider: Provider, endpoint: ProviderEndpoint, body: [UInt8]) -> UsageReading {
        Providers.profile(provider).readUsage(endpoint: endpoint, body: body)
    }

    /// A tap for a streamed response.
    public static func tap(provider: Provider, endpoint: ProviderEndpoint) -> any StreamUsageTap {
        Providers.profile(provider).usageTap(endpoint: endpoint)
    }
}
