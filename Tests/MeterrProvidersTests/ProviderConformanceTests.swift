import Foundation
import MeterrCore
import MeterrProviders
import Testing

/// One provider's recorded request and what its profile must make of it: the shared conformance
/// case every provider fills in (a new provider: one folder in Sources/MeterrProviders, its fixtures,
/// and one case here).
struct ProfileCase: Sendable, CustomTestStringConvertible {
    var provider: Provider
    /// A metered call: its path below the gateway prefix, its recorded body, and what inspection finds.
    var path: String
    var request: String
    var endpoint: ProviderEndpoint
    var model: String?
    var stream: Bool
    var maxTokens: Int?
    /// Where meterr keys travel in this provider's SDK, and how that SDK is pointed at meterr.
    var keyHeader: String
    var sdkBasePath: String
    /// A POST that costs nothing (forwarded unmetered), if the provider has one.
    var freeCall: String?
    /// Where the message sits in its error body.
    var errorMessage: [String]
    /// Its OpenAI-compatible Chat Completions path, if any.
    var compatiblePath: String?

    var testDescription: String { provider.rawValue }
}

let profileCases: [ProfileCase] = [
    ProfileCase(
        provider: .openai, path: "/v1/chat/completions", request: "openai-request.json", endpoint: .chatCompletions,
        model: "gpt-4.1", stream: true, maxTokens: 100, keyHeader: "authorization", sdkBasePath: "/openai/v1",
        freeCall: "/v1/moderations", errorMessage: ["error", "message"], compatiblePath: "/v1/chat/completions"),
    ProfileCase(
        provider: .azure, path: "/openai/deployments/prod-gpt41/chat/completions?api-version=2024-10-21",
        request: "azure-request.json", endpoint: .chatCompletions, model: "prod-gpt41", stream: false, maxTokens: 50,
        keyHeader: "api-key", sdkBasePath: "/azure", freeCall: "/openai/deployments/prod-gpt41/moderations",
        errorMessage: ["error", "message"], compatiblePath: "/openai/v1/chat/completions"),
    ProfileCase(
        provider: .anthropic, path: "/v1/messages", request: "anthropic-request.json", endpoint: .messages,
        model: "claude-sonnet-4-5", stream: true, maxTokens: 1024, keyHeader: "x-api-key",
        sdkBasePath: "/anthropic", freeCall: nil, errorMessage: ["error", "message"],
        compatiblePath: "/v1/chat/completions"),
    ProfileCase(
        provider: .gemini, path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        request: "gemini-request.json", endpoint: .streamGenerateContent, model: "gemini-2.5-flash", stream: true,
        maxTokens: nil, keyHeader: "x-goog-api-key", sdkBasePath: "/gemini", freeCall: nil,
        errorMessage: ["error", "message"], compatiblePath: "/v1beta/openai/chat/completions"),
    ProfileCase(
        provider: .mistral, path: "/v1/chat/completions", request: "mistral-request.json", endpoint: .chatCompletions,
        model: "mistral-large-latest", stream: false, maxTokens: 64, keyHeader: "authorization",
        sdkBasePath: "/mistral", freeCall: nil, errorMessage: ["error", "message"],
        compatiblePath: "/v1/chat/completions"),
    ProfileCase(
        provider: .cohere, path: "/v2/chat", request: "cohere-request.json", endpoint: .chat,
        model: "command-a-03-2025", stream: true, maxTokens: 300, keyHeader: "authorization",
        sdkBasePath: "/cohere", freeCall: "/v1/tokenize", errorMessage: ["message"],
        compatiblePath: "/compatibility/v1/chat/completions"),
]

@Suite("Every provider's profile, over its recorded requests and responses")
struct ProviderConformanceTests {
    @Test("Every provider has its case, a whole and a streamed usage fixture, and one folder of its own")
    func coverage() throws {
        #expect(Set(profileCases.map(\.provider)) == Set(Provider.allCases))
        for provider in Provider.allCases {
            let cases = usageCases.filter { $0.provider == provider }
            #expect(cases.contains { $0.framing == nil }, "\(provider): a whole response")
            #expect(cases.contains { $0.framing != nil }, "\(provider): a stream")
            #expect(Providers.profile(provider).provider == provider)
        }
    }

    @Test("A recorded request is inspected: endpoint, model, stream and output limit", arguments: profileCases)
    func inspection(_ item: ProfileCase) throws {
        let profile = Providers.profile(item.provider)
        let body = try fixture(item.request)
        let path = String(item.path.prefix { $0 != "?" })
        let query = item.path.firstIndex(of: "?").map { String(item.path[item.path.index(after: $0)...]) }
        #expect(profile.endpoint(forPath: item.path) == item.endpoint)
        let facts = profile.inspect(path: path, query: query, body: body)
        #expect(facts.model == item.model)
        #expect(facts.stream == item.stream)
        #expect(facts.maxTokens == item.maxTokens)
        #expect(facts.bodyIsObject)
        #expect(profile.refusal(path: item.path, endpoint: item.endpoint, facts: facts) == nil, "it is forwarded")
    }

    @Test("An OpenAI-format path's endpoint is found by its last segments, before any query, and nothing else")
    func openAIEndpoints() {
        let profile = Providers.profile(.openai)
        let expected: [(String, ProviderEndpoint?)] = [
            ("/v1/chat/completions", .chatCompletions), ("/v1/completions", .completions),
            ("/v1/responses?stream=true", .responses), ("/v1/embeddings", .embeddings),
            ("/v1/chat/completions?a=/embeddings", .chatCompletions), ("/v1/models", nil),
            ("/v1/chat/completions/x", nil), ("completions", nil), ("", nil), ("?/completions", nil),
            ("/v1/é/embeddings", .embeddings), ("/v1/embeddingsé", nil),
        ]
        for (path, endpoint) in expected { #expect(profile.endpoint(forPath: path) == endpoint, "\(path)") }
    }

    @Test(
        "What cannot be metered is refused (404), what costs nothing goes, a call without a model is a 400",
        arguments: profileCases)
    func refusals(_ item: ProfileCase) throws {
        let profile = Providers.profile(item.provider)
        let unmetered = profile.refusal(
            path: "/v1/images/generations", endpoint: nil, facts: RequestFacts(body: Array("{}".utf8)))
        #expect(unmetered?.code == .notFound)
        #expect(unmetered?.message.contains(profile.meteredCalls) == true)
        if let free = item.freeCall {
            #expect(profile.endpoint(forPath: free) == nil)
            #expect(profile.refusal(path: free, endpoint: nil, facts: RequestFacts(body: Array("{}".utf8))) == nil)
        }
        let notJSON = profile.refusal(
            path: item.path, endpoint: item.endpoint, facts: RequestFacts(body: Array("[1]".utf8)))
        #expect(notJSON?.code == .invalidRequest)
        // A body without its model, on a path without one.
        let bare = item.path.replacingOccurrences(of: item.model ?? "", with: "")
        let noModel = profile.refusal(
            path: bare, endpoint: item.endpoint,
            facts: profile.inspect(path: bare, query: nil, body: Array(#"{"messages":[]}"#.utf8)))
        #expect(noModel?.code == .invalidRequest, "\(bare)")
    }

    @Test("Keys: the SDK's header is read, the provider's key is placed where it looks", arguments: profileCases)
    func keys(_ item: ProfileCase) {
        let profile = Providers.profile(item.provider)
        #expect(profile.keyHeaders.first == item.keyHeader)
        let native = profile.credentialHeader(key: "sk-x", compatible: false)
        #expect(native.name == item.keyHeader)
        #expect(native.value == (native.name == "authorization" ? "Bearer sk-x" : "sk-x"))
        #expect(profile.sdkBasePath == item.sdkBasePath)
        #expect(profile.gatewayMounts.allSatisfy { $0.hasPrefix(profile.gatewayPrefix + "/") })
        #expect(item.sdkBasePath.hasPrefix(profile.gatewayPrefix))
        #expect(Providers.routed("\(item.provider.rawValue)/some-model")! == (item.provider, "some-model"))
        // Where the provider's own SDK reads its key, so meterr finds it there too.
        let variables: [Provider: String] = [
            .openai: "OPENAI_API_KEY", .azure: "AZURE_OPENAI_API_KEY", .anthropic: "ANTHROPIC_API_KEY",
            .gemini: "GEMINI_API_KEY", .mistral: "MISTRAL_API_KEY", .cohere: "COHERE_API_KEY",
        ]
        #expect(profile.keyVariable == variables[item.provider])
    }

    @Test("Errors come in the provider's own shape for every status meterr answers", arguments: profileCases)
    func errors(_ item: ProfileCase) throws {
        let profile = Providers.profile(item.provider)
        for status in [400, 401, 403, 404, 413, 429, 500, 502, 504] {
            let body = profile.errorBody(status: status, message: "why \"it\" failed")
            var value: Any? = try JSONSerialization.jsonObject(with: Data(body))
            for key in item.errorMessage { value = (value as? [String: Any])?[key] }
            #expect(value as? String == "why \"it\" failed", "\(status)")
        }
    }

    @Test("The OpenAI-compatible surface: where /v1 calls routed to it go", arguments: profileCases)
    func compatible(_ item: ProfileCase) {
        #expect(Providers.profile(item.provider).openAICompatiblePath("/v1/chat/completions") == item.compatiblePath)
    }

    @Test("Stream usage is asked for only where the provider sends it on request, and its chunk is taken out again")
    func streamUsage() throws {
        let body = Array(#"{"model":"gpt-4.1","stream":true,"messages":[]}"#.utf8)
        let facts = RequestFacts(body: body)
        for profile in Providers.all {
            let rewritten = profile.requestingStreamUsage(endpoint: .chatCompletions, facts: facts, body: body)
            let asks = profile.provider == .openai || profile.provider == .azure
            #expect((rewritten != nil) == asks, "\(profile.provider)")
            if let rewritten {
                #expect(
                    String(decoding: rewritten, as: UTF8.self).contains(#""stream_options":{"include_usage":true}"#))
                #expect(RequestFacts(body: rewritten).includesUsage)
            }
        }
        var stripper = UsageChunkStripper()
        let stream = try fixture("openai-chat.sse")
        var out: [UInt8] = []
        var start = 0
        while start < stream.count {
            out += stripper.pass(stream[start..<min(start + 7, stream.count)])
            start += 7
        }
        out += stripper.flush()
        let text = String(decoding: out, as: UTF8.self)
        #expect(!text.contains(#""usage":{"#))
        #expect(text.contains("data: [DONE]"))
    }
}
