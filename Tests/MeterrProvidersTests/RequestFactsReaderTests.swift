import MeterrCore
import Testing

@testable import MeterrProviders

/// A request's facts are read by walking its body's bytes; they must be what the parsed body says,
/// odd bodies included.
@Suite("Request facts read from the bytes")
struct RequestFactsReaderTests {
    static let bodies: [String] = [
        #"{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}"#,
        #"{"model":"gpt-4.1","stream":true,"stream_options":{"include_usage":true},"max_tokens":64,"user":"ana"}"#,
        #"{"model":"o3","max_completion_tokens":10,"max_tokens":20,"max_output_tokens":30}"#,
        #"{"max_tokens":20,"max_output_tokens":30}"#, #"{"max_output_tokens":"30"}"#, #"{"max_tokens":5.0}"#,
        #"{"stream":"true","stream_options":null}"#, #"{"stream_options":{"include_usage":"yes"}}"#,
        #"{"stream_options":7,"user":5,"model":null}"#,
        // Repeated members: the last counts.
        #"{"model":"a","model":"b","stream":true,"stream":false}"#,
        // Escaped keys, and members nested deeper that are not the top level's.
        #"{"mod\u0065l":"esc","messages":[{"model":"inner","stream":true}]}"#,
        "\n  {\"model\" : \"spaced\" }  \n", #"{}"#,
        // Not one JSON object.
        #"{"model":"a"} {"model":"b"}"#, #"{"model":"a"}x"#, #"["model"]"#, #"{"model":}"#, "", "null", #""model""#,
    ]

    @Test("A body's facts are those of its parsed form", arguments: bodies)
    func equalsParsed(body: String) {
        #expect(RequestFacts(body: Array(body.utf8)) == Self.parsed(body))
    }

    /// What the parsed body says (the reader before it walked the bytes).
    static func parsed(_ body: String) -> RequestFacts {
        guard case .object(let members)? = JSONValue(parsing: Array(body.utf8)) else {
            return RequestFacts(bodyIsObject: false)
        }
        let options = members["stream_options"]
        return RequestFacts(
            model: members["model"]?.string, stream: members["stream"] == .bool(true),
            maxTokens: members["max_completion_tokens"]?.int ?? members["max_tokens"]?.int
                ?? members["max_output_tokens"]?.int,
            includesUsage: options?["include_usage"] == .bool(true), user: members["user"]?.string)
    }
}
