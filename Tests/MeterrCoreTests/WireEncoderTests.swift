import Testing

@testable import MeterrCore

/// The wire encoder's own rules, on values shaped to reach each of its paths.
@Suite("Wire encoder")
struct WireEncoderTests {
    struct Inner: Encodable {
        let a: Int
        let b: String?
    }

    enum Keys: String, CodingKey { case x, y, z, w, m, t, u }

    /// A value that encodes a key twice, fills a nested container after encoding a later member, and
    /// puts every kind of value in an array.
    struct Odd: Encodable {
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(1, forKey: .x)
            try container.encode("two", forKey: .y)
            try container.encode(3, forKey: .x)
            var list = container.nestedUnkeyedContainer(forKey: .z)
            try container.encodeNil(forKey: .w)
            try container.encode(Money(nanos: 1_500_000_000), forKey: .m)
            try container.encode(Timestamp(milliseconds: 86_400_123), forKey: .t)
            try container.encode(Inner(a: 7, b: "tab\there"), forKey: .u)
            try list.encode(Money(nanos: -5))
            try list.encode(Timestamp(milliseconds: 0))
            try list.encode("q\"uote")
            try list.encode(["b": "2", "a": "1"])
            try list.encode(["z": 26, "y": 25])
            try list.encode(Inner(a: 1, b: nil))
            try list.encode(2.5)
            try list.encode(true)
            try list.encodeNil()
            try list.encode([[Int]]([[1], []]))
        }
    }

    @Test("Members keep their first place, nested containers fill late, and each kind of value is written as JSON")
    func shapes() throws {
        let text = String(decoding: try WireEncoder().encode(Odd()), as: UTF8.self)
        let money = Money(nanos: 1_500_000_000).decimalString
        let negative = Money(nanos: -5).decimalString
        let day = Timestamp(milliseconds: 86_400_123).rfc3339
        let epoch = Timestamp(milliseconds: 0).rfc3339
        #expect(
            text == #"{"x":3,"y":"two","z":["\#(negative)","\#(epoch)","q\"uote",{"a":"1","b":"2"},{"y":25,"z":26},"#
                + #"{"a":1},2.5,true,null,[[1],[]]],"w":null,"m":"\#(money)","t":"\#(day)","u":{"a":7,"b":"tab\there"}}"#
        )
    }

    @Test("Top-level scalars and the core types encode alone; an empty value is an empty object; no infinities")
    func alone() throws {
        #expect(try WireEncoder().encode("a\nb") == Array(#""a\nb""#.utf8))
        #expect(try WireEncoder().encode(Money(nanos: 1)) == Array("\"\(Money(nanos: 1).decimalString)\"".utf8))
        #expect(
            try WireEncoder().encode([Timestamp(milliseconds: 1)])
                == Array("[\"\(Timestamp(milliseconds: 1).rfc3339)\"]".utf8))
        #expect(try WireEncoder().encode(42) == Array("42".utf8))
        #expect(try WireEncoder().encode([String: String]()) == Array("{}".utf8))
        #expect(throws: EncodingError.self) { try WireEncoder().encode([Double.infinity]) }
    }
}
