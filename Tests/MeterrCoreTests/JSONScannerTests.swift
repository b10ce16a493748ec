import MeterrCore
import Testing

@Suite("Reading members of a JSON object")
struct JSONScannerTests {
    func topLevel(_ keys: Set<String>, _ text: String, wholeBody: Bool = false) -> JSONValue? {
        Array(text.utf8).withUnsafeBufferPointer {
            JSONMemberScanner.topLevel(keys: keys, in: $0, wholeBody: wholeBody)
        }
    }

    @Test("Keys are matched as written or escaped, and the members skipped are still checked")
    func keys() {
        let found = topLevel(
            ["model", "usage"], #"{"mo\u0064el":"gpt-4.1","choices":[{"a_long_member_name":1}],"usage":{"x":2}}"#)
        #expect(found?["model"]?.string == "gpt-4.1")
        #expect(found?["usage"]?["x"]?.int == 2)
        #expect(found?["choices"] == nil)
        // An invalid escape or a control character in a skipped member's key is still malformed JSON.
        #expect(topLevel(["model"], #"{"model":"m","other":{"b\q":1}}"#) == nil)
        #expect(topLevel(["model"], "{\"model\":\"m\",\"ot\u{1}her\":1}") == nil)
        #expect(topLevel(["model"], #"{"model":"m","other":{"b":1}"#) == nil)
        #expect(topLevel(["model"], #"{"model":"m"} x"#, wholeBody: true) == nil)
        // The last of a repeated member counts.
        #expect(topLevel(["model"], #"{"model":"a","model":"b"}"#)?["model"]?.string == "b")
    }

    @Test("A member's value range and a value along a path skip the rest unbuilt")
    func ranges() {
        let text = #"{"id":"x","n\u0061me":[1,2],"deep":{"inner":{"v":true}}}"#
        let range = Array(text.utf8).withUnsafeBufferPointer {
            JSONMemberScanner.topLevelValueRange(key: "name", in: $0)
        }
        #expect(range.map { String(decoding: Array(text.utf8)[$0], as: UTF8.self) } == "[1,2]")
        #expect(JSONMemberScanner.value(at: ["deep", "inner", "v"], in: Array(text.utf8)) == .bool(true))
        #expect(JSONMemberScanner.value(at: ["deep", "missing"], in: Array(text.utf8)) == nil)
    }
}
