/// `meterr/auto`'s reading of how demanding a call is, from its text alone (no model call, no I/O):
/// the prompt's size, code in it, tools, and words that ask for reasoning or several steps.
///
/// Each signal adds to a score between 0 and 1; the tier boundaries are 0.15, 0.35 and 0.60 (the
/// complexity router LiteLLM documents uses the same boundaries and similar weights). Two or more
/// reasoning cues make it `reasoning` whatever the score.
public enum Complexity {
    public enum Tier: String, Sendable, CaseIterable {
        case simple, medium, complex, reasoning
    }

    /// What the score is made of, for `POST /api/route/explain`.
    public struct Reading: Sendable, Hashable {
        public var tier: Tier
        public var score: Double
        public var signals: [String]
    }

    static let reasoningCues = [
        "step by step", "prove", "derive", "reason through", "think carefully", "analyze", "analyse",
        "trade-off", "tradeoff", "why does", "explain why", "compare and contrast", "evaluate",
    ]
    static let multiStepCues = ["first,", "then ", "finally", "1.", "2.", "steps"]
    static let codeCues = ["```", "func ", "def ", "class ", "import ", "select ", "#include", "=>", "{\n", "();"]
    static let simpleCues = ["hi", "hello", "thanks", "thank you", "translate", "summarize in one", "yes or no"]

    /// Reads a call: the text of its messages (the last user message weighs most), its prompt tokens and
    /// whether it offers tools.
    public static func read(lastUserText: String, promptTokens: Int, hasTools: Bool) -> Reading {
        let text = lastUserText.lowercased()
        var score = 0.0
        var signals: [String] = []
        // Size: nothing under 15 tokens, all of its weight from 400.
        let size = min(1, max(0, Double(promptTokens - 15) / 385))
        if size > 0 {
            score += 0.10 * size
            signals.append("prompt of \(promptTokens) tokens")
        }
        if codeCues.contains(where: text.contains) {
            score += 0.30
            signals.append("code")
        }
        let reasoning = reasoningCues.filter(text.contains)
        if !reasoning.isEmpty {
            score += 0.25 * min(1, Double(reasoning.count) / 2)
            signals.append("reasoning cues: " + reasoning.joined(separator: ", "))
        }
        if hasTools {
            score += 0.25
            signals.append("tools")
        }
        if multiStepCues.filter(text.contains).count >= 2 {
            score += 0.05
            signals.append("several steps")
        }
        if text.count(where: { $0 == "?" }) >= 2 {
            score += 0.05
            signals.append("several questions")
        }
        if promptTokens < 50, simpleCues.contains(where: text.hasPrefix) {
            score = max(0, score - 0.05)
            signals.append("a simple request")
        }
        let tier: Tier
        if reasoning.count >= 2 || score >= 0.60 {
            tier = .reasoning
        } else if score >= 0.35 {
            tier = .complex
        } else if score >= 0.15 {
            tier = .medium
        } else {
            tier = .simple
        }
        return Reading(tier: tier, score: (score * 1000).rounded() / 1000, signals: signals)
    }
}
