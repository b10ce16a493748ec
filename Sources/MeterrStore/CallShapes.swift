import MeterrCore

/// What the savings report needs of one call's request, without its text: a hash of the whole request
/// (identical calls), hashes of its prompt's prefixes at the providers' caching granularity (repeated
/// long prefixes), whether it offered tools, and the output limit it asked for.
public struct CallShape: Sendable, Hashable {
    public var org: String
    /// The call's event id.
    public var eventId: String
    public var ts: Timestamp
    /// SHA-256 (hex) of the canonical request: equal for calls the response cache would answer alike.
    public var requestHash: String
    /// The prompt's length in tokens (o200k), as far as it was counted.
    public var promptTokens: Int
    /// Hashes of the prompt's first N tokens, for N at each boundary the prompt reaches.
    public var prefixes: [Prefix]
    public var tools: Bool
    public var maxTokens: Int?

    /// The hash of a prompt's first `tokens` tokens.
    public struct Prefix: Sendable, Hashable {
        public var tokens: Int
        public var hash: String

        public init(tokens: Int, hash: String) {
            self.tokens = tokens
            self.hash = hash
        }
    }

    public init(
        org: String, eventId: String, ts: Timestamp, requestHash: String, promptTokens: Int, prefixes: [Prefix],
        tools: Bool, maxTokens: Int?
    ) {
        self.org = org
        self.eventId = eventId
        self.ts = ts
        self.requestHash = requestHash
        self.promptTokens = promptTokens
        self.prefixes = prefixes
        self.tools = tools
        self.maxTokens = maxTokens
    }

    /// The prefixes as stored: `1024:ab12…,2048:cd34…`.
    public var prefixText: String { prefixes.map { "\($0.tokens):\($0.hash)" }.joined(separator: ",") }

    /// Reads `prefixText` back.
    public static func prefixes(_ text: String) -> [Prefix] {
        text.split(separator: ",").compactMap { item in
            let parts = item.split(separator: ":")
            guard parts.count == 2, let tokens = Int(parts[0]) else { return nil }
            return Prefix(tokens: tokens, hash: String(parts[1]))
        }
    }
}

/// A call's shape with its event: what the report reads.
public struct ShapedCall: Sendable, Hashable {
    public var shape: CallShape?
    public var event: UsageEvent

    public init(shape: CallShape?, event: UsageEvent) {
        self.shape = shape
        self.event = event
    }
}

/// Where call shapes are read, beside the ledger's events (they are written with them:
/// `UsageLedger.append(_:shapes:)`).
public protocol CallShapeStore: Sendable {
    /// The organisation's events in `[from, to)` (optionally one team's), each with its shape when one
    /// was recorded; at most `limit`.
    func shapedCalls(org: String, from: Timestamp, to: Timestamp, team: String?, limit: Int) async throws
        -> [ShapedCall]
}
