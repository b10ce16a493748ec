import Foundation
import MeterrCore

/// Small JSON helpers for the string maps stored in text columns.
package enum JSONText {
    /// A JSON object with keys in sorted order, so equal maps store equal text.
    package static func object(_ map: [String: String]) -> String {
        var json = JSONWriter(capacity: 64)
        json.stringMap(nil, map)
        return String(decoding: json.bytes, as: UTF8.self)
    }

    static func quoted(_ string: String) -> String {
        var bytes: [UInt8] = []
        JSONWriter.appendQuoted(string, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The SQLite JSON path of one object key, quoted so any key is taken literally.
    static func path(forKey key: String) -> String { "$." + quoted(key) }

    package static func decodeObject(_ text: String) throws -> [String: String] {
        do {
            return try JSONDecoder().decode([String: String].self, from: Data(text.utf8))
        } catch {
            throw MeterrError(.storage, "stored tags are not a JSON object of strings", underlying: error)
        }
    }
}
