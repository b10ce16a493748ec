import MeterrCore
import Testing

@Suite("JSON strings written and read")
struct JSONStringTests {
    /// The writer's escaping byte by byte, as it was before runs were copied whole.
    static func reference(_ text: String) -> [UInt8] {
        let hex = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = [UInt8(ascii: "\"")]
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), byte]
            case 0x0A: bytes += Array("\\n".utf8)
            case 0x0D: bytes += Array("\\r".utf8)
            case 0x09: bytes += Array("\\t".utf8)
            case 0..<0x20: bytes += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
        return bytes
    }

    /// Texts of every length to 40 and beyond, built from pieces that need escaping and pieces that do not.
    static let texts: [String] = {
        let pieces = ["a", "é", "😀", "\"", "\\", "\n", "\r", "\t", "\u{01}", "\u{1F}", " ", "/", "ab", "\u{7F}", "中文"]
        var state: UInt64 = 42
        func roll() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33)
        }
        var texts = ["", String(repeating: "x", count: 64_000), String(repeating: "ab\"", count: 1_000)]
        for length in 0..<400 {
            texts.append((0..<(length % 60)).map { _ in pieces[roll() % pieces.count] }.joined())
        }
        return texts
    }()

    @Test("A string is written as the byte-by-byte escaping wrote it, and reads back as itself")
    func roundTrip() throws {
        for text in Self.texts {
            var written: [UInt8] = []
            JSONWriter.appendQuoted(text, to: &written)
            #expect(written == Self.reference(text))
            let (read, end, skippedTo) = try written.withUnsafeBufferPointer { bytes in
                var reader = JSONParser(bytes)
                let read = try reader.readString("text")
                var skipper = JSONParser(bytes)
                try skipper.skipValue()
                return (read, reader.index, skipper.index)
            }
            #expect(read == text)
            #expect(end == written.count)
            #expect(skippedTo == written.count)
        }
    }

    @Test("A key is read as written or escaped, and an unterminated string or a raw control character is refused")
    func keysAndRefusals() throws {
        func members(_ text: String) throws -> [String] {
            try Array(text.utf8).withUnsafeBufferPointer { bytes in
                var parser = JSONParser(bytes)
                var keys: [String] = []
                try parser.forEachMember("body") { (parser, key) throws(MeterrError) in
                    keys.append(key)
                    try parser.skipValue()
                }
                return keys
            }
        }
        #expect(
            try members(#"{"model":1,"a_rather_long_key_name_here":2,"mo\u0064el":3,"q\"":4}"#) == [
                "model", "a_rather_long_key_name_here", "model", "q\"",
            ])
        for bad in [
            #"{"model":"unterminated"#, "{\"model\":\"a\u{1}b\"}", "{\"mo\u{1F}del\":1}",
            #"{"model":"ends in a backslash\"#,
            #"{"unterminated key"#,
        ] {
            #expect(throws: MeterrError.self) { try members(bad) }
        }
    }
}
