import Foundation
import Testing

@testable import MeterrTokenizer

/// One golden case from Fixtures/golden.jsonl (scripts/tokenizer/make_fixtures.py, real tiktoken/mistral-common).
struct GoldenCase: Sendable {
    let name: String
    let kind: String
    let bytes: [UInt8]
    let ids: [Encoding: [Int]]
}

enum Fixtures {
    static let golden: [GoldenCase] = {
        let url = Bundle.module.url(forResource: "Fixtures/golden", withExtension: "jsonl")!
        let text = try! String(contentsOf: url, encoding: .utf8)
        var cases: [GoldenCase] = []
        for line in text.split(separator: "\n") {
            let object = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            var ids: [Encoding: [Int]] = [:]
            for encoding in Encoding.allCases {
                if let list = object[encoding.rawValue] as? [Int] { ids[encoding] = list }
            }
            cases.append(
                GoldenCase(
                    name: object["name"] as! String,
                    kind: object["kind"] as! String,
                    bytes: [UInt8](Data(base64Encoded: object["b64"] as! String)!),
                    ids: ids
                )
            )
        }
        return cases
    }()

    static func tokenizer(_ encoding: Encoding) -> Tokenizer {
        try! Tokenizer.shared(for: encoding)
    }
}

@Suite("Golden fixtures from tiktoken and mistral-common")
struct GoldenTests {
    @Test("the fixture file holds thousands of cases of every kind")
    func fixtureIsComplete() {
        #expect(Fixtures.golden.count > 2000)
        #expect(Fixtures.golden.contains { $0.kind == "bytes" })
        #expect(Fixtures.golden.contains { $0.kind == "special" })
        // At least one input is large enough for the per-call piece cache.
        #expect(Fixtures.golden.contains { $0.bytes.count >= PieceCache.minimumInput })
    }

    @Test("encode matches every id of the reference tokenizer", arguments: Encoding.allCases)
    func encodeMatches(encoding: Encoding) {
        let tokenizer = Fixtures.tokenizer(encoding)
        var checked = 0
        for c in Fixtures.golden {
            guard let expected = c.ids[encoding] else { continue }
            let actual: [Int]
            switch c.kind {
            case "special":
                actual = try! tokenizer.encode(String(decoding: c.bytes, as: UTF8.self), allowedSpecial: .all)
            default:
                actual = tokenizer.encode(c.bytes)
            }
            #expect(actual == expected, "\(encoding.rawValue) \(c.name)")
            checked += 1
        }
        #expect(checked > 2000)
    }

    @Test("count equals the number of reference ids without building them", arguments: Encoding.allCases)
    func countMatches(encoding: Encoding) {
        let tokenizer = Fixtures.tokenizer(encoding)
        for c in Fixtures.golden where c.kind != "special" {
            guard let expected = c.ids[encoding] else { continue }
            #expect(tokenizer.count(c.bytes) == expected.count, "\(encoding.rawValue) \(c.name)")
        }
    }

    @Test("String input gives the same ids as its UTF-8 bytes", arguments: Encoding.allCases)
    func stringMatchesBytes(encoding: Encoding) {
        let tokenizer = Fixtures.tokenizer(encoding)
        for c in Fixtures.golden where c.kind == "text" {
            let text = String(decoding: c.bytes, as: UTF8.self)
            #expect(tokenizer.encode(text) == c.ids[encoding], "\(encoding.rawValue) \(c.name)")
        }
    }

    @Test("decode returns the original bytes, invalid UTF-8 included", arguments: Encoding.allCases)
    func decodeRoundTrips(encoding: Encoding) throws {
        let tokenizer = Fixtures.tokenizer(encoding)
        for c in Fixtures.golden {
            guard let ids = c.ids[encoding] else { continue }
            #expect(try tokenizer.decode(ids) == c.bytes, "\(encoding.rawValue) \(c.name)")
        }
    }
}

@Suite("Every code point")
struct CodePointTests {
    struct Block: Sendable {
        let start: Int
        let expected: [Encoding: (count: Int, sha256: String)]
    }

    static let blocks: (size: Int, blocks: [Block]) = {
        let url = Bundle.module.url(forResource: "Fixtures/codepoints", withExtension: "json")!
        let object = try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let size = object["block"] as! Int
        let blocks = (object["blocks"] as! [[String: Any]]).map { entry in
            var expected: [Encoding: (Int, String)] = [:]
            for encoding in Encoding.allCases {
                let pair = entry[encoding.rawValue] as! [Any]
                expected[encoding] = (pair[0] as! Int, pair[1] as! String)
            }
            return Block(start: entry["start"] as! Int, expected: expected)
        }
        return (size, blocks)
    }()

    /// The same text as make_fixtures.py `codepoint_text`: each code point next to letters, digits, a space and a
    /// contraction, so its class decides the splits.
    static func text(_ start: Int, _ end: Int) -> [UInt8] {
        var out: [UInt8] = []
        for cp in start..<end where !(0xD800...0xDFFF).contains(cp) {
            let c = Array(String(Character(Unicode.Scalar(UInt32(cp))!)).utf8)
            out += c + Array("a".utf8) + c + Array("A1".utf8) + c + [0x20] + c + Array("'s\n".utf8)
        }
        return out
    }

    @Test("all 1,114,112 code points tokenize like the reference", arguments: Encoding.allCases)
    func everyCodePoint(encoding: Encoding) {
        let tokenizer = Fixtures.tokenizer(encoding)
        let (size, blocks) = Self.blocks
        #expect(blocks.count == 0x11_0000 / size)
        for block in blocks {
            let ids = tokenizer.encode(Self.text(block.start, block.start + size))
            var le: [UInt8] = []
            le.reserveCapacity(ids.count * 4)
            for id in ids { withUnsafeBytes(of: UInt32(id).littleEndian) { le.append(contentsOf: $0) } }
            let expected = block.expected[encoding]!
            #expect(ids.count == expected.count, "\(encoding.rawValue) block \(block.start)")
            #expect(SHA256.hex(le) == expected.sha256, "\(encoding.rawValue) block \(block.start)")
        }
    }

    @Test("the class table has the generated hash and a flag for every code point")
    func classTableHash() {
        let table = CodePointClassTable.shared
        let all = (0..<0x11_0000).map { table.flags(of: UInt32($0)) }
        #expect(SHA256.hex(all) == unicodeClassTableSHA256)
    }
}
