import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import Testing

@testable import MeterrServer

@Suite("Organisation upstreams and SSRF")
struct UpstreamPolicyTests {
    @Test(
        "Internal, plain-http or malformed upstream URLs are refused",
        arguments: [
            "http://llm.example.com", "https://10.0.0.5/v1", "https://127.0.0.1", "https://localhost:8443",
            "https://[::1]/v1", "https://169.254.169.254/latest", "https://[::ffff:10.0.0.1]", "https://172.20.1.1",
            "https://192.168.1.10", "https://100.64.0.1", "https://[fd00::1]", "https://[fe80::1]", "https://0.0.0.0",
            "https://user:secret@93.184.216.34", "ftp://93.184.216.34", "not a url", "https://93.184.216.34/?x=1",
        ])
    func refused(url: String) {
        #expect(throws: MeterrError.self) { try UpstreamURLPolicy(allowedHosts: []).check(url) }
    }

    @Test("Public https addresses pass; an operator allow-list admits internal hosts and http")
    func accepted() throws {
        let policy = UpstreamURLPolicy(allowedHosts: ["127.0.0.1", "llm.internal"])
        #expect(try policy.check("https://93.184.216.34/v1/") == "https://93.184.216.34/v1")
        #expect(try policy.check("http://127.0.0.1:9000") == "http://127.0.0.1:9000")
        #expect(try policy.check("http://llm.internal/openai") == "http://llm.internal/openai")
    }

    @Test("An organisation's own upstream serves its calls; others keep the installation's")
    func organisationUpstream() async throws {
        try await withGateway(configure: { configuration, port in
            // The installation's OpenAI upstream is unreachable; the fake provider is allow-listed.
            configuration.upstreams[.openai] = .init(baseURL: "http://127.0.0.1:9", apiKey: "installation-key")
            configuration.upstreamAllowHosts = ["127.0.0.1"]
            configuration.upstreamConnectTimeout = 1
        }) { client, seen in
            let port = try #require(seen.port)
            let refused = try await client.execute(
                uri: "/api/credentials/openai", method: .put,
                headers: [.authorization: "Bearer \(adminKey)", .contentType: "application/json"],
                body: ByteBuffer(string: #"{"key":"sk-org-000000000001","base_url":"https://10.1.2.3"}"#))
            #expect(refused.status == .badRequest)
            #expect(refused.error["field"] == "base_url")
            let stored = try await client.execute(
                uri: "/api/credentials/openai", method: .put,
                headers: [.authorization: "Bearer \(adminKey)", .contentType: "application/json"],
                body: ByteBuffer(string: #"{"key":"sk-org-000000000001","base_url":"http://127.0.0.1:\#(port)/"}"#))
            #expect(stored.status == .ok)
            #expect(stored.json["base_url"] as? String == "http://127.0.0.1:\(port)")
            let call = try await client.call(
                "/openai/v1/chat/completions", #"{"model":"gpt-4.1","messages":[]}"#,
                headers: [.authorization: "Bearer \(adminKey)"])
            #expect(call.status == .ok, "\(String(buffer: call.body))")
            #expect(seen.last.withLock { $0 }?.headers["authorization"] == "Bearer sk-org-000000000001")
        }
    }
}
