import MeterrCore
import Testing

@testable import MeterrProviders

/// The whole-response reader of OpenAI-shaped usage walks the bytes; it must read exactly what the
/// parsed body says (`OpenAIUsage.chat`/`responses` over `JSONValue`), odd bodies included.
@Suite("OpenAI usage read from the bytes")
struct OpenAIUsageReaderTests {
    static let bodies: [String] = [
        #"{"id":"c1","model":"gpt-4.1","choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":4,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":2}}}"#,
        #"{"id":"r1","model":"o3","usage":{"input_tokens":7,"input_tokens_details":{"cached_tokens":1},"output_tokens":9,"output_tokens_details":{"reasoning_tokens":5}}}"#,
        // Repeated members: the last one counts, as in a parsed object.
        #"{"usage":{"prompt_tokens":1},"usage":{"prompt_tokens":2,"prompt_tokens":3},"model":"a","model":"b"}"#,
        #"{"usage":{"prompt_tokens":5},"usage":null}"#,
        #"{"usage":null,"id":"x"}"#,
        // Not an object, or counts that are not whole numbers.
        #"{"usage":42,"model":""}"#,
        #"{"usage":{"prompt_tokens":"12","completion_tokens":3.0,"prompt_tokens_details":7,"completion_tokens_details":{"reasoning_tokens":1.5}}}"#,
        #"{"usage":{"prompt_tokens":1e3,"completion_tokens":-2}}"#,
        // Escaped keys, whitespace, nesting around the members read.
        " { \"us\\u0061ge\" : { \"prompt_tokens\" : 8 , \"completion_tokens\":1 } , \"choices\" : [ {\"usage\":{\"prompt_tokens\":99}} ] } ",
        #"{"error":{"message":"Rate limit reached","type":"rate_limit"},"usage":null}"#,
        #"{"error":{"type":"x"}}"#,
        #"{"error":null,"id":7}"#,
        #"{}"#,
        // Not one JSON object: no reading.
        #"[1,2]"#, #"{"usage":{"prompt_tokens":1}"#, #"{"usage":{"prompt_tokens":}}"#, "", "null",
    ]

    @Test("Chat Completions and Responses bodies read as their parsed form does", arguments: bodies)
    func equalsParsed(body: String) {
        for endpoint in [ProviderEndpoint.chatCompletions, .responses, .embeddings] {
            let read = OpenAIUsage.read(endpoint: endpoint, body: Array(body.utf8))
            #expect(read == Self.parsed(body, endpoint: endpoint), "\(endpoint)")
        }
    }

    /// What the parsed body says (the reader before it walked the bytes).
    static func parsed(_ body: String, endpoint: ProviderEndpoint) -> UsageReading {
        guard let root = JSONValue(parsing: Array(body.utf8)), case .object = root else { return UsageReading() }
        var reading = UsageReading(responseId: root["id"]?.string, finished: true)
        reading.noteModel(root["model"])
        if let usage = root["usage"], !usage.isNull {
            reading.usage = endpoint == .responses ? OpenAIUsage.responses(usage) : OpenAIUsage.chat(usage)
        }
        if let error = root["error"], !error.isNull { reading.error = error["message"]?.string ?? "error" }
        return reading
    }
}
