import Crypto
import MeterrCore

/// meterr's API keys: `mk_` and 43 base-62 characters (256 bits of entropy), stored only as SHA-256.
public enum APIKey {
    /// The prefix of every meterr key.
    public static let prefix = "mk_"

    /// A new random key.
    public static func generate() -> String { prefix + Identifier.random(length: 43) }

    /// The SHA-256 of a presented key in hex, the form in which keys are stored and looked up.
    public static func hash(_ key: String) -> String {
        var key = key
        var hasher = SHA256()
        key.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        return hasher.finalize().withUnsafeBytes(Hex.string(raw:))
    }

    /// Whether two byte strings are equal, in time that depends only on their length.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    /// The part of a key that may be shown: `mk_AbCd…`.
    public static func displayPrefix(_ key: String) -> String { String(key.prefix(prefix.count + 6)) }

    /// Whether text has the shape of a meterr key (checked before any lookup).
    public static func isWellFormed(_ key: String) -> Bool {
        key.hasPrefix(prefix) && key.utf8.count >= 20 && key.utf8.count <= 128
            && key.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}
