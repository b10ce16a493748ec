/// Per-code-point character-class flags for the pre-tokenizer patterns, expanded once from the generated runs.
///
/// One byte per code point (1.1 MB) so a non-ASCII character costs one load after decoding; ASCII bytes index the
/// same table directly.
enum CharFlags {
    /// `\p{L}`.
    static let letter: UInt8 = 1
    /// `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`.
    static let upper: UInt8 = 2
    /// `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`.
    static let lower: UInt8 = 4
    /// `\p{N}`.
    static let number: UInt8 = 8
    /// `\s` (Unicode White_Space).
    static let space: UInt8 = 16
    /// `\p{M}`.
    static let mark: UInt8 = 32
}

/// The flag tables; immutable after initialisation.
///
/// The Basic Multilingual Plane is one flat 64 KB table (one load per character). Astral code points go through a
/// two-stage table: blocks of 256 code points with one flag value share one 256-byte block, so emoji, CJK
/// extensions and the vast unassigned planes cost ~150 KB instead of 1 MB and stay in cache.
final class CodePointClassTable: @unchecked Sendable {
    // @unchecked Sendable: the buffers are written once in init and only read afterwards.
    /// Flags of U+0000…U+FFFF.
    let flags: UnsafeMutablePointer<UInt8>
    /// Block index (into `astralBlocks`, in units of 256 bytes) for each 256-code-point block above U+FFFF.
    let astralIndex: UnsafeMutablePointer<UInt16>
    let astralBlocks: UnsafeMutablePointer<UInt8>

    static let shared = CodePointClassTable()

    private init() {
        let size = 0x11_0000
        let full = UnsafeMutablePointer<UInt8>.allocate(capacity: size)
        defer { full.deallocate() }
        let runs = unicodeClassRuns
        for (i, run) in runs.enumerated() {
            let start = Int(run >> 8)
            let end = i + 1 < runs.count ? Int(runs[i + 1] >> 8) : size
            (full + start).initialize(repeating: UInt8(truncatingIfNeeded: run), count: end - start)
        }
        flags = .allocate(capacity: 0x1_0000)
        flags.initialize(from: full, count: 0x1_0000)
        // Uniform blocks share one block per flag value; mixed blocks get their own.
        let astralCount = (size - 0x1_0000) >> 8
        astralIndex = .allocate(capacity: astralCount)
        var blocks: [UInt8] = []
        var uniform: [UInt8: UInt16] = [:]
        for b in 0..<astralCount {
            let base = full + 0x1_0000 + (b << 8)
            let first = base[0]
            if (1..<256).allSatisfy({ base[$0] == first }) {
                if let index = uniform[first] {
                    astralIndex[b] = index
                    continue
                }
                uniform[first] = UInt16(blocks.count >> 8)
            }
            astralIndex[b] = UInt16(blocks.count >> 8)
            blocks.append(contentsOf: UnsafeBufferPointer(start: base, count: 256))
        }
        astralBlocks = .allocate(capacity: blocks.count)
        astralBlocks.initialize(from: blocks, count: blocks.count)
    }

    /// The flags of an astral code point (U+10000…U+10FFFF).
    @inline(__always)
    func astral(_ cp: Int) -> UInt8 {
        astralBlocks[Int(astralIndex[(cp - 0x1_0000) >> 8]) << 8 | (cp & 0xFF)]
    }

    /// The flags of one code point (`CharFlags` bits).
    func flags(of scalar: UInt32) -> UInt8 {
        let cp = Int(scalar)
        if cp < 0x1_0000 { return flags[cp] }
        return cp < 0x11_0000 ? astral(cp) : 0
    }
}
