/// Lower-case hexadecimal text of bytes (digests, keys' hashes, cache keys).
public enum Hex {
    /// `bytes` as lower-case hex.
    public static func string(_ bytes: some Sequence<UInt8>) -> String {
        Array(bytes).withUnsafeBytes(string(raw:))
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

    static func digit(_ value: UInt8) -> UInt8 { value < 10 ? 48 + value : 87 + value }
}
