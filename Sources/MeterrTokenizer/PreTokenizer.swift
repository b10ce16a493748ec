/// Which hand-written scanner reproduces an encoding's `pat_str`.
enum PatternKind: Sendable {
    /// `cl100k_base`: standalone contractions first, `\p{L}+` words, `\p{N}{1,3}`, `[\r\n]*` after punctuation,
    /// `\s++$` before `\s*[\r\n]`.
    case cl100k
    /// `o200k_base` and Tekken: case-aware words with marks; `contractions` adds the `'s|'t|…` suffix,
    /// `maxDigits` is 3 for o200k and 1 for Tekken.
    case o200k(contractions: Bool, maxDigits: Int)
}

/// Splits valid UTF-8 into the pieces tiktoken's regex finds, returning each piece's end offset.
///
/// The bytes must be valid UTF-8 (callers validate first). No allocation; every lookup is a load from the
/// per-code-point flag table.
struct PreTokenizer {
    let base: UnsafePointer<UInt8>
    let end: Int
    let flags: UnsafeMutablePointer<UInt8>
    let table: CodePointClassTable

    @inline(__always)
    init(_ base: UnsafePointer<UInt8>, _ end: Int) {
        self.base = base
        self.end = end
        self.table = CodePointClassTable.shared
        self.flags = table.flags
    }

    /// Flags and byte length of the scalar at `i` (< end).
    @inline(__always)
    func cls(_ i: Int) -> (UInt8, Int) {
        let b0 = base[i]
        if b0 < 0x80 { return (flags[Int(b0)], 1) }
        return clsSlow(i, b0)
    }

    @inline(__always)
    func clsSlow(_ i: Int, _ b0: UInt8) -> (UInt8, Int) {
        if b0 < 0xE0 {
            let cp = Int(b0 & 0x1F) << 6 | Int(base[i + 1] & 0x3F)
            return (flags[cp], 2)
        }
        if b0 < 0xF0 {
            let cp = Int(b0 & 0x0F) << 12 | Int(base[i + 1] & 0x3F) << 6 | Int(base[i + 2] & 0x3F)
            return (flags[cp], 3)
        }
        let cp =
            Int(b0 & 0x07) << 18 | Int(base[i + 1] & 0x3F) << 12 | Int(base[i + 2] & 0x3F) << 6
            | Int(base[i + 3] & 0x3F)
        return (table.astral(cp), 4)
    }

    /// Advances over scalars whose flags intersect `mask`.
    @inline(__always)
    func run(_ start: Int, _ mask: UInt8) -> Int {
        var i = start
        while i < end {
            let b = base[i]
            if b < 0x80 {
                if flags[Int(b)] & mask == 0 { return i }
                i += 1
            } else {
                let (f, n) = clsSlow(i, b)
                if f & mask == 0 { return i }
                i += n
            }
        }
        return i
    }

    // MARK: o200k family

    /// `[UPPER]*[LOWER]+` from `s`, with backtracking of the greedy UPPER run; -1 if it does not match.
    @inline(__always)
    func upperStarLowerPlus(_ s: Int) -> Int {
        var i = s
        var lastLower = -1
        // Flags of the scalar that ended the UPPER run (0 at the end of input).
        var f: UInt8 = 0
        while i < end {
            let b = base[i]
            let n: Int
            if b < 0x80 {
                f = flags[Int(b)]
                n = 1
            } else {
                (f, n) = clsSlow(i, b)
            }
            if f & CharFlags.upper == 0 { break }
            i += n
            if f & CharFlags.lower != 0 { lastLower = i }
            f = 0
        }
        if f & CharFlags.lower != 0 {
            return run(i, CharFlags.lower)
        }
        return lastLower
    }

    /// `[UPPER]+[LOWER]*` from `s`; -1 if it does not match.
    @inline(__always)
    func upperPlusLowerStar(_ s: Int) -> Int {
        let i = run(s, CharFlags.upper)
        if i == s { return -1 }
        return run(i, CharFlags.lower)
    }

    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)` at `e` (case folding includes U+017F ſ for s); returns the new end.
    @inline(__always)
    func contraction(_ e: Int) -> Int {
        guard e + 1 < end, base[e] == UInt8(ascii: "'") else { return -1 }
        let c = base[e + 1] | 0x20
        switch c {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
            // `| 0x20` also maps some punctuation onto letters; require an ASCII letter.
            let raw = base[e + 1]
            if (raw >= 0x41 && raw <= 0x5A) || (raw >= 0x61 && raw <= 0x7A) { return e + 2 }
            return -1
        case UInt8(ascii: "r"), UInt8(ascii: "v"), UInt8(ascii: "l"):
            let raw = base[e + 1]
            guard (raw >= 0x41 && raw <= 0x5A) || (raw >= 0x61 && raw <= 0x7A), e + 2 < end else { return -1 }
            let want: UInt8 = c == UInt8(ascii: "l") ? UInt8(ascii: "l") : UInt8(ascii: "e")
            let d = base[e + 2]
            if (d | 0x20) == want && ((d >= 0x41 && d <= 0x5A) || (d >= 0x61 && d <= 0x7A)) { return e + 3 }
            return -1
        case 0xC5 | 0x20:
            // U+017F LATIN SMALL LETTER LONG S = C5 BF folds to s.
            if base[e + 1] == 0xC5 && e + 2 < end && base[e + 2] == 0xBF { return e + 3 }
            return -1
        default:
            return -1
        }
    }

    /// End of the o200k-family piece starting at `p`.
    @inline(__always)
    func nextO200k(_ p: Int, contractions: Bool, maxDigits: Int) -> Int {
        let b0 = base[p]
        // Fast path for the most common pieces, ` word`, `word`, ` Word`, `Word` in ASCII: alternative 1 with an
        // optional space prefix. Taken only when the lowercase run stops at an ASCII byte (never a letter or mark).
        if b0 == 0x20 || (b0 &- 0x41) < 26 || (b0 &- 0x61) < 26 {
            var s = b0 == 0x20 ? p + 1 : p
            if s + 1 < end && (base[s] &- 0x41) < 26 && (base[s + 1] &- 0x61) < 26 { s += 1 }
            if s < end && (base[s] &- 0x61) < 26 {
                var i = s + 1
                while i < end && (base[i] &- 0x61) < 26 { i += 1 }
                if i == end { return i }
                if base[i] < 0x80 {
                    if contractions && base[i] == UInt8(ascii: "'") {
                        let c = contraction(i)
                        if c >= 0 { return c }
                    }
                    return i
                }
            }
        }
        let (f0, n0) = cls(p)
        let prefixOK = f0 & (CharFlags.letter | CharFlags.number) == 0 && b0 != 0x0A && b0 != 0x0D
        let wordish = f0 & (CharFlags.upper | CharFlags.lower) != 0
        // With a prefix, both word alternatives need a letter or mark right after it.
        let wordAfterPrefix =
            prefixOK && p + n0 < end && cls(p + n0).0 & (CharFlags.upper | CharFlags.lower) != 0
        // Alternative 1: prefix? UPPER* LOWER+ contraction?
        var e = -1
        if wordAfterPrefix { e = upperStarLowerPlus(p + n0) }
        if e < 0 && wordish { e = upperStarLowerPlus(p) }
        // Alternative 2: prefix? UPPER+ LOWER* contraction?
        if e < 0 && wordAfterPrefix { e = upperPlusLowerStar(p + n0) }
        if e < 0 && wordish { e = upperPlusLowerStar(p) }
        if e >= 0 {
            if contractions {
                let c = contraction(e)
                if c >= 0 { return c }
            }
            return e
        }
        // \p{N}{1,maxDigits}
        if f0 & CharFlags.number != 0 {
            var i = p + n0
            var k = 1
            while k < maxDigits && i < end {
                let (f, n) = cls(i)
                if f & CharFlags.number == 0 { break }
                i += n
                k += 1
            }
            return i
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
        let q = b0 == 0x20 ? p + 1 : p
        let r = punctRun(q)
        if r > q {
            var i = r
            while i < end && (base[i] == 0x0A || base[i] == 0x0D || base[i] == UInt8(ascii: "/")) { i += 1 }
            return i
        }
        // `\s*[\r\n]+`, `\s+(?!\S)`, `\s+`
        return whitespace(p, newlineFirst: true)
    }

    /// `[^\s\p{L}\p{N}]+` from `q`.
    @inline(__always)
    func punctRun(_ q: Int) -> Int {
        var i = q
        while i < end {
            let b = base[i]
            if b < 0x80 {
                if flags[Int(b)] & (CharFlags.space | CharFlags.letter | CharFlags.number) != 0 { return i }
                i += 1
            } else {
                let (f, n) = clsSlow(i, b)
                if f & (CharFlags.space | CharFlags.letter | CharFlags.number) != 0 { return i }
                i += n
            }
        }
        return i
    }

    /// The whitespace alternatives for the maximal whitespace run at `p`.
    ///
    /// o200k tries `\s*[\r\n]+` before `\s+(?!\S)` (end of input counts as not-`\S`); cl100k tries `\s++$` first,
    /// then `\s*[\r\n]`, `\s+(?!\S)`, `\s`.
    @inline(__always)
    func whitespace(_ p: Int, newlineFirst: Bool) -> Int {
        var i = p
        var lastNewline = -1
        var chars = 0
        var lastLen = 1
        while i < end {
            let b = base[i]
            if b == 0x0A || b == 0x0D {
                lastNewline = i
                i += 1
                chars += 1
                lastLen = 1
                continue
            }
            let (f, n) = cls(i)
            if f & CharFlags.space == 0 { break }
            i += n
            chars += 1
            lastLen = n
        }
        if i == p {
            // Not whitespace: cannot happen for valid input (every scalar matches some alternative); make progress.
            return p + cls(p).1
        }
        if !newlineFirst && i == end { return i }
        if lastNewline >= 0 { return lastNewline + 1 }
        if i == end { return i }
        if chars >= 2 { return i - lastLen }
        return i
    }

    // MARK: cl100k

    /// End of the cl100k piece starting at `p`.
    @inline(__always)
    func nextCl100k(_ p: Int) -> Int {
        let b0 = base[p]
        // '(?i:[sdmt]|ll|ve|re)
        if b0 == UInt8(ascii: "'") {
            let c = contraction(p)
            if c >= 0 { return c }
        }
        // Fast path: ` word` / `word` in ASCII letters ending at an ASCII non-letter.
        if b0 == 0x20 || ((b0 | 0x20) &- 0x61) < 26 {
            let s = b0 == 0x20 ? p + 1 : p
            if s < end && ((base[s] | 0x20) &- 0x61) < 26 {
                var i = s + 1
                while i < end && ((base[i] | 0x20) &- 0x61) < 26 { i += 1 }
                if i == end || base[i] < 0x80 { return i }
            }
        }
        let (f0, n0) = cls(p)
        // [^\r\n\p{L}\p{N}]?+\p{L}++
        if f0 & CharFlags.letter != 0 { return run(p + n0, CharFlags.letter) }
        let prefixOK = f0 & CharFlags.number == 0 && b0 != 0x0A && b0 != 0x0D
        if prefixOK && p + n0 < end {
            let (f1, n1) = cls(p + n0)
            if f1 & CharFlags.letter != 0 { return run(p + n0 + n1, CharFlags.letter) }
        }
        // \p{N}{1,3}+
        if f0 & CharFlags.number != 0 {
            var i = p + n0
            var k = 1
            while k < 3 && i < end {
                let (f, n) = cls(i)
                if f & CharFlags.number == 0 { break }
                i += n
                k += 1
            }
            return i
        }
        // ` ?[^\s\p{L}\p{N}]++[\r\n]*+`
        let q = b0 == 0x20 ? p + 1 : p
        let r = punctRun(q)
        if r > q {
            var i = r
            while i < end && (base[i] == 0x0A || base[i] == 0x0D) { i += 1 }
            return i
        }
        return whitespace(p, newlineFirst: false)
    }
}
