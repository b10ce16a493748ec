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
}
