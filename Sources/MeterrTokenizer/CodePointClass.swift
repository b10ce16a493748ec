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

/// The expanded flag table; immutable after initialisation.
final class CodePointClassTable: @unchecked Sendable {
    // @unchecked Sendable: the buffer is written once in init and only read afterwards.
    let flags: UnsafeMutablePointer<UInt8>

    static let shared = CodePointClassTable()

    private init() {
        let size = 0x11_0000
        flags = .allocate(capacity: size)
        let runs = unicodeClassRuns
        for (i, run) in runs.enumerated() {
            let start = Int(run >> 8)
            let end = i + 1 < runs.count ? Int(runs[i + 1] >> 8) : size
            (flags + start).initialize(repeating: UInt8(truncatingIfNeeded: run), count: end - start)
        }
    }

    /// The flags of one code point (`CharFlags` bits).
    func flags(of scalar: UInt32) -> UInt8 {
        scalar < 0x11_0000 ? flags[Int(scalar)] : 0
    }
}
