import Testing

@testable import MeterrCore

@Suite("Identifiers")
struct IdentifierTests {
    @Test("Ordered ids sort by their time, keep their length and differ within one millisecond")
    func ordered() {
        let times: [Int64] = [0, 61, 62, 1_795_000_000_000, 1_795_000_000_001, 1_795_000_060_000, 99_999_999_999_999]
        let ids = times.map { Identifier.ordered("req", now: Timestamp(milliseconds: $0)) }
        #expect(ids == ids.sorted())
        #expect(ids.allSatisfy { $0.hasPrefix("req_") && $0.utf8.count == 24 })
        #expect(ids[0].hasPrefix("req_00000000"))
        #expect(ids[2].hasPrefix("req_00000010"), "62 ms is 10 in base 62")
        let same = (0..<1000).map { _ in Identifier.ordered("req", now: Timestamp(milliseconds: 1_795_000_000_000)) }
        #expect(Set(same).count == 1000)
        #expect(Set(same.map { $0.prefix(12) }).count == 1)
    }

    @Test("Ordered ids draw on each thread's store of secure bytes: none repeats, across refills and threads")
    func pooled() async {
        // 5,000 ids a task take 95,000 bytes: 23 refills of a 4 KiB store.
        let ids = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<4 {
                group.addTask { (0..<5_000).map { _ in Identifier.ordered("req", now: Timestamp(milliseconds: 1)) } }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        #expect(Set(ids).count == 20_000)
        // 240,000 random characters: each of the 62 expected 3,871 times (a standard deviation of 62).
        var counts: [Character: Int] = [:]
        for id in ids { for character in id.dropFirst(12) { counts[character, default: 0] += 1 } }
        #expect(counts.count == 62)
        #expect(counts.values.allSatisfy { (3_500...4_250).contains($0) })
        // Two draws never share bytes; a draw larger than the store is the system's own.
        var first: [UInt8] = []
        var second: [UInt8] = []
        PooledSecureBytes.withBytes(64) { first = Array($0) }
        PooledSecureBytes.withBytes(64) { second = Array($0) }
        #expect(first != second)
        var large = 0
        PooledSecureBytes.withBytes(10_000) { large = $0.count }
        #expect(large == 10_000)
    }

    @Test("Random ids have their length, base-62 characters only, and no favourite character")
    func random() {
        let alphabet = Set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        for length in [0, 1, 12, 43, 300, 5000] {
            let id = Identifier.random(length: length)
            #expect(id.count == length)
            #expect(id.allSatisfy(alphabet.contains))
        }
        // 248,000 characters: each of the 62 expected 4,000 times (a standard deviation of 63). Taking
        // every byte modulo 62, without rejecting those of 248 and above, would give eight of them
        // 4,844 each and the rest 3,875.
        var counts: [Character: Int] = [:]
        for character in Identifier.random(length: 248_000) { counts[character, default: 0] += 1 }
        #expect(counts.count == 62)
        #expect(counts.values.allSatisfy { (3_600...4_400).contains($0) })
        #expect(Identifier.random(length: 22) != Identifier.random(length: 22))
    }

    @Test("Prefixed ids are the prefix, an underscore and the random part")
    func prefixed() {
        let id = Identifier.make("evt")
        #expect(id.hasPrefix("evt_") && id.utf8.count == 26)
        #expect(Identifier.make("", length: 3).hasPrefix("_"))
        #expect(Identifier.make("alr", length: 0) == "alr_")
        #expect(Identifier.ordered("req", length: 8, now: Timestamp(milliseconds: 62)) == "req_00000010")
    }

    @Test("Hex text of raw bytes is lower-case, two digits a byte")
    func hex() {
        #expect([UInt8]([0x00, 0x0F, 0xA0, 0xFF]).withUnsafeBytes(Hex.string(raw:)) == "000fa0ff")
        #expect([UInt8]().withUnsafeBytes(Hex.string(raw:)) == "")
        #expect(Hex.string([0xBA, 0x78]) == "ba78")
    }
}
