/// Receives the tokens of each piece: either ids (encode) or only how many (count, no per-token work).
protocol TokenSink {
    /// Whether the sink needs the ids; when false only `add(count:)` is called for merged pieces.
    static var wantsIDs: Bool { get }
    mutating func push(_ rank: UInt32)
    mutating func add(count: Int)
    /// Tokens produced so far.
    var produced: Int { get }
    /// Produces again the `count` tokens produced from position `first` on.
    mutating func replay(from first: Int, count: Int)
}

/// Counts tokens without storing them.
struct CountSink: TokenSink {
    static var wantsIDs: Bool { false }
    var count = 0
    @inline(__always) mutating func push(_ rank: UInt32) { count += 1 }
    @inline(__always) mutating func add(count n: Int) { count += n }
    var produced: Int { count }
    @inline(__always) mutating func replay(from first: Int, count n: Int) { count += n }
}

/// Appends token ids (rank + offset) to an array.
struct IDSink: TokenSink {
    static var wantsIDs: Bool { true }
    var ids: [Int]
    let offset: Int
    @inline(__always) mutating func push(_ rank: UInt32) { ids.append(Int(rank) + offset) }
    @inline(__always) mutating func add(count n: Int) {}
    var produced: Int { ids.count }
    @inline(__always) mutating func replay(from first: Int, count n: Int) {
        for i in first..<(first + n) { ids.append(ids[i]) }
    }
}

/// A direct-mapped cache of pieces that needed merging, for one call over a large input: repeated identifiers
/// and rare words are merged once. Entries point back into the input and into the sink's own output, so a hit
/// is verified byte for byte and replays exactly the tokens of the first occurrence.
struct PieceCache {
    struct Entry {
        var hash: UInt64
        var start: Int32
        var length: Int32
        var first: Int32
        var count: Int32
    }

    static let slots = 4096
    /// Inputs shorter than this skip the cache (its allocation would cost more than it saves).
    static let minimumInput = 65_536
    let entries: UnsafeMutablePointer<Entry>

    init() {
        entries = .allocate(capacity: PieceCache.slots)
        entries.initialize(repeating: Entry(hash: 0, start: 0, length: 0, first: 0, count: 0), count: PieceCache.slots)
    }

    func deallocate() { entries.deallocate() }
}

/// Pieces up to this many bytes use tiktoken's linear-scan merge; longer ones use a heap (same result).
let smallPieceLimit = 16
/// Heap merges of pieces up to this many bytes keep their scratch on the stack.
let stackPieceLimit = 2048

extension Vocabulary {
    /// Byte-pair-encodes one piece exactly as tiktoken's `byte_pair_encode`: repeatedly merge the adjacent pair
    /// whose concatenated bytes have the lowest rank, leftmost first on ties.
    @inline(__always)
    func bytePairEncode<S: TokenSink>(_ p: UnsafePointer<UInt8>, _ n: Int, into sink: inout S) {
        if n == 1 {
            sink.push(byteRanks[Int(p[0])])
            return
        }
        if n <= smallPieceLimit {
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 3 * (n + 1)) { buf in
                let b = buf.baseAddress!
                mergeSmall(p, n, starts: b, ranks: b + (n + 1), partRanks: b + 2 * (n + 1), into: &sink)
            }
        } else if n <= stackPieceLimit {
            withUnsafeTemporaryAllocation(of: UInt64.self, capacity: Vocabulary.heapScratchWords(n)) { buf in
                mergeLarge(p, n, scratch: buf.baseAddress!, into: &sink)
            }
        } else {
            let scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: Vocabulary.heapScratchWords(n))
            defer { scratch.deallocate() }
            mergeLarge(p, n, scratch: scratch, into: &sink)
        }
    }

    /// UInt64 words of scratch for `mergeLarge`: four (n + 1)-entry 32-bit arrays and a heap of 3n + 16 keys
    /// (n initial pairs, at most two pushes per merge).
    static func heapScratchWords(_ n: Int) -> Int {
        2 * (n + 1) + 3 * n + 16
    }

    /// tiktoken's `_byte_pair_merge`: O(n·m) with a linear minimum scan, fine for short pieces.
    @inline(__always)
    private func mergeSmall<S: TokenSink>(
        _ p: UnsafePointer<UInt8>,
        _ n: Int,
        starts: UnsafeMutablePointer<UInt32>,
        ranks: UnsafeMutablePointer<UInt32>,
        partRanks: UnsafeMutablePointer<UInt32>,
        into sink: inout S
    ) {
        var parts = n + 1
        for i in 0..<parts {
            starts[i] = UInt32(i)
            ranks[i] = i + 2 <= n ? pairRank(p + i) : Vocabulary.none
            if S.wantsIDs { partRanks[i] = i < n ? byteRanks[Int(p[i])] : Vocabulary.none }
        }
        while true {
            var minRank = Vocabulary.none
            var minIndex = 0
            for i in 0..<(parts - 1) where ranks[i] < minRank {
                minRank = ranks[i]
                minIndex = i
            }
            if minRank == Vocabulary.none { break }
            let i = minIndex
            // Ranks of the pairs that now include the merged part, computed before removing part i + 1.
            if i > 0 {
                ranks[i - 1] =
                    i + 2 < parts
                    ? rank(p + Int(starts[i - 1]), Int(starts[i + 2]) - Int(starts[i - 1])) : Vocabulary.none
            }
            ranks[i] = i + 3 < parts ? rank(p + Int(starts[i]), Int(starts[i + 3]) - Int(starts[i])) : Vocabulary.none
            let move = parts - (i + 2)
            (starts + i + 1).update(from: starts + i + 2, count: move)
            (ranks + i + 1).update(from: ranks + i + 2, count: move)
            if S.wantsIDs {
                // The merged part is the token whose rank was the minimum.
                partRanks[i] = minRank
                (partRanks + i + 1).update(from: partRanks + i + 2, count: move)
            }
            parts -= 1
        }
        if S.wantsIDs {
            for i in 0..<(parts - 1) { sink.push(partRanks[i]) }
        } else {
            sink.add(count: parts - 1)
        }
    }

    /// The same merge order with a min-heap keyed by (rank, start) and lazy invalidation: O(n log n), so a
    /// megabyte-long piece takes milliseconds instead of minutes.
    @inline(__always)
    private func mergeLarge<S: TokenSink>(
        _ p: UnsafePointer<UInt8>,
        _ n: Int,
        scratch: UnsafeMutablePointer<UInt64>,
        into sink: inout S
    ) {
        // Parts are identified by their start byte; next/prev link live parts; pairRank[s] is the rank of part s
        // merged with its successor.
        let heapItems = scratch
        let raw = UnsafeMutableRawPointer(scratch + 3 * n + 16)
        let next = raw.bindMemory(to: Int32.self, capacity: n + 1)
        let prev = (raw + 4 * (n + 1)).bindMemory(to: Int32.self, capacity: n + 1)
        let pairRank = (raw + 8 * (n + 1)).bindMemory(to: UInt32.self, capacity: n + 1)
        let partRank = (raw + 12 * (n + 1)).bindMemory(to: UInt32.self, capacity: n + 1)
        var heap = MinHeap(storage: heapItems)
        for i in 0...n {
            next[i] = Int32(i + 1)
            prev[i] = Int32(i - 1)
            if S.wantsIDs { partRank[i] = i < n ? byteRanks[Int(p[i])] : Vocabulary.none }
        }
        for i in 0..<n {
            pairRank[i] = i + 2 <= n ? self.pairRank(p + i) : Vocabulary.none
            if pairRank[i] != Vocabulary.none { heap.push(UInt64(pairRank[i]) << 32 | UInt64(i)) }
        }
        // end of pair starting at s = next[next[s]]
        @inline(__always) func computeRank(_ s: Int) -> UInt32 {
            let a = Int(next[s])
            if a >= n { return Vocabulary.none }
            let b = Int(next[a])
            return rank(p + s, b - s)
        }
        while let top = heap.pop() {
            let r = UInt32(top >> 32)
            let s = Int(top & 0xFFFF_FFFF)
            // Stale: the part was merged away (pairRank reset) or its pair changed.
            if pairRank[s] != r { continue }
            // Merge s with its successor.
            let a = Int(next[s])
            let b = Int(next[a])
            next[s] = Int32(b)
            if b <= n { prev[b] = Int32(s) }
            pairRank[a] = Vocabulary.none
            if S.wantsIDs { partRank[s] = r }
            let newRank = computeRank(s)
            pairRank[s] = newRank
            if newRank != Vocabulary.none { heap.push(UInt64(newRank) << 32 | UInt64(s)) }
            let q = Int(prev[s])
            if q >= 0 {
                let qr = computeRank(q)
                if qr != pairRank[q] {
                    pairRank[q] = qr
                    if qr != Vocabulary.none { heap.push(UInt64(qr) << 32 | UInt64(q)) }
                }
            }
        }
        var s = 0
        var parts = 0
        while s < n {
            let e = Int(next[s])
            if S.wantsIDs { sink.push(partRank[s]) }
            parts += 1
            s = e
        }
        if !S.wantsIDs { sink.add(count: parts) }
    }
}

/// A binary min-heap of UInt64 keys in caller-provided storage (sized for every push in advance).
struct MinHeap {
    private let items: UnsafeMutablePointer<UInt64>
    private var count = 0

    @inline(__always)
    init(storage: UnsafeMutablePointer<UInt64>) {
        items = storage
    }

    @inline(__always)
    mutating func push(_ key: UInt64) {
        var i = count
        count += 1
        while i > 0 {
            let parent = (i - 1) >> 1
            if items[parent] <= key { break }
            items[i] = items[parent]
            i = parent
        }
        items[i] = key
    }

    @inline(__always)
    mutating func pop() -> UInt64? {
        if count == 0 { return nil }
        let top = items[0]
        count -= 1
        if count > 0 {
            let key = items[count]
            var i = 0
            while true {
                var c = 2 * i + 1
                if c >= count { break }
                if c + 1 < count && items[c + 1] < items[c] { c += 1 }
                if key <= items[c] { break }
                items[i] = items[c]
                i = c
            }
            items[i] = key
        }
        return top
    }
}
