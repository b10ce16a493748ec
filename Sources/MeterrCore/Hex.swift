/// Lower-case hexadecimal text of bytes (digests, keys' hashes, cache keys).
public enum Hex {
    /// `bytes` as lower-case hex. Inlinable, so each caller's sequence (a digest, an array) is
    /// iterated directly rather than through a generic witness on every byte: API keys are hashed
    /// on every gateway call.
    @inlinable
    public static func string(_ bytes: some Sequence<UInt8>) -> String {
        var text: [UInt8] = []
        // A SHA-256 digest's 64 digits without growing.
        text.reserveCapacity(max(bytes.underestimatedCount * 2, 64))
        for byte in bytes {
            text.append(digit(byte >> 4))
            text.append(digit(byte & 15))
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// `bytes` as lower-case hex, written straight into the string's storage (a digest's
    /// `withUnsafeBytes`).
    public static func string(raw bytes: UnsafeRawBufferPointer) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { text in
            for (index, byte) in bytes.enumerated() {
                text[2 * index] = digit(byte >> 4)
                text[2 * index + 1] = digit(byte & 15)
            }
            return bytes.count * 2
        }
    }

    @inlinable
    static func digit(_ value: UInt8) -> UInt8 { value < 10 ? 48 + value : 87 + value }
}
