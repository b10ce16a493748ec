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
    ///
    /// `pooled`: the bytes come from the calling thread's store of the system's secure bytes
    /// (`PooledSecureBytes`), for ids that must not collide but guard nothing; secrets (tokens, keys)
    /// draw their own.
    static func fillRandom(_ characters: UnsafeMutableBufferPointer<UInt8>, pooled: Bool = false) {
        let draw = pooled ? PooledSecureBytes.withBytes : withSecureBytes
        var filled = 0
        while filled < characters.count {
            let needed = characters.count - filled
            draw(needed + needed / 4 + 4) { bytes in
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
                // (Ordered ids are the gateway's request and event ids: one per call.)
                fillRandom(UnsafeMutableBufferPointer(rebasing: out[index..<total]), pooled: time != nil)
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

/// Secure random bytes for ids, drawn from the system 4 KiB at a time into a store of each thread's own
/// and handed out once each, in order. A gateway call's request id made a system call of its own; now
/// a refill's 16 calls (`getentropy` gives 256 bytes a call) serve about 215 ids of 19 bytes. The bytes
/// are the system generator's, unchanged; they wait in the process's memory until used, as a
/// user-space generator's state would.
enum PooledSecureBytes {
    #if canImport(Glibc)
        /// One thread's store.
        final class Store {
            static let size = 4096
            let bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: size)
            /// The first byte not handed out yet.
            var next = size

            deinit { bytes.deallocate() }
        }

        /// Each thread's store, released when its thread ends.
        private static let key: pthread_key_t = {
            var key = pthread_key_t()
            pthread_key_create(&key) { pointer in
                if let pointer { Unmanaged<Store>.fromOpaque(pointer).release() }
            }
            return key
        }()

        private static var store: Store {
            if let pointer = pthread_getspecific(key) {
                return Unmanaged<Store>.fromOpaque(pointer).takeUnretainedValue()
            }
            let store = Store()
            pthread_setspecific(key, Unmanaged.passRetained(store).toOpaque())
            return store
        }
    #endif

    /// `count` bytes not handed out before, handed to `body`.
    static func withBytes(_ count: Int, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        #if canImport(Glibc)
            let store = store
            guard count <= Store.size else { return Identifier.withSecureBytes(count, body) }
            if Store.size - store.next < count {
                // (`getentropy` gives at most 256 bytes a call.)
                for start in stride(from: 0, to: Store.size, by: 256) {
                    guard getentropy(store.bytes + start, 256) == 0 else {
                        return Identifier.withSecureBytes(count, body)
                    }
                }
                store.next = 0
            }
            let start = store.next
            store.next += count
            body(UnsafeBufferPointer(start: store.bytes + start, count: count))
        #else
            Identifier.withSecureBytes(count, body)
        #endif
    }
}
