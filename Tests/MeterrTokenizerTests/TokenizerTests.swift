import Foundation
import Testing

@testable import MeterrTokenizer

@Suite("Tokenizer API and hard inputs")
struct TokenizerTests {
    let o200k = try! Tokenizer.shared(for: .o200kBase)
    let cl100k = try! Tokenizer.shared(for: .cl100kBase)

    @Test("the reference's worked examples give tiktoken's ids")
    func referenceExamples() {
        #expect(cl100k.encode("tiktoken is great!") == [83, 1609, 5963, 374, 2294, 0])
        #expect(o200k.encode("tiktoken is great!") == [83, 8251, 2488, 382, 2212, 0])
        #expect(o200k.encode("お誕生日おめでとう") == [8930, 9697, 243, 128_225, 8930, 17693, 4344, 48669])
        #expect(cl100k.count("お誕生日おめでとう") == 9)
        #expect(cl100k.encode("2 + 2 = 4") == [17, 489, 220, 17, 284, 220, 19])
        #expect(cl100k.encode("'RE") == [95253])
        #expect(o200k.encode("'RE") == [6, 1099])
    }

    @Test("empty input has no tokens")
    func empty() throws {
        for t in [o200k, cl100k] {
            #expect(t.encode("") == [])
            #expect(t.count("") == 0)
            #expect(t.countParallel("") == 0)
            #expect(try t.decode([]) == [])
        }
    }

    @Test("a megabyte of one letter is one piece counted without quadratic blow-up")
    func megabyteRun() {
        let text = String(repeating: "a", count: 1_000_000)
        #expect(o200k.count(text) == 125_000)
        #expect(cl100k.count(text) == 125_000)
        let ids = o200k.encode(text)
        #expect(ids.count == 125_000 && ids.allSatisfy { $0 == 117_525 })
        let mixed = "x" + String(repeating: "é", count: 300_000) + String(repeating: "ab", count: 200_000)
        #expect(o200k.count(mixed) == 400_001)
        #expect(cl100k.count(mixed) == 500_001)
    }

    @Test("special-token text is ordinary text unless allowed, and disallowed text throws")
    func specialTokens() throws {
        #expect(o200k.encode("<|endoftext|>hi").count > 2)
        #expect(try o200k.encode("<|endoftext|>hi", allowedSpecial: .all) == [199_999, 3686])
        #expect(try cl100k.encode("<|endoftext|>hi", allowedSpecial: .some(["<|endoftext|>"])) == [100_257, 6151])
        #expect(throws: TokenizerError.disallowedSpecialToken("<|endoftext|>")) {
            try cl100k.encode("a <|endoftext|>", allowedSpecial: .none)
        }
        #expect(
            try cl100k.encode("a <|endoftext|>", allowedSpecial: .none, disallowedSpecial: false)
                == cl100k.encode("a <|endoftext|>"))
        #expect(try cl100k.decode([100_257]) == Array("<|endoftext|>".utf8))
        // A combining mark after the token forms one Character with `>`; tiktoken still sees the token.
        #expect(throws: TokenizerError.disallowedSpecialToken("<|endoftext|>")) {
            try o200k.encode("<|endoftext|>\u{301}", allowedSpecial: .none)
        }
        #expect(try o200k.encode("<|endoftext|>\u{301}", allowedSpecial: .all).first == 199_999)
    }

    @Test("Tekken control tokens are emitted when allowed and offset ordinary ids by 1000")
    func tekkenSpecials() throws {
        let tekken = try Tokenizer.shared(for: .tekken)
        let hi = tekken.encode("hi")
        #expect(hi.allSatisfy { $0 >= 1000 })
        #expect(try tekken.encode("[INST]hi[/INST]", allowedSpecial: .all) == [3] + hi + [4])
        #expect(try tekken.decode([1, 3] + hi + [4]) == Array("<s>[INST]hi[/INST]".utf8))
    }

    @Test("decoding an unknown id throws")
    func unknownID() {
        #expect(throws: TokenizerError.unknownTokenID(100_256)) { try cl100k.decode([100_256]) }
        #expect(throws: TokenizerError.unknownTokenID(-1)) { try o200k.decode([-1]) }
    }

    @Test("a vocabulary whose hash differs from the published one is rejected")
    func hashMismatch() {
        let data = Data("YQ== 0\n".utf8)
        #expect(throws: TokenizerError.self) { try Tokenizer(encoding: .o200kBase, tiktokenData: data) }
    }

    @Test("parallel counting equals sequential counting on a large mixed document")
    func parallelCount() throws {
        var text = ""
        for c in Fixtures.golden where c.kind == "text" {
            text += String(decoding: c.bytes, as: UTF8.self) + "\n"
        }
        text = String(repeating: text, count: 3)
        for t in [o200k, cl100k, try Tokenizer.shared(for: .tekken)] {
            let sequential = t.count(text)
            #expect(t.countParallel(text, chunks: 7) == sequential)
            #expect(t.countParallel(text) == sequential)
        }
    }

    @Test("CRLF and whitespace runs split like tiktoken")
    func whitespaceRuns() throws {
        #expect(o200k.encode("a\r\n\r\n  b").count == cl100k.encode("a\r\n\r\n  b").count)
        #expect(try o200k.decode(o200k.encode("x \n  ")) == Array("x \n  ".utf8))
    }

    @Test("both OpenAI vocabularies stay within the memory budget")
    func memory() {
        #expect(o200k.vocabularySize == 199_998)
        #expect(cl100k.vocabularySize == 100_256)
        #expect(o200k.residentBytes + cl100k.residentBytes + 0x11_0000 < 40_000_000)
    }

    @Test("the SHA-256 implementation matches the FIPS test vectors")
    func sha256() {
        #expect(SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(SHA256.hex(long) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}
