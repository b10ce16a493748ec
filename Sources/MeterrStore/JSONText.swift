import Foundation
import MeterrCore

/// Small JSON helpers for the string maps stored in text columns.
enum JSONText {
    /// A JSON object with keys in sorted order, so equal maps store equal text.
    static func object(_ map: [String: String]) -> String {
        var text = "{"
        for (index, key) in map.keys.sorted().enumerated() {
            if index > 0 { text += "," }
            text += quoted(key) + ":" + quoted(map[key]!)
        }
        return text + "}"
    }

    static func quoted(_ string: String) -> String {
        var text = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        return text + "\""
    }

    /// The SQLite JSON path of one object key, quoted so any key is taken literally.
    static func path(forKey key: String) -> String { "$." + quoted(key) }

    static func decodeObject(_ text: String) throws -> [String: String] {
        do {
            return try JSONDecoder().decode([String: String].self, from: Data(text.utf8))
        } catch {
            throw MeterrError(.storage, "stored tags are not a JSON object of strings", underlying: error)
        }
    }
}
