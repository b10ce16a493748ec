import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import MeterrServer
import Testing

@Suite("A base URL that misses meterr's prefix")
struct MisdirectionTests {
    @Test(
        "Each SDK's call at the wrong base URL gets a 404 in its own format naming the right one, and goes nowhere",
        arguments: [
            ("/chat/completions", "/openai/v1", "openai"),
            ("/openai/chat/completions", "/openai/v1", "openai"),
            ("/openai/deployments/prod/chat/completions", "/azure", "openai"),
            ("/v1/messages", "/anthropic", "anthropic"),
            ("/anthropic/v1/v1/messages", "/anthropic", "anthropic"),
            ("/v1beta/models/gemini-2.5-flash:generateContent", "/gemini", "gemini"),
            ("/v2/chat", "/cohere", "cohere"),
        ])
    func misdirected(path: String, base: String, format: String) async throws {
        try await withGateway { client, seen in
            let response = try await client.call(
                path, #"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#,
                headers: [.authorization: "Bearer \(adminKey)"])
            #expect(response.status == .notFound)
            let json = response.json
            let error = json["error"] as? [String: Any]
            let message = error?["message"] as? String ?? json["message"] as? String ?? ""
            #expect(message.contains("this is meterr") && message.contains("\(base)"), "\(json)")
            // The SDK's own error shape, so it raises its usual not-found error.
            switch format {
            case "anthropic":
                #expect(json["type"] as? String == "error" && error?["type"] as? String == "not_found_error")
            case "gemini":
                #expect(error?["code"] as? Int == 404 && error?["status"] as? String == "NOT_FOUND", "\(json)")
            case "cohere": #expect(error == nil && json["message"] is String, "\(json)")
            default: #expect(error?["code"] as? String == "not_found", "\(json)")
            }
            #expect(seen.all.withLock { $0.isEmpty }, "nothing reached the provider")
        }
    }

    @Test("The right base URLs still work")
    func rightBaseURLs() async throws {
        try await withGateway { client, seen in
            let chat = try await client.call(
                "/openai/v1/chat/completions", #"{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}"#,
                headers: [.authorization: "Bearer \(adminKey)"])
            #expect(chat.status == .ok)
            let unified = try await client.call(
                "/v1/chat/completions", #"{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}"#,
                headers: [.authorization: "Bearer \(adminKey)"])
            #expect(unified.status == .ok)
            #expect(seen.all.withLock { $0.count } == 2)
        }
    }
}
