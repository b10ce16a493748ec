import Foundation
import MeterrCore
import Testing

@Suite("Reading usage events from JSON")
struct UsageEventParserTests {
    static let minimal = #"{"provider":"openai","model":"gpt-4o","input_tokens":10,"output_tokens":2}"#
    /// When the parsed bodies arrived: a leap day's last second.
    static let received = Timestamp(rfc3339: "2028-02-29T23:59:59.500Z")!

    func field(of json: String) -> String? {
        do {
            _ = try UsageEventParser.parseBatch(Array(json.utf8), receivedAt: Self.received)
            return nil
        } catch {
            return error.field
        }
    }

    @Test("An event printed as JSON reads back equal, whatever its strings hold")
    func roundTrip() throws {
        let awkward = "quote \" backslash \\ newline \n tab \t nul \u{0} bell \u{7} emoji 👩‍👩‍👧 accents é"
        let event = UsageEvent(
            id: awkward, ts: Timestamp(rfc3339: "2026-02-28T23:59:59.999Z")!, org: "o", team: awkward, user: "u",
            project: nil, keyId: "k", tags: [awkward: awkward, "env": "prod"], provider: .gemini,
            model: "gemini-2.5-pro", modelRequested: "models/gemini-2.5-pro", endpoint: "generateContent",
            usage: Usage(
                inputTokens: 300_000, cacheReadTokens: 1, cacheWriteTokens: 2, cacheWrite1hTokens: 3,
                outputTokens: 40, reasoningTokens: 30),
            cost: Money(nanos: 1_234_567_891), priceId: "p", usageSource: .estimated, stream: true, status: 529,
            latencyMs: 0, ttftMs: nil, requestId: "r", upstreamRequestId: nil, route: "fallback")
        let parsed = try UsageEventParser.parseEvent(event.jsonLine, receivedAt: Self.received)
        #expect(parsed == event)
        // Foundation's decoder agrees with the parser on the same bytes.
        #expect(try JSONDecoder().decode(UsageEvent.self, from: Data(event.jsonLine)) == event)
    }

    @Test("Batches come as one event, an array, or an events wrapper")
    func shapes() throws {
        #expect(try UsageEventParser.parseBatch(Array(Self.minimal.utf8), receivedAt: Self.received).events.count == 1)
        let array = try UsageEventParser.parseBatch(
            Array("[\(Self.minimal),\(Self.minimal)]".utf8), receivedAt: Self.received)
        #expect(array.events.count == 2)
        #expect(array.shape.prefix(1) == "[1].")
        let wrapped = try UsageEventParser.parseBatch(
            Array(#"{"batch":1,"events":[\#(Self.minimal)]}"#.utf8), receivedAt: Self.received)
        #expect(wrapped.events.count == 1)
        #expect(wrapped.shape.prefix(0) == "events[0].")
    }

    @Test("An event without a time happened when it arrived; one with a time keeps it")
    func receivedAt() throws {
        let untimed = try UsageEventParser.parseEvent(Array(Self.minimal.utf8), receivedAt: Self.received)
        #expect(untimed.ts == Self.received)
        #expect(untimed.id.hasPrefix("evt_"))
        let timed = try UsageEventParser.parseEvent(
            Array(
                #"{"ts":"2027-01-01T00:00:00Z","provider":"openai","model":"m","input_tokens":1,"output_tokens":1}"#
                    .utf8),
            receivedAt: Self.received)
        #expect(timed.ts.rfc3339 == "2027-01-01T00:00:00.000Z")
    }

    @Test("Unknown keys are skipped, nulls mean absent, escapes and surrogate pairs are decoded")
    func tolerance() throws {
        let json = #"""
            {"future":{"nested":[1,2.5e3,{"x":null}],"s":"\u00e9"},"provider":"anthropic","model":"c\u00e9",
             "team":null,"tags":{"a\/b":"\ud83d\ude00"},"input_tokens":5,"output_tokens":0,"cost_usd":0.00001,
             "stream":null,"usage_source":"estimated","cache_read_tokens":null}
            """#
        let event = try UsageEventParser.parseEvent(Array(json.utf8), receivedAt: Self.received)
        #expect(event.model == "cé")
        #expect(event.team == nil)
        #expect(event.tags == ["a/b": "😀"])
        #expect(event.cost == Money(nanos: 10_000))
        #expect(event.usageSource == .estimated)
        #expect(event.usage == Usage(inputTokens: 5))
    }

    @Test("Each kind of bad input names the field at fault")
    func errors() {
        let cases: [(String, String)] = [
            (#"{"provider":"openai","model":"m","input_tokens":1.5,"output_tokens":1}"#, "input_tokens"),
            (#"{"provider":"openai","model":"m","input_tokens":1e2,"output_tokens":1}"#, "input_tokens"),
            (
                #"{"provider":"openai","model":"m","input_tokens":99999999999999999999,"output_tokens":1}"#,
                "input_tokens"
            ),
            (#"{"provider":"openai","model":"m","input_tokens":"3","output_tokens":1}"#, "input_tokens"),
            (#"{"provider":"openai","model":"m","input_tokens":null,"output_tokens":1}"#, "input_tokens"),
            (#"{"provider":"openai","model":"m","input_tokens":1}"#, "output_tokens"),
            (#"{"provider":"openai","model":7,"input_tokens":1,"output_tokens":1}"#, "model"),
            (#"{"provider":"nope","model":"m","input_tokens":1,"output_tokens":1}"#, "provider"),
            (#"{"provider":"openai","model":"m","input_tokens":1,"output_tokens":1,"ts":"soon"}"#, "ts"),
            (#"{"provider":"openai","model":"m","input_tokens":1,"output_tokens":1,"tags":[]}"#, "tags"),
            (#"{"provider":"openai","model":"m","input_tokens":1,"output_tokens":1,"tags":{"k":2}}"#, "tags.k"),
            (#"{"provider":"openai","model":"m","input_tokens":1,"output_tokens":1,"cost_usd":"1e-3"}"#, "cost_usd"),
            (#"{"provider":"openai","model":"m","input_tokens":1,"output_tokens":1,"stream":"yes"}"#, "stream"),
            (#"[{"provider":"openai","model":"m","input_tokens":1,"output_tokens":1},{"model":"m"}]"#, "[1].provider"),
            (
                #"{"x":1,"events":[{"provider":"openai","model":"m","input_tokens":-1,"output_tokens":"a"}]}"#,
                "events[0].output_tokens"
            ),
            (#"{"provider":"openai","model":"m","input_tokens":1,"output_tokens":1} trailing"#, "body"),
            (#"{"provider":"openai","model":"m\u0001","input_tokens":1,"output_tokens":1,}"#, "body"),
            ("{\"provider\":\"openai\",\"model\":\"a\u{1}b\",\"input_tokens\":1,\"output_tokens\":1}", "body"),
            (String(repeating: "[", count: 100) + String(repeating: "]", count: 100), "[0]"),
            (#"{"future":"# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}", "body"),
            ("", "body"),
            ("true", "body"),
        ]
        for (json, expected) in cases {
            let found = field(of: json)
            #expect(found != nil, "accepted: \(json.prefix(80))")
            #expect(found == expected, "\(json.prefix(80))")
        }
    }

    @Test("Random bytes never crash the parser")
    func fuzz() {
        var state: UInt64 = 12345
        let alphabet = Array(#"{}[]":,0123456789.eE-+truefalsnl \abcu\"#.utf8) + [0xC3, 0xA9, 0xFF, 0x00]
        let seed = Array(#"{"provider":"openai","model":"m","input_tokens":1,"output_tokens":1,"tags":{"a":"b"}}"#.utf8)
        for _ in 0..<20_000 {
            var bytes = seed
            for _ in 0..<3 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let position = Int(state >> 33) % bytes.count
                let byte = alphabet[Int(state >> 20) % alphabet.count]
                switch state % 3 {
                case 0: bytes[position] = byte
                case 1: bytes.insert(byte, at: position)
                default: bytes.remove(at: position)
                }
                if bytes.isEmpty { bytes = seed }
            }
            _ = try? UsageEventParser.parseBatch(bytes, receivedAt: Self.received)
        }
    }
}
