/// A model name as a filter: it matches the model itself and its dated snapshots, so
/// `claude-sonnet-4-5` finds calls the provider reported as `claude-sonnet-4-5-20250929`.
public enum ModelFamily {
    /// The snapshot suffixes a family name matches, as SQLite GLOB patterns after `name-`:
    /// `2025-09-29`, `20250929`, Mistral's `2508` and Gemini's `001`.
    public static let snapshotPatterns = [
        "[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]", "20[0-9][0-9][0-1][0-9][0-3][0-9]", "[0-9][0-9][0-1][0-9]",
        "[0-9][0-9][0-9]",
    ]

    /// The snapshots of `name` as a POSIX regular expression (PostgreSQL's `~`): the same suffixes as
    /// `snapshotPatterns`.
    public static func snapshotRegex(_ name: String) -> String {
        let escaped = name.map { "\\^$.|?*+()[]{}".contains($0) ? "\\\($0)" : String($0) }.joined()
        return "^" + escaped
            + "-([0-9]{4}-[0-1][0-9]-[0-3][0-9]|20[0-9]{2}[0-1][0-9][0-3][0-9]|[0-9]{2}[0-1][0-9]|[0-9]{3})$"
    }

    /// Whether `model` is `name` or one of its dated snapshots.
    public static func matches(_ name: String, model: String) -> Bool {
        guard model != name else { return true }
        guard model.hasPrefix(name + "-") else { return false }
        let suffix = Array(model.dropFirst(name.count + 1).utf8)
        func digits(_ range: Range<Int>) -> Bool { range.allSatisfy { suffix[$0] >= 48 && suffix[$0] <= 57 } }
        switch suffix.count {
        case 10: return digits(0..<4) && suffix[4] == 45 && digits(5..<7) && suffix[7] == 45 && digits(8..<10)
        case 8: return digits(0..<8) && suffix[0] == 50 && suffix[1] == 48
        case 4, 3: return digits(0..<suffix.count)
        default: return false
        }
    }

    /// `name` with SQLite GLOB's special characters taken literally.
    public static func globEscaped(_ name: String) -> String {
        var out = ""
        for character in name {
            switch character {
            case "*", "?", "[": out += "[\(character)]"
            default: out.append(character)
            }
        }
        return out
    }
}
