/// Random identifiers for events, requests and keys.
public enum Identifier {
    static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// A random base-62 string of `length` characters from the system's secure generator.
    public static func random(length: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8]()
        bytes.reserveCapacity(length)
        // 62 * 4 = 248: rejecting bytes of 248 and above keeps every character equally likely.
        while bytes.count < length {
            var word = generator.next()
            for _ in 0..<8 where bytes.count < length {
                let byte = UInt8(truncatingIfNeeded: word)
                word >>= 8
                if byte < 248 { bytes.append(alphabet[Int(byte % 62)]) }
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A new id with a readable prefix, e.g. `evt_3kP…`.
    public static func make(_ prefix: String, length: Int = 22) -> String { prefix + "_" + random(length: length) }

    /// A new id that sorts by creation time: `prefix_` then the Unix time in milliseconds as eight
    /// base-62 digits (in order until the year 8900), then `length - 8` random characters.
    ///
    /// Request ids are the gateway's event ids: ordered ones land at the end of the ledger's
    /// `(org, id)` index instead of on a random page of it, so a commit touches a few pages however
    /// large the ledger grows.
    public static func ordered(_ prefix: String, length: Int = 20, now: Timestamp = .now()) -> String {
        var time = UInt64(max(0, now.milliseconds))
        var digits = [UInt8](repeating: alphabet[0], count: 8)
        for index in stride(from: 7, through: 0, by: -1) {
            digits[index] = alphabet[Int(time % 62)]
            time /= 62
        }
        return prefix + "_" + String(decoding: digits, as: UTF8.self) + random(length: max(0, length - 8))
    }
}
