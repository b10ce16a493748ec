import MeterrCore
import Testing

@Suite("Searching bytes")
struct ByteSearchTests {
    @Test("A byte pattern is found where it first occurs, in the slice's own indices")
    func ranges() {
        let bytes = Array("data: {\"id\":1} data: x".utf8)
        #expect(bytes.range(ofBytes: Array("data:".utf8)) == 0..<5)
        #expect(bytes[1...].range(ofBytes: Array("data:".utf8)) == 15..<20)
        #expect(bytes[16...].range(ofBytes: Array("data:".utf8)) == nil)
        #expect(bytes.range(ofBytes: Array("x".utf8)) == 21..<22)
        #expect(bytes.range(ofBytes: []) == nil)
        #expect(Array("da".utf8).range(ofBytes: Array("data".utf8)) == nil)
        #expect([UInt8]().range(ofBytes: Array("a".utf8)) == nil)
        // Agrees with the standard library's search everywhere in a text full of near misses.
        let text = Array("aab abab aabab ab aaab".utf8)
        for start in 0...text.count {
            #expect(
                text[start...].range(ofBytes: Array("aab".utf8)) == text[start...].firstRange(of: Array("aab".utf8)))
        }
    }

    @Test("Header values are searched without regard to ASCII case")
    func ignoringCase() {
        #expect("text/event-stream; charset=utf-8".containsIgnoringASCIICase("event-stream"))
        #expect("Text/Event-Stream".containsIgnoringASCIICase("event-stream"))
        #expect("application/x-ndjson".containsIgnoringASCIICase("NDJSON"))
        #expect(!"application/json".containsIgnoringASCIICase("event-stream"))
        #expect(!"event-strea".containsIgnoringASCIICase("event-stream"))
        #expect("".containsIgnoringASCIICase(""))
        #expect(!"".containsIgnoringASCIICase("a"))
        // Only ASCII letters fold: "[" (0x5B) is not "{" (0x7B).
        #expect(!"[".containsIgnoringASCIICase("{"))
    }

    @Test("Header names compare and lower-case without regard to ASCII case, and only ASCII letters fold")
    func namesIgnoringCase() {
        #expect("Content-Type".equalsIgnoringASCIICase("content-type"))
        #expect("X-METERR-TEAM".equalsIgnoringASCIICase("x-meterr-team"))
        #expect(!"content-type".equalsIgnoringASCIICase("content-typ"))
        #expect(!"content-typf".equalsIgnoringASCIICase("content-type"))
        #expect(!"@".equalsIgnoringASCIICase("`"))
        #expect(!"[".equalsIgnoringASCIICase("{"))
        #expect("".equalsIgnoringASCIICase(""))
        #expect("Ünïcode-ÄB".equalsIgnoringASCIICase("Ünïcode-äb") == false, "only ASCII folds")
        #expect("Ünïcode-AB".equalsIgnoringASCIICase("Ünïcode-ab"))
        #expect("X-Meterr-Team".hasPrefixIgnoringASCIICase("x-meterr-"))
        #expect(!"x-meter".hasPrefixIgnoringASCIICase("x-meterr-"))
        #expect(!"y-meterr-team".hasPrefixIgnoringASCIICase("x-meterr-"))
        #expect("Content-Type".asciiLowercased == "content-type")
        #expect("x-api-key".asciiLowercased == "x-api-key")
        #expect("Ä-X".asciiLowercased == "Ä-x")
    }

    @Test("A JSON string's plain run ends at the first quote, backslash or control byte, wherever it falls in a word")
    func plainJSONText() {
        // The answer byte by byte, as the walk did before.
        func reference(_ bytes: [UInt8], from start: Int) -> Int {
            var index = start
            while index < bytes.count, bytes[index] != 0x22, bytes[index] != 0x5C, bytes[index] >= 0x20 { index += 1 }
            return index
        }
        func scanned(_ bytes: [UInt8], from start: Int) -> Int {
            bytes.withUnsafeBufferPointer { $0.endOfPlainJSONText(from: start) }
        }
        // Near misses around each special byte, and UTF-8's high bytes, which are plain.
        let plain: [UInt8] = [0x20, 0x21, 0x23, 0x5B, 0x5D, 0x7F, 0x80, 0xA2, 0xDC, 0xFF, 0x41, 0x3A]
        let special: [UInt8] = [0x22, 0x5C, 0x00, 0x01, 0x09, 0x0A, 0x1F]
        for length in 0...40 {
            let base = (0..<length).map { plain[$0 % plain.count] }
            for start in 0...(length + 2) {
                #expect(scanned(base, from: start) == reference(base, from: start))
            }
            for place in 0..<length {
                for byte in special {
                    var bytes = base
                    bytes[place] = byte
                    for start in 0...length { #expect(scanned(bytes, from: start) == reference(bytes, from: start)) }
                }
            }
        }
        // Random texts with a special byte now and then (a fixed seed: the same texts every run).
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func roll() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33)
        }
        for _ in 0..<2_000 {
            let bytes = (0..<roll() % 200).map { _ in
                let value = roll()
                return value % 50 == 0 ? special[value % special.count] : UInt8(0x20 + value % 0xE0)
            }
            let start = bytes.isEmpty ? 0 : roll() % bytes.count
            #expect(scanned(bytes, from: start) == reference(bytes, from: start))
        }
    }
}
