import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// What the fake provider saw of the last request, and where it listens.
public final class SeenRequests: Sendable {
    /// The path, headers and body of the last request.
    public let last = Mutex<(path: String, headers: [String: String], body: String)?>(nil)
    /// Every POST so far, oldest first.
    public let all = Mutex<[(path: String, headers: [String: String], body: String)]>([])
    /// The port the fake provider listens on.
    public let listening = Mutex<Int?>(nil)
    /// The port, once it listens.
    public var port: Int? { listening.withLock { $0 } }

    /// Creates an empty record.
    public init() {}
}

/// A fake provider on a real port: it answers each surface with a recorded response, and fails on
/// demand (a model named `fault-…`).
public struct FakeProvider {
    /// Starts the fake provider on a free loopback port; returns its task and port.
    public static func start(seen: SeenRequests) async throws -> (Task<Void, any Error>, Int) {
        let router = Router()
        router.on("**", method: .get) { request, _ -> Response in
            seen.last.withLock { $0 = (request.uri.path, [:], "") }
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"object":"list","data":[]}"#)))
        }
        router.on("**", method: .post) { request, context -> Response in
            let body = String(buffer: try await request.body.collect(upTo: 1 << 20))
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            seen.last.withLock { $0 = (request.uri.path, headers, body) }
            seen.all.withLock { $0.append((request.uri.path, headers, body)) }
            let path = request.uri.path
            let stream = body.contains(#""stream":true"#) || path.contains("streamGenerateContent")
            // `x-fake-fail: anthropic=429,gemini=500,cohere=context`: fail calls to those providers.
            if let faults = request.headers[HTTPField.Name("x-fake-fail")!],
                let fault = faults.split(separator: ",").first(where: {
                    $0.hasPrefix(fakeProviderName(path: path) + "=")
                })
            {
                let what = fault.split(separator: "=").last.map(String.init) ?? "500"
                if what == "context" {
                    return Response(
                        status: .badRequest, headers: [.contentType: "application/json"],
                        body: .init(
                            byteBuffer: ByteBuffer(
                                string:
                                    #"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 250000 tokens > 200000 maximum"}}"#
                            )))
                }
                return Response(
                    status: .init(code: Int(what) ?? 500),
                    headers: [.contentType: "application/json", .retryAfter: "7"],
                    body: .init(byteBuffer: ByteBuffer(string: #"{"error":{"message":"fake \#(what)","type":"fake"}}"#))
                )
            }
            if body.contains("fault-500") {
                return Response(
                    status: .internalServerError, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: #"{"error":{"message":"boom","type":"server_error"}}"#)))
            }
            if body.contains("fault-slow") {
                try await Task.sleep(for: .seconds(3))
            }
            if body.contains("budget-probe") {
                // A call that uses its whole output allowance: usage 1 prompt token + max_tokens.
                let maxTokens =
                    body.split(separator: ",").first { $0.contains("\"max_tokens\"") }
                    .flatMap { Int($0.split(separator: ":").last!.filter(\.isNumber)) } ?? 0
                let answer =
                    #"{"id":"b","object":"chat.completion","model":"gpt-4.1-2025-04-14","choices":[],"#
                    + #""usage":{"prompt_tokens":1,"completion_tokens":\#(maxTokens),"total_tokens":\#(maxTokens + 1)}}"#
                return Response(
                    status: .ok, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: answer)))
            }
            if body.contains("model-probe") {
                // Answers as the model asked for, with 50,000 prompt and 1,000 completion tokens.
                let model =
                    body.firstRange(of: #""model":""#).map { body[$0.upperBound...].prefix { $0 != "\"" } } ?? ""
                let answer =
                    #"{"id":"m","object":"chat.completion","model":"\#(model)","choices":[],"#
                    + #""usage":{"prompt_tokens":50000,"completion_tokens":1000,"total_tokens":51000}}"#
                return Response(
                    status: .ok, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: answer)))
            }
            if body.contains("fault-garbage") {
                return Response(
                    status: .ok, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: "<html>not json")))
            }
            var name: String
            switch path {
            case "/v1/chat/completions", "/v1beta/openai/chat/completions", "/compatibility/v1/chat/completions",
                "/openai/v1/chat/completions":
                name = body.contains("mistral") ? "mistral-chat" : "openai-chat"
            case _ where path.hasPrefix("/openai/deployments/") && path.hasSuffix("/chat/completions"):
                // Azure's stream opens with its empty content-filter chunk.
                name = stream ? "azure-chat" : "openai-chat"
            case "/v1/responses": name = "openai-responses"
            case "/v1/embeddings": name = "openai-embeddings"
            case "/v1/messages":
                name = body.contains("fault-overloaded") ? "anthropic-messages-error" : "anthropic-messages"
            case "/v2/chat": name = "cohere-chat"
            case "/v1/chat": name = "cohere-chat-v1"
            default: name = path.contains("/models/") ? "gemini-generate" : "unknown"
            }
            // Gemini streams a JSON array unless asked for server-sent events.
            let jsonArray = path.contains(":streamGenerateContent") && request.uri.query?.contains("alt=sse") != true
            if !stream {
                return Response(
                    status: .ok, headers: [.contentType: "application/json", .init("x-request-id")!: "up-123"],
                    body: .init(byteBuffer: ByteBuffer(bytes: providerFixture(name + ".json"))))
            }
            let recorded = providerFixture(jsonArray ? "gemini-generate-array.json" : name + ".sse")
            let bytes = body.contains("fault-cut") ? Array(recorded.prefix(recorded.count / 2)) : recorded
            return Response(
                status: .ok, headers: [.contentType: jsonArray ? "application/json" : "text/event-stream"],
                body: .init { writer in
                    // Small chunks, as a real stream arrives.
                    var offset = 0
                    let trickle = body.contains("fault-trickle")
                    while offset < bytes.count {
                        try await writer.write(ByteBuffer(bytes: bytes[offset..<min(offset + 40, bytes.count)]))
                        offset += 40
                        if trickle { try await Task.sleep(for: .milliseconds(100)) }
                    }
                    try await writer.finish(nil)
                })
        }
        return try await startTestServer(router)
    }
}

/// The provider a fake upstream path belongs to.
func fakeProviderName(path: String) -> String {
    if path.hasSuffix("/v1/messages") { return "anthropic" }
    if path.hasSuffix("/v2/chat") { return "cohere" }
    if path.contains("/models/") || path.hasPrefix("/v1beta/openai") { return "gemini" }
    if path.hasPrefix("/openai/") { return "azure" }
    return "openai"
}
