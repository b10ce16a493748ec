/// The answer to `GET /api/prices/unpriced`: calls since the start whose model had no price.
public struct UnpricedCalls: Sendable, Hashable, Codable {
    /// How many.
    public var unpricedCalls: Int
    /// How many per model.
    public var models: [String: Int]

    /// Creates an answer.
    public init(unpricedCalls: Int, models: [String: Int]) {
        self.unpricedCalls = unpricedCalls
        self.models = models
    }

    enum CodingKeys: String, CodingKey {
        case unpricedCalls = "unpriced_calls"
        case models
    }
}
