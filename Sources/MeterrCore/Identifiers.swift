#if canImport(Glibc)
    import Glibc
#endif

/// Random identifiers for events, requests and keys.
public enum Identifier {
    static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// A random base-62 string of `length` characters from the system's secure generator.
    public static func random(length: Int) -> String {
        var characters = [UInt8]()
        characters.reserveCapacity(length)
        // 62 * 4 = 248: rejecting bytes of 248 and above keeps every character equally likely. One byte
        // in 32 is rejected, so a quarter more bytes than characters, drawn in one call to the system's
        // generator, nearly always suffice.
        while characters.count < length {
            let needed = length - characters.count
            for byte in secureBytes(needed + needed / 4 + 4) where byte < 248 && characters.count < length {
                characters.append(alphabet[Int(byte % 62)])
            }
        }
        return String(decoding: characters, as: UTF8.self)
    }

    /// `count` bytes from the system's secure generator: with `getentropy` (one system call per 256
    /// bytes) where the platform has it; the standard library's generator makes one per eight bytes.
    static func secureBytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        #if canImport(Glibc)
            let drawn = bytes.withUnsafeMutableBytes { buffer in
                var start = 0
                while start < count {
                    let size = min(256, count - start)
                    guard getentropy(buffer.baseAddress! + start, size) == 0 else { return false }
                    start += size
                }
                return true
            }
            if drawn { return bytes }
        #endif
        var generator = SystemRandomNumberGenerator()
        for index in bytes.indices { bytes[index] = generator.next() }
        return bytes
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
