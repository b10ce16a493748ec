import Foundation

/// Errors from loading vocabularies and encoding with special tokens.
public enum TokenizerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A bundled vocabulary file is missing from the package resources.
    case missingResource(String)
    /// A vocabulary file does not hash to its published SHA-256.
    case vocabularyHashMismatch(name: String, expected: String, actual: String)
    /// A vocabulary file is not in `.tiktoken` format (`base64 rank` lines, ranks in order).
    case malformedVocabulary(name: String, line: Int)
    /// The text contains a special token that the caller did not allow (tiktoken raises here too).
    case disallowedSpecialToken(String)
    /// A token id that is neither a vocabulary rank nor a special token.
    case unknownTokenID(Int)
    /// An encoding or model name that meterr does not know.
    case unknownEncoding(String)

    /// One line, safe to print.
    public var description: String {
        switch self {
        case .missingResource(let name): "vocabulary resource \(name) is missing from the bundle"
        case .vocabularyHashMismatch(let name, let expected, let actual):
            "vocabulary \(name) has SHA-256 \(actual), expected \(expected)"
        case .malformedVocabulary(let name, let line): "vocabulary \(name) is malformed at line \(line)"
        case .disallowedSpecialToken(let token): "text contains the disallowed special token \(token)"
        case .unknownTokenID(let id): "unknown token id \(id)"
        case .unknownEncoding(let name): "unknown encoding or model \(name)"
        }
    }
}

@inline(__always)
func mum(_ a: UInt64, _ b: UInt64) -> UInt64 {
    let r = a.multipliedFullWidth(by: b)
    return r.high ^ r.low
}

/// A fast, seedless hash of a byte slice (wyhash-style multiply-fold over unaligned 8-byte loads).
@inline(__always)
func hashBytes(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
    let raw = UnsafeRawPointer(p)
    var a: UInt64
    var b: UInt64
    if n <= 16 {
        if n >= 8 {
            a = raw.loadUnaligned(as: UInt64.self)
            b = raw.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        } else if n >= 4 {
            a = UInt64(raw.loadUnaligned(as: UInt32.self))
            b = UInt64(raw.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self))
        } else if n > 0 {
            a = UInt64(p[0]) << 16 | UInt64(p[n >> 1]) << 8 | UInt64(p[n - 1])
            b = 0
        } else {
            a = 0
            b = 0
        }
    } else {
        var seed: UInt64 = 0x243F_6A88_85A3_08D3
        var i = 0
        while i + 16 < n {
            seed = mum(
                raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ 0xA076_1D64_78BD_642F,
                raw.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self) ^ seed
            )
            i += 16
        }
        a = raw.loadUnaligned(fromByteOffset: n - 16, as: UInt64.self) ^ seed
        b = raw.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
    }
    return mum(a ^ 0xA076_1D64_78BD_642F, b ^ 0xE703_7ED1_A0B4_28DB ^ UInt64(truncatingIfNeeded: n))
}

/// Token byte strings packed in one buffer, indexed by rank, with an open-addressing table from bytes to rank.
///
/// Keys are raw bytes, never `String`: Swift string equality is canonical equivalence, and tokens are often not
/// valid UTF-8. Each 16-byte slot holds a token of up to 8 bytes inline (compared as one integer, no second
/// memory access), or the full hash of a longer token (then compared with `memcmp`).
final class Vocabulary: @unchecked Sendable {
    // @unchecked Sendable: every buffer is filled in init and never written again.
    /// Missing rank marker.
    static let none: UInt32 = .max

    let count: Int
    let bytes: UnsafeMutablePointer<UInt8>
    let offsets: UnsafeMutablePointer<UInt32>
    /// Slot `2i`: inline bytes (length <= 8) or the 64-bit hash; slot `2i + 1`: `length << 32 | rank`, 0 = empty.
    let table: UnsafeMutablePointer<UInt64>
    let mask: Int
    /// Ranks of all two-byte tokens, indexed by `b0 | b1 << 8` (256 KB, cache-resident): the first round of every
    /// merge looks up only byte pairs.
    let pairRanks: UnsafeMutablePointer<UInt32>
    /// Ranks of the 256 single-byte tokens.
    let byteRanks: UnsafeMutablePointer<UInt32>
    /// A 256 KB Bloom filter (two bits per token) that answers most misses from cache: merges of rare text probe
    /// many byte spans that are not tokens.
    let bloom: UnsafeMutablePointer<UInt64>
    static let bloomBits = 1 << 21
    private let packedBytes: Int

    /// Parses `.tiktoken` content (`base64(token) rank\n`, ranks 0, 1, 2, … in order), keeping the first `limit`.
    init(tiktoken data: UnsafeRawBufferPointer, name: String, limit: Int = .max) throws {
        let src = data.bindMemory(to: UInt8.self)
        var lines = 0
        for b in src where b == 0x0A { lines += 1 }
        let n = min(lines, limit)
        count = n
        // Decoded bytes are at most 3/4 of the base64 text.
        let capacity = max(16, data.count * 3 / 4)
        let decoded = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { decoded.deallocate() }
        let offs = UnsafeMutablePointer<UInt32>.allocate(capacity: n + 1)
        offsets = offs
        var tableSize = 1024
        while tableSize < n * 5 / 2 { tableSize <<= 1 }
        mask = tableSize - 1
        table = .allocate(capacity: 2 * tableSize)
        table.initialize(repeating: 0, count: 2 * tableSize)
        pairRanks = .allocate(capacity: 65536)
        pairRanks.initialize(repeating: Vocabulary.none, count: 65536)
        byteRanks = .allocate(capacity: 256)
        byteRanks.initialize(repeating: Vocabulary.none, count: 256)
        bloom = .allocate(capacity: Vocabulary.bloomBits / 64)
        bloom.initialize(repeating: 0, count: Vocabulary.bloomBits / 64)

        var decode = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            decode[Int(c)] = UInt8(i)
        }
        var out = 0
        var i = 0
        var rank = 0
        let end = src.count
        try decode.withUnsafeBufferPointer { dec in
            while i < end && rank < n {
                offs[rank] = UInt32(out)
                // base64 up to the space; '=' padding ends it.
                var acc: UInt32 = 0
                var bits = 0
                while i < end && src[i] != 0x20 {
                    let c = src[i]
                    i += 1
                    if c == UInt8(ascii: "=") { continue }
                    let v = dec[Int(c)]
                    if v == 0xFF { throw TokenizerError.malformedVocabulary(name: name, line: rank + 1) }
                    acc = acc << 6 | UInt32(v)
                    bits += 6
                    if bits >= 8 {
                        bits -= 8
                        guard out < capacity else {
                            throw TokenizerError.malformedVocabulary(name: name, line: rank + 1)
                        }
                        decoded[out] = UInt8(truncatingIfNeeded: acc >> UInt32(bits))
                        out += 1
                    }
                }
                i += 1
                var r = 0
                var digits = 0
                while i < end && src[i] != 0x0A {
                    let d = Int(src[i]) - 48
                    if d < 0 || d > 9 { throw TokenizerError.malformedVocabulary(name: name, line: rank + 1) }
                    r = r * 10 + d
                    digits += 1
                    i += 1
                }
                i += 1
                if digits == 0 || r != rank { throw TokenizerError.malformedVocabulary(name: name, line: rank + 1) }
                rank += 1
            }
        }
        if rank < n { throw TokenizerError.malformedVocabulary(name: name, line: rank + 1) }
        offsets[n] = UInt32(out)
        packedBytes = max(out, 1)
        bytes = .allocate(capacity: packedBytes)
        bytes.initialize(from: decoded, count: out)
        for r in 0..<n {
            let start = Int(offsets[r])
            let len = Int(offsets[r + 1]) - start
            guard len > 0 && len < 256 else { throw TokenizerError.malformedVocabulary(name: name, line: r + 1) }
            let (key, h) = Vocabulary.keyAndHash(bytes + start, len)
            var slot = Int(truncatingIfNeeded: h >> 40) & mask
            while table[2 * slot + 1] != 0 { slot = (slot + 1) & mask }
            table[2 * slot] = key
            table[2 * slot + 1] = UInt64(len) << 32 | UInt64(r)
            if len == 2 { pairRanks[Int(key)] = UInt32(r) }
            if len == 1 { byteRanks[Int(key)] = UInt32(r) }
            let (b1, b2) = Vocabulary.bloomBits(h)
            bloom[b1 >> 6] |= 1 << UInt64(b1 & 63)
            bloom[b2 >> 6] |= 1 << UInt64(b2 & 63)
        }
    }

    deinit {
        bytes.deallocate()
        offsets.deallocate()
        table.deallocate()
        pairRanks.deallocate()
        byteRanks.deallocate()
        bloom.deallocate()
    }

    @inline(__always)
    static func bloomBits(_ h: UInt64) -> (Int, Int) {
        (Int(truncatingIfNeeded: h) & (bloomBits - 1), Int(truncatingIfNeeded: h >> 21) & (bloomBits - 1))
    }

    /// The rank of the two bytes at `p`, or `Vocabulary.none`.
    @inline(__always)
    func pairRank(_ p: UnsafePointer<UInt8>) -> UInt32 {
        pairRanks[Int(UnsafeRawPointer(p).loadUnaligned(as: UInt16.self))]
    }

    /// The inline key (bytes of a short token, or the hash of a long one) and the hash of `[p, p + n)`.
    @inline(__always)
    static func keyAndHash(_ p: UnsafePointer<UInt8>, _ n: Int) -> (UInt64, UInt64) {
        if n <= 8 {
            let raw = UnsafeRawPointer(p)
            let key: UInt64
            if n >= 4 {
                let lo = UInt64(raw.loadUnaligned(as: UInt32.self))
                let hi = UInt64(raw.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self))
                key = lo | hi << UInt64(8 * (n - 4))
            } else if n >= 2 {
                let lo = UInt64(raw.loadUnaligned(as: UInt16.self))
                key = n == 3 ? lo | UInt64(p[2]) << 16 : lo
            } else {
                key = UInt64(p[0])
            }
            return (key, mum(key ^ 0xA076_1D64_78BD_642F, UInt64(n) ^ 0xE703_7ED1_A0B4_28DB))
        }
        let h = hashBytes(p, n)
        return (h, h)
    }

    /// The rank of the byte string `[p, p + n)`, or `Vocabulary.none`.
    @inline(__always)
    func rank(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt32 {
        let (key, h) = Vocabulary.keyAndHash(p, n)
        let (b1, b2) = Vocabulary.bloomBits(h)
        if bloom[b1 >> 6] & (1 << UInt64(b1 & 63)) == 0 || bloom[b2 >> 6] & (1 << UInt64(b2 & 63)) == 0 {
            return Vocabulary.none
        }
        var slot = Int(truncatingIfNeeded: h >> 40) & mask
        let wantLength = UInt64(n) << 32
        while true {
            let meta = table[2 * slot + 1]
            if meta == 0 { return Vocabulary.none }
            if meta & 0xFFFF_FFFF_0000_0000 == wantLength && table[2 * slot] == key {
                let r = Int(meta & 0xFFFF_FFFF)
                if n <= 8 || memcmp(bytes + Int(offsets[r]), p, n) == 0 { return UInt32(r) }
            }
            slot = (slot + 1) & mask
        }
    }

    /// The bytes of token `rank`.
    @inline(__always)
    func token(_ rank: Int) -> UnsafeBufferPointer<UInt8> {
        let start = Int(offsets[rank])
        return UnsafeBufferPointer(start: bytes + start, count: Int(offsets[rank + 1]) - start)
    }

    /// Resident bytes of the packed tokens, offsets and hash table.
    var residentBytes: Int {
        packedBytes + (count + 1) * 4 + (mask + 1) * 16 + 65536 * 4 + Vocabulary.bloomBits / 8
    }
}
