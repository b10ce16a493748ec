#if canImport(Glibc)
    import Glibc
#endif

/// Random identifiers for events, requests and keys.
public enum Identifier {
    static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// A random base-62 string of `length` characters from the system's secure generator.
    public static func random(length: Int) -> String { identifier(prefix: nil, time: nil, random: length) }

    /// Fills `characters` with random base-62 characters. 62 * 4 = 248: rejecting bytes of 248 and
    /// above keeps every character equally likely. One byte in 32 is rejected, so a quarter more
    /// bytes than characters, drawn in one call to the system's generator, nearly always suffice.
    static func fillRandom(_ characters: UnsafeMutableBufferPointer<UInt8>) {
        var filled = 0
        while filled < characters.count {
            let needed = characters.count - filled
            withSecureBytes(needed + needed / 4 + 4) { bytes in
                for byte in bytes where byte < 248 && filled < characters.count {
                    characters[filled] = alphabet[Int(byte % 62)]
                    filled += 1
                }
            }
        }
    }

    /// `count` bytes from the system's secure generator, handed to `body`: with `getentropy` (one
    /// system call per 256 bytes) where the platform has it; the standard library's generator makes
    /// one per eight bytes.
    static func withSecureBytes(_ count: Int, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: count) { bytes in
            #if canImport(Glibc)
                var start = 0
                while start < count {
                    let size = min(256, count - start)
                    guard getentropy(bytes.baseAddress! + start, size) == 0 else { break }
                    start += size
                }
                if start == count { return body(UnsafeBufferPointer(bytes)) }
            #endif
            var generator = SystemRandomNumberGenerator()
            for index in bytes.indices { bytes[index] = generator.next() }
            body(UnsafeBufferPointer(bytes))
        }
    }

    /// `prefix_` when given, the time as eight base-62 digits when given, then `random` random
    /// characters, written straight into the string's storage.
    private static func identifier(prefix: String?, time: Int64?, random: Int) -> String {
        let head = prefix.map { $0.utf8.count + 1 } ?? 0
        var prefix = prefix ?? ""
        let total = head + (time == nil ? 0 : 8) + random
        return prefix.withUTF8 { prefixBytes in
            String(unsafeUninitializedCapacity: total) { out in
                var index = 0
                if head > 0 {
                    for byte in prefixBytes {
                        out[index] = byte
                        index += 1
                    }
                    out[index] = UInt8(ascii: "_")
                    index += 1
                }
                if let time {
                    var rest = UInt64(max(0, time))
                    for offset in stride(from: 7, through: 0, by: -1) {
                        out[index + offset] = alphabet[Int(rest % 62)]
                        rest /= 62
                    }
                    index += 8
                }
                fillRandom(UnsafeMutableBufferPointer(rebasing: out[index..<total]))
                return total
            }
        }
    }

    /// A new id with a readable prefix, e.g. `evt_3kP…`.
    public static func make(_ prefix: String, length: Int = 22) -> String {
        identifier(prefix: prefix, time: nil, random: length)
    }

    /// A new id that sorts by creation time: `prefix_` then the Unix time in milliseconds as eight
    /// base-62 digits (in order until the year 8900), then `length - 8` random characters.
    ///
    /// Request ids are the gateway's event ids: ordered ones land at the end of the ledger's
    /// `(org, id)` index instead of on a random page of it, so a commit touches a few pages however
    /// large the ledger grows.
    public static func ordered(_ prefix: String, length: Int = 20, now: Timestamp = .now()) -> String {
        identifier(prefix: prefix, time: now.milliseconds, random: max(0, length - 8))
    }
}
