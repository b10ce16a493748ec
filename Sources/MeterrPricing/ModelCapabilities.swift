/// What a model accepts beyond plain text, as far as the catalog knows.
///
/// Each capability is `true` (supported), `false` (not supported) or `nil` (unknown). Unknown is not a guess: a
/// router treats it as unsupported when a request needs the capability, so a value is only ever set from a source.
public struct ModelCapabilities: Sendable, Hashable {
    /// Tool (function) calling.
    public var tools: Bool?
    /// Image input.
    public var vision: Bool?
    /// Structured output constrained to a JSON schema.
    public var jsonSchema: Bool?

    /// Creates a set of capabilities; everything is unknown unless given.
    public init(tools: Bool? = nil, vision: Bool? = nil, jsonSchema: Bool? = nil) {
        self.tools = tools
        self.vision = vision
        self.jsonSchema = jsonSchema
    }

    /// Whether nothing is known about any capability.
    public var isUnknown: Bool { tools == nil && vision == nil && jsonSchema == nil }

    /// These capabilities with `newer` laid over them: a value `newer` knows wins, one it does not know keeps this
    /// one's.
    public func merging(_ newer: ModelCapabilities) -> ModelCapabilities {
        ModelCapabilities(
            tools: newer.tools ?? tools, vision: newer.vision ?? vision, jsonSchema: newer.jsonSchema ?? jsonSchema)
    }
}
