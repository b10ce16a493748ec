import MeterrCore
import Testing

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
}
