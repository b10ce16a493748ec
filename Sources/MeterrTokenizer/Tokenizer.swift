import Foundation

/// A byte-pair encoding that meterr can count exactly.
public enum Encoding: String, Sendable, CaseIterable, Codable {
    /// OpenAI `o200k_base` (gpt-4o, gpt-4.1, gpt-5, o-series).
    case o200kBase = "o200k_base"
    /// OpenAI `cl100k_base` (gpt-4, gpt-3.5-turbo, text-embedding-3, ada-002).
    case cl100kBase = "cl100k_base"
    /// Mistral Tekken (`tekken_240911.json`: Nemo, Pixtral, Ministral, Mistral Small/Large/Medium since 2024-09).
    case tekken = "tekken"

    /// Parses `o200k_base`, `cl100k_base`, `tekken` (also `o200k`, `cl100k`).
    public init?(name: String) {
        switch name.lowercased() {
        case "o200k_base", "o200k": self = .o200kBase
        case "cl100k_base", "cl100k": self = .cl100kBase
        case "tekken", "tekken_240911": self = .tekken
        default: return nil
        }
    }
}

/// Which special tokens `encode` may emit as single ids (tiktoken's `allowed_special`).
public enum AllowedSpecial: Sendable, Equatable {
    /// Special-token text is an error (tiktoken's default `encode`).
    case none
    /// Every special token of the encoding.
    case all
    /// Only these (e.g. `["<|endoftext|>"]`).
    case some(Set<String>)
}

/// An exact tokenizer for one encoding: encode, decode and count, identical to tiktoken's `encode_ordinary`
/// (and to mistral-common for Tekken).
///
/// Load once with `Tokenizer.shared(for:)`; instances are immutable and safe to use from any thread.
public final class Tokenizer: @unchecked Sendable {
    // @unchecked Sendable: all stored state is immutable after init (vocabulary buffers are never written again).
    /// The encoding this tokenizer implements.
    public let encoding: Encoding
    let vocab: Vocabulary
    let pattern: PatternKind
    /// Added to a vocabulary rank to form the token id (Tekken reserves ids 0..<1000 for control tokens).
    let idOffset: Int
    /// Special token text → id.
    public let specialTokens: [String: Int]
    let specialByID: [Int: [UInt8]]

    /// Number of ordinary (vocabulary) tokens.
    public var vocabularySize: Int { vocab.count }

    /// Resident memory of the loaded vocabulary in bytes (packed tokens, offsets, hash table).
    public var residentBytes: Int { vocab.residentBytes }

    private static let o200k = Result { try Tokenizer(encoding: .o200kBase) }
    private static let cl100k = Result { try Tokenizer(encoding: .cl100kBase) }
    private static let tekkenShared = Result { try Tokenizer(encoding: .tekken) }

    /// The process-wide tokenizer for `encoding`, loaded (and hash-checked) on first use.
    public static func shared(for encoding: Encoding) throws -> Tokenizer {
        switch encoding {
        case .o200kBase: try o200k.get()
        case .cl100kBase: try cl100k.get()
        case .tekken: try tekkenShared.get()
        }
    }

    /// Loads the bundled vocabulary for `encoding` and checks its SHA-256.
    ///
    /// The file is looked up in `$METERR_TOKENIZER_RESOURCES` if set, then in the `*_MeterrTokenizer.resources`
    /// bundle next to the executable (where SwiftPM puts it; ship that directory with the binary), then in the
    /// source tree it was built from. A missing file throws `missingResource` instead of crashing.
    public convenience init(encoding: Encoding) throws {
        let spec = EncodingSpec.of(encoding)
        let file = spec.resource + ".tiktoken"
        guard let url = Tokenizer.resourceURL(file) else { throw TokenizerError.missingResource(file) }
        let data = try Data(contentsOf: url, options: .alwaysMapped)
        try self.init(encoding: encoding, tiktokenData: data)
    }

    static func resourceURL(_ file: String) -> URL? {
        let fm = FileManager.default
        var directories: [URL] = []
        if let dir = ProcessInfo.processInfo.environment["METERR_TOKENIZER_RESOURCES"] {
            directories.append(URL(fileURLWithPath: dir))
        }
        for base in [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()] {
            let names = (try? fm.contentsOfDirectory(atPath: base.path)) ?? []
            for name in names.sorted()
            where name.hasSuffix("_MeterrTokenizer.resources") || name.hasSuffix("_MeterrTokenizer.bundle") {
                let bundle = base.appendingPathComponent(name)
                directories += [bundle, bundle.appendingPathComponent("Contents/Resources")]
            }
        }
        // Last resort for development builds copied elsewhere: the source tree this file was compiled from.
        directories.append(
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Resources"))
        for dir in directories {
            let url = dir.appendingPathComponent(file)
            if fm.fileExists(atPath: url.path) { return url }
        }
        #if canImport(Darwin)
            // Xcode and other Darwin layouts: the SwiftPM accessor knows them all.
            return Bundle.module.url(forResource: file, withExtension: nil)
        #else
            return nil
        #endif
    }

    /// Builds the tokenizer from `.tiktoken` content (checked against the encoding's published SHA-256).
    public init(encoding: Encoding, tiktokenData data: Data) throws {
        let spec = EncodingSpec.of(encoding)
        self.encoding = encoding
        self.pattern = spec.pattern
        self.idOffset = spec.idOffset
        self.specialTokens = spec.specialTokens
        var byID: [Int: [UInt8]] = [:]
        for (text, id) in spec.specialTokens { byID[id] = Array(text.utf8) }
        self.specialByID = byID
        self.vocab = try data.withUnsafeBytes { raw in
            // Hash on another core while this one parses; both finish before the buffer goes away.
            nonisolated(unsafe) let input = raw
            let digest = DigestBox()
            let group = DispatchGroup()
            DispatchQueue.global().async(group: group) { digest.hex = SHA256.hex(input) }
            let parsed = Result { try Vocabulary(tiktoken: raw, name: spec.resource, limit: spec.vocabularyLimit) }
            group.wait()
            guard digest.hex == spec.sha256 else {
                throw TokenizerError.vocabularyHashMismatch(
                    name: spec.resource,
                    expected: spec.sha256,
                    actual: digest.hex
                )
            }
            return try parsed.get()
        }
    }

    // MARK: Counting

    /// The number of tokens in `text` (tiktoken `len(encode_ordinary(text))`), allocating nothing per token.
    public func count(_ text: String) -> Int {
        var text = text
        return text.withUTF8 { buf in
            // A Swift String is always valid UTF-8: no validation pass.
            guard let base = buf.baseAddress else { return 0 }
            var sink = CountSink()
            encodeValid(base, buf.count, into: &sink)
            return sink.count
        }
    }

    /// The number of tokens in `bytes`; invalid UTF-8 is handled like tiktoken's `_encode_bytes`.
    public func count(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var sink = CountSink()
        encodeBytes(bytes, into: &sink)
        return sink.count
    }

    /// The number of tokens in `bytes`.
    public func count(_ bytes: [UInt8]) -> Int {
        bytes.withUnsafeBufferPointer { count($0) }
    }

    // MARK: Encoding

    /// Token ids of `text`, treating special-token text as ordinary text (tiktoken `encode_ordinary`).
    public func encode(_ text: String) -> [Int] {
        var text = text
        return text.withUTF8 { buf in
            guard let base = buf.baseAddress else { return [] }
            var sink = IDSink(ids: [], offset: idOffset)
            sink.ids.reserveCapacity(buf.count / 3 + 4)
            encodeValid(base, buf.count, into: &sink)
            return sink.ids
        }
    }

    /// Token ids of `bytes`; invalid UTF-8 is handled like tiktoken's `_encode_bytes`.
    public func encode(_ bytes: UnsafeBufferPointer<UInt8>) -> [Int] {
        var sink = IDSink(ids: [], offset: idOffset)
        sink.ids.reserveCapacity(bytes.count / 3 + 4)
        encodeBytes(bytes, into: &sink)
        return sink.ids
    }

    /// Token ids of `bytes`.
    public func encode(_ bytes: [UInt8]) -> [Int] {
        bytes.withUnsafeBufferPointer { encode($0) }
    }

    /// Token ids of `text` with tiktoken's `encode(text, allowed_special=…)` semantics: allowed special-token
    /// text becomes its single id; any other special-token text throws `disallowedSpecialToken`.
    ///
    /// Pass `disallowedSpecial: false` for tiktoken's `disallowed_special=()`: other special text is encoded as
    /// ordinary text.
    public func encode(_ text: String, allowedSpecial: AllowedSpecial, disallowedSpecial: Bool = true) throws -> [Int] {
        let allowed: [(bytes: [UInt8], id: Int)]
        switch allowedSpecial {
        case .none: allowed = []
        case .all: allowed = specialTokens.map { (Array($0.key.utf8), $0.value) }
        case .some(let set):
            allowed = specialTokens.filter { set.contains($0.key) }.map { (Array($0.key.utf8), $0.value) }
        }
        if disallowedSpecial {
            // Byte search, not String.contains: a combining mark after `>` must not hide the token.
            let utf8 = Array(text.utf8)
            let found = utf8.withUnsafeBufferPointer { buf in
                specialTokens.keys.sorted().first { special in
                    let bytes = Array(special.utf8)
                    if allowed.contains(where: { $0.bytes == bytes }) { return false }
                    return (0..<max(0, buf.count - bytes.count + 1)).contains { matches(bytes, buf, at: $0) }
                }
            }
            if let found { throw TokenizerError.disallowedSpecialToken(found) }
        }
        if allowed.isEmpty { return encode(text) }
        var text = text
        return text.withUTF8 { buf -> [Int] in
            var sink = IDSink(ids: [], offset: idOffset)
            let base = buf.baseAddress!
            var start = 0
            var i = 0
            let n = buf.count
            while i < n {
                if buf[i] == UInt8(ascii: "<") || (encoding == .tekken && buf[i] == UInt8(ascii: "[")) {
                    if let hit = allowed.first(where: { matches($0.bytes, buf, at: i) }) {
                        encodeValid(base + start, i - start, into: &sink)
                        sink.ids.append(hit.id)
                        i += hit.bytes.count
                        start = i
                        continue
                    }
                }
                i += 1
            }
            encodeValid(base + start, n - start, into: &sink)
            return sink.ids
        }
    }

    private func matches(_ token: [UInt8], _ buf: UnsafeBufferPointer<UInt8>, at i: Int) -> Bool {
        if i + token.count > buf.count { return false }
        for k in 0..<token.count where buf[i + k] != token[k] { return false }
        return true
    }

    // MARK: Decoding

    /// The bytes of `ids` concatenated (tiktoken `decode_bytes`); throws on an unknown id.
    public func decode(_ ids: [Int]) throws -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(ids.count * 4)
        for id in ids {
            let r = id - idOffset
            if r >= 0 && r < vocab.count {
                out.append(contentsOf: vocab.token(r))
            } else if let special = specialByID[id] {
                out.append(contentsOf: special)
            } else {
                throw TokenizerError.unknownTokenID(id)
            }
        }
        return out
    }

    /// `decode(ids)` as a String, replacing invalid UTF-8 with U+FFFD (tiktoken `decode(errors="replace")`).
    public func decodeString(_ ids: [Int]) throws -> String {
        String(decoding: try decode(ids), as: UTF8.self)
    }

    // MARK: Core

    /// tiktoken `_encode_bytes`: valid UTF-8 is `encode_ordinary`; otherwise the valid prefix is encoded, its last
    /// piece (extended over trailing whitespace tokens) is joined with the invalid tail, and that is byte-pair
    /// encoded as one piece.
    func encodeBytes<S: TokenSink>(_ bytes: UnsafeBufferPointer<UInt8>, into sink: inout S) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let valid = utf8ValidPrefix(base, bytes.count)
        if valid == bytes.count {
            encodeValid(base, valid, into: &sink)
            return
        }
        // Needs the ids of the last piece, so run the prefix through an id sink.
        var ids = IDSink(ids: [], offset: 0)
        var lastPieceTokens = 0
        encodeValid(base, valid, into: &ids, lastPieceTokens: &lastPieceTokens)
        var tokens = ids.ids
        func isAllSpace(_ r: Int) -> Bool {
            vocab.token(r).allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x09 }
        }
        if lastPieceTokens > 0 && isAllSpace(tokens[tokens.count - lastPieceTokens]) {
            while lastPieceTokens < tokens.count && isAllSpace(tokens[tokens.count - lastPieceTokens - 1]) {
                lastPieceTokens += 1
            }
        }
        var unstable = [UInt8]()
        for r in tokens[(tokens.count - lastPieceTokens)...] { unstable.append(contentsOf: vocab.token(r)) }
        unstable.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[valid...]))
        tokens.removeLast(lastPieceTokens)
        for r in tokens { sink.push(UInt32(r)) }
        unstable.withUnsafeBufferPointer { u in
            let p = u.baseAddress!
            let r = vocab.rank(p, u.count)
            if r != Vocabulary.none {
                sink.push(r)
            } else {
                vocab.bytePairEncode(p, u.count, into: &sink)
            }
        }
    }

    @inline(__always)
    func encodeValid<S: TokenSink>(_ base: UnsafePointer<UInt8>, _ n: Int, into sink: inout S) {
        var ignored = 0
        encodeValid(base, n, into: &sink, lastPieceTokens: &ignored)
    }

    /// Splits valid UTF-8 with the encoding's scanner and encodes every piece.
    @inline(__always)
    func encodeValid<S: TokenSink>(
        _ base: UnsafePointer<UInt8>,
        _ n: Int,
        into sink: inout S,
        lastPieceTokens: inout Int
    ) {
        let scanner = PreTokenizer(base, n)
        // Offsets and counts in the cache are Int32; larger inputs are cut into parallel chunks or go uncached.
        let cache: PieceCache? = n >= PieceCache.minimumInput && n < Int(Int32.max) ? PieceCache() : nil
        defer { cache?.deallocate() }
        var p = 0
        var before = 0
        switch pattern {
        case .cl100k:
            while p < n {
                let e = scanner.nextCl100k(p)
                before = p
                emit(base, p, e - p, cache, into: &sink)
                p = e
            }
        case .o200k(let contractions, let maxDigits):
            while p < n {
                let e = scanner.nextO200k(p, contractions: contractions, maxDigits: maxDigits)
                before = p
                emit(base, p, e - p, cache, into: &sink)
                p = e
            }
        }
        if S.wantsIDs, n > 0 {
            // Only needed by the invalid-UTF-8 path: re-encode the last piece to learn its token count.
            var c = CountSink()
            emit(base, before, n - before, nil, into: &c)
            lastPieceTokens = c.count
        }
    }

    /// Encodes the piece `[base + start, base + start + len)`: one probe when the whole piece is a token, else the
    /// cache, else the byte-pair merge.
    @inline(__always)
    func emit<S: TokenSink>(
        _ base: UnsafePointer<UInt8>,
        _ start: Int,
        _ len: Int,
        _ cache: PieceCache?,
        into sink: inout S
    ) {
        let p = base + start
        let r = vocab.rank(p, len)
        if r != Vocabulary.none {
            sink.push(r)
            return
        }
        guard let cache else {
            vocab.bytePairEncode(p, len, into: &sink)
            return
        }
        let h = hashBytes(p, len)
        let entry = cache.entries + Int(truncatingIfNeeded: h) & (PieceCache.slots - 1)
        if entry.pointee.hash == h && Int(entry.pointee.length) == len
            && memcmp(base + Int(entry.pointee.start), p, len) == 0
        {
            sink.replay(from: Int(entry.pointee.first), count: Int(entry.pointee.count))
            return
        }
        let first = sink.produced
        vocab.bytePairEncode(p, len, into: &sink)
        if first < Int(Int32.max) - len {
            entry.pointee = PieceCache.Entry(
                hash: h, start: Int32(start), length: Int32(len), first: Int32(first),
                count: Int32(sink.produced - first))
        }
    }
}

/// The SHA-256 computed beside the vocabulary parse.
private final class DigestBox: @unchecked Sendable {
    // @unchecked Sendable: written by one task before DispatchGroup.wait() returns, read only after it.
    var hex = ""
}

/// The length of the longest valid UTF-8 prefix (Rust `Utf8Error::valid_up_to` semantics).
func utf8ValidPrefix(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
    var i = 0
    while i < n {
        let b0 = p[i]
        if b0 < 0x80 {
            i += 1
            // Then eight ASCII bytes at a time.
            while i + 8 <= n && UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                i += 8
            }
            continue
        }
        @inline(__always) func cont(_ k: Int) -> Bool { i + k < n && p[i + k] & 0xC0 == 0x80 }
        if b0 >= 0xC2 && b0 <= 0xDF {
            guard cont(1) else { return i }
            i += 2
        } else if b0 >= 0xE0 && b0 <= 0xEF {
            guard i + 1 < n else { return i }
            let b1 = p[i + 1]
            let lo: UInt8 = b0 == 0xE0 ? 0xA0 : 0x80
            let hi: UInt8 = b0 == 0xED ? 0x9F : 0xBF
            guard b1 >= lo && b1 <= hi, cont(2) else { return i }
            i += 3
        } else if b0 >= 0xF0 && b0 <= 0xF4 {
            guard i + 1 < n else { return i }
            let b1 = p[i + 1]
            let lo: UInt8 = b0 == 0xF0 ? 0x90 : 0x80
            let hi: UInt8 = b0 == 0xF4 ? 0x8F : 0xBF
            guard b1 >= lo && b1 <= hi, cont(2), cont(3) else { return i }
            i += 4
        } else {
            return i
        }
    }
    return n
}

extension Tokenizer {
    /// `count(text)` computed on every core: the text is cut only at positions that are piece boundaries for every
    /// supported pattern (after an ASCII letter followed by a space, or after a newline followed by an ASCII letter
    /// or digit), so the sum is exactly the sequential count.
    public func countParallel(_ text: String, chunks: Int = ProcessInfo.processInfo.activeProcessorCount) -> Int {
        var text = text
        return text.withUTF8 { countParallel($0, chunks: chunks, knownValid: true) }
    }

    /// `count(bytes)` computed on every core, exactly equal to the sequential count.
    public func countParallel(
        _ bytes: UnsafeBufferPointer<UInt8>,
        chunks: Int = ProcessInfo.processInfo.activeProcessorCount
    ) -> Int {
        countParallel(bytes, chunks: chunks, knownValid: false)
    }

    func countParallel(_ bytes: UnsafeBufferPointer<UInt8>, chunks: Int, knownValid: Bool) -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        let n = bytes.count
        let minChunk = 1 << 16
        let parts = max(1, min(chunks, n / minChunk))
        // Invalid UTF-8 re-encodes its tail as one piece; keep that path sequential.
        if parts == 1 || (!knownValid && utf8ValidPrefix(base, n) != n) {
            if knownValid {
                var sink = CountSink()
                encodeValid(base, n, into: &sink)
                return sink.count
            }
            return count(bytes)
        }
        var cuts = [0]
        for k in 1..<parts {
            var i = max(k * n / parts, cuts[cuts.count - 1] + 1)
            // Scan forward for a safe boundary.
            while i < n - 1 {
                let a = base[i - 1]
                let b = base[i]
                let aLetter = (a | 0x20) >= 0x61 && (a | 0x20) <= 0x7A
                let bAlnum = ((b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A) || (b >= 0x30 && b <= 0x39)
                if (aLetter && b == 0x20) || (a == 0x0A && bAlnum) { break }
                i += 1
            }
            if i < n - 1 { cuts.append(i) }
        }
        cuts.append(n)
        let pieces = cuts.count - 1
        let results = UnsafeMutableBufferPointer<Int>.allocate(capacity: pieces)
        defer { results.deallocate() }
        results.initialize(repeating: 0)
        // The workers read the shared input and write disjoint result slots; concurrentPerform joins them.
        nonisolated(unsafe) let out = results
        nonisolated(unsafe) let input = base
        let bounds = cuts
        DispatchQueue.concurrentPerform(iterations: pieces) { k in
            var sink = CountSink()
            encodeValid(input + bounds[k], bounds[k + 1] - bounds[k], into: &sink)
            out[k] = sink.count
        }
        return results.reduce(0, +)
    }
}
