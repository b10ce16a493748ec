import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import Testing

@Suite("Provider credentials sealed per organisation")
struct CredentialTests {
    static let secret = "sk-live-PLAINTEXT-9f8e7d6c5b4a"

    @Test(
        "A stored key is used for the organisation's calls, only ever shown masked, and absent from the database file")
    func sealedAtRest() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meterr-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withGateway(directory: directory) { client, seen in
            let stored = try await client.execute(
                uri: "/api/credentials/openai", method: .put,
                headers: [.authorization: "Bearer \(adminKey)", .contentType: "application/json"],
                body: ByteBuffer(string: #"{"key":"\#(Self.secret)"}"#))
            #expect(stored.status == .ok)
            #expect(stored.json["key"] as? String == "sk-…5b4a")
            let listed = try await client.get("/api/credentials")
            #expect(!String(buffer: listed.body).contains(Self.secret))

            let call = try await client.call(
                "/openai/v1/chat/completions", #"{"model":"gpt-4.1","messages":[]}"#,
                headers: [.authorization: "Bearer \(adminKey)"])
            #expect(call.status == .ok)
            #expect(seen.last.withLock { $0 }?.headers["authorization"] == "Bearer \(Self.secret)")
            let audit = try await client.get("/api/audit")
            #expect(!String(buffer: audit.body).contains(Self.secret))
        }
        // Every file meterr wrote: the database, its WAL, the key file.
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent(name))
            #expect(bytes.range(of: Data(Self.secret.utf8)) == nil, "\(name) holds the key in plain text")
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/master.key")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test("A team's own key wins for keys bound to that team; others use the organisation's")
    func teamCredential() async throws {
        try await withGateway { client, seen in
            _ = try await client.post("/api/teams", #"{"name":"research"}"#)
            for (body, _) in [
                (#"{"key":"sk-org-wide-0000000001"}"#, 0), (#"{"key":"sk-research-000000002","team":"research"}"#, 1),
            ] {
                let response = try await client.execute(
                    uri: "/api/credentials/anthropic", method: .put,
                    headers: [.authorization: "Bearer \(adminKey)", .contentType: "application/json"],
                    body: ByteBuffer(string: body))
                #expect(response.status == .ok)
            }
            let research = try await client.createKey(#"{"name":"r","scopes":["gateway"],"team":"research"}"#)
            let researchKey = try #require(research["key"] as? String)
            _ = try await client.call(
                "/anthropic/v1/messages", #"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}"#,
                headers: [.init("x-api-key")!: researchKey])
            #expect(seen.last.withLock { $0 }?.headers["x-api-key"] == "sk-research-000000002")
            _ = try await client.call(
                "/anthropic/v1/messages", #"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}"#,
                headers: [.init("x-api-key")!: adminKey])
            #expect(seen.last.withLock { $0 }?.headers["x-api-key"] == "sk-org-wide-0000000001")
            let removed = try await client.execute(
                uri: "/api/credentials/anthropic?team=research", method: .delete,
                headers: [.authorization: "Bearer \(adminKey)"])
            #expect(removed.status == .noContent)
            let bad = try await client.execute(
                uri: "/api/credentials/bedrock", method: .put,
                headers: [.authorization: "Bearer \(adminKey)", .contentType: "application/json"],
                body: ByteBuffer(string: #"{"key":"x"}"#))
            #expect(bad.status == .notFound)
            // A key goes into a header as it is: one with a line break is refused when stored.
            let injected = try await client.execute(
                uri: "/api/credentials/openai", method: .put,
                headers: [.authorization: "Bearer \(adminKey)", .contentType: "application/json"],
                body: ByteBuffer(string: #"{"key":"sk-x\r\nx-evil: 1"}"#))
            #expect(injected.status == .badRequest)
            #expect(String(buffer: injected.body).contains("key"))
        }
    }

    @Test("With another master key the stored credential does not open: a clear 502, never the wrong key")
    func wrongMasterKey() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meterr-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = String(repeating: "a", count: 64)
        let second = String(repeating: "b", count: 64)
        try await withGateway(directory: directory, masterKey: first) { client, _ in
            _ = try await client.execute(
                uri: "/api/credentials/openai", method: .put,
                headers: [.authorization: "Bearer \(adminKey)", .contentType: "application/json"],
                body: ByteBuffer(string: #"{"key":"\#(Self.secret)"}"#))
        }
        try await withGateway(directory: directory, masterKey: second) { client, seen in
            let call = try await client.call(
                "/openai/v1/chat/completions", #"{"model":"gpt-4.1","messages":[]}"#,
                headers: [.authorization: "Bearer \(adminKey)"])
            #expect(call.status == .badGateway)
            #expect(seen.last.withLock { $0 } == nil)
        }
    }
}
