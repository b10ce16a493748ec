#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// Searches in bytes for the gateway's per-call and per-event tests (is an answer a stream, where an
// event's data starts, where a cached answer's id is). The standard library's `firstRange(of:)` and
// `String.contains` are generic walks (or Foundation's NSString search) several times slower here.

extension ArraySlice<UInt8> {
    /// Where `needle` first occurs, in the slice's own indices; `nil` when it does not (or is empty).
    public func range(ofBytes needle: [UInt8]) -> Range<Int>? {
        withUnsafeBytes { haystack in
            needle.withUnsafeBytes { needle in
                guard let start = haystack.baseAddress, let pattern = needle.baseAddress, needle.count > 0,
                    haystack.count >= needle.count
                else { return nil }
                // Each place the first byte occurs (memchr), then the rest compared (memcmp).
                let last = haystack.count - needle.count
                var from = 0
                while from <= last, let hit = memchr(start + from, Int32(needle[0]), last - from + 1) {
                    let at = start.distance(to: UnsafeRawPointer(hit))
                    if memcmp(start + at, pattern, needle.count) == 0 {
                        return startIndex + at..<startIndex + at + needle.count
                    }
                    from = at + 1
                }
                return nil
            }
        }
    }
}

extension Array<UInt8> {
    /// Where `needle` first occurs; `nil` when it does not (or is empty).
    public func range(ofBytes needle: [UInt8]) -> Range<Int>? { self[...].range(ofBytes: needle) }
}

extension String {
    /// Whether the text contains `needle`, ASCII letters compared without case (for header values
    /// such as a content type).
    public func containsIgnoringASCIICase(_ needle: StaticString) -> Bool {
        var text = self
        return text.withUTF8 { text in
            needle.withUTF8Buffer { needle in
                guard needle.count > 0 else { return true }
                guard text.count >= needle.count else { return false }
                search: for start in 0...(text.count - needle.count) {
                    for offset in 0..<needle.count where Self.lower(text[start + offset]) != Self.lower(needle[offset])
                    {
                        continue search
                    }
                    return true
                }
                return false
            }
        }
    }

    /// Whether two header names are equal, ASCII letters compared without case.
    public func equalsIgnoringASCIICase(_ other: String) -> Bool {
        guard utf8.count == other.utf8.count else { return false }
        var (mine, theirs) = (self, other)
        return mine.withUTF8 { mine in
            theirs.withUTF8 { theirs in
                for index in mine.indices where mine[index] != theirs[index] {
                    guard Self.lower(mine[index]) == Self.lower(theirs[index]) else { return false }
                }
                return true
            }
        }
    }

    /// Whether the text starts with `prefix`, ASCII letters compared without case.
    public func hasPrefixIgnoringASCIICase(_ prefix: String) -> Bool {
        guard utf8.count >= prefix.utf8.count else { return false }
        return zip(utf8, prefix.utf8).allSatisfy { Self.lower($0) == Self.lower($1) }
    }

    /// The text with its ASCII capitals made small; the text itself (no copy) when it has none, as
    /// header names from most SDKs do not.
    public var asciiLowercased: String {
        guard utf8.contains(where: { Self.lower($0) != $0 }) else { return self }
        return String(decoding: utf8.map(Self.lower), as: UTF8.self)
    }

    private static func lower(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }
}

extension UnsafeBufferPointer<UInt8> {
    /// Where the run of bytes that a JSON string holds as they are ends, from `start`: the index of
    /// the first quote, backslash or control character (below 0x20), or `count` when none follows
    /// (`start` itself when it is past the end). Eight bytes are tested at once, so walking a long
    /// prompt costs a fraction of a byte-by-byte loop.
    public func endOfPlainJSONText(from start: Int) -> Int {
        guard let base = baseAddress else { return start }
        var index = start
        while index + 8 <= count {
            let word = UInt64(littleEndian: UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
            let ones: UInt64 = 0x0101_0101_0101_0101
            let highs: UInt64 = 0x8080_8080_8080_8080
            // A byte's high bit is set where it is zero (x - 1 borrows, ~x keeps the high bit) or, for
            // the control characters, below 0x20. A borrow runs on only into higher bytes, so the lowest
            // flag is always a true one: little-endian, the first such byte in the text.
            let quote = word ^ (ones &* 0x22)
            let backslash = word ^ (ones &* 0x5C)
            let flags =
                ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | ((word &- ones &* 0x20) & ~word)
            if flags & highs != 0 { return index + (flags & highs).trailingZeroBitCount / 8 }
            index += 8
        }
        while index < count {
            let byte = self[index]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 { return index }
            index += 1
        }
        return index
    }
}
