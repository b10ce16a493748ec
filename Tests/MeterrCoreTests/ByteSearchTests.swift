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
}
