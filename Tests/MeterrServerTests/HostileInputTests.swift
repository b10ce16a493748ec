import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import Testing

@Suite("Hostile input and two tenants at once")
struct HostileInputTests {
    static let injection = "'; DROP TABLE usage_events; --"
    static let script = "<script>alert(1)</script>"

    @Test("SQL and script strings in names, tags and headers are stored verbatim and do no harm")
    func storedVerbatim() async throws {
        try await withGateway { client, _ in
            let team = try await client.post("/api/teams", #"{"name":"\#(Self.injection)"}"#)
            #expect(team.status == .created)
            #expect(team.json["name"] as? String == Self.injection)
            let body =
                #"{"id":"x1","provider":"openai","model":"\#(Self.script)","input_tokens":1,"output_tokens":1,"#
                + #""tags":{"\#(Self.script)":"\#(Self.injection)"}}"#
            #expect(try await client.post("/api/usage/events", body).status == .ok)
            let call = try await client.call(
                "/openai/v1/chat/completions", #"{"model":"gpt-4.1","messages":[]}"#,
                headers: [.authorization: "Bearer \(adminKey)", .init("x-meterr-user")!: Self.injection])
            #expect(call.status == .ok)
            _ = try await client.event(call.headers[.init("x-meterr-request-id")!]!)
            let events = try #require(try await client.get("/api/usage/events").json["events"] as? [[String: Any]])
            #expect(events.contains { $0["model"] as? String == Self.script })
            #expect(events.contains { ($0["tags"] as? [String: String])?[Self.script] == Self.injection })
            #expect(events.contains { $0["user"] as? String == Self.injection })
            let byTag = try await client.get(
                "/api/usage/events?tag=\(Self.script.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)=x")
            #expect(byTag.status == .ok)
            let teams = try await client.get("/api/teams")
            #expect((teams.json["teams"] as? [[String: Any]])?.first?["name"] as? String == Self.injection)
        }
    }

    @Test("Invalid UTF-8, path traversal, revoked keys and wrong scopes get clear 4xx answers")
    func clearRefusals() async throws {
        try await withApp { client in
            let invalid = try await client.execute(
                uri: "/api/usage/events", method: .post,
                headers: [.authorization: "Bearer \(adminKey)", .contentType: "application/json"],
                body: ByteBuffer(
                    bytes: Array(#"{"provider":"openai","model":""#.utf8) + [0xFF, 0xFE]
                        + Array(#"","input_tokens":1,"output_tokens":1}"#.utf8)))
            #expect(invalid.status == .badRequest)
            #expect(invalid.error["field"] == "model", "\(invalid.error)")
            #expect(invalid.error["message"]?.contains("UTF-8") == true, "\(invalid.error)")
            // Nothing outside the routes is ever served: each is an unknown route (404) or key (404).
            for uri in [
                "/api/../../etc/passwd", "/api/%2e%2e/%2e%2e/etc/passwd", "/api/keys/..%2F..%2Fetc",
                "/../../../etc/passwd", "/assets/..%2F..%2F..%2Fetc%2Fpasswd",
            ] {
                let response = try await client.get(uri)
                #expect(response.status == .notFound, "\(uri)")
                #expect(!String(buffer: response.body).contains("root:"), "\(uri)")
            }
            let reader = try await client.createKey(#"{"name":"r","scopes":["read"]}"#)
            let key = try #require(reader["key"] as? String)
            #expect(try await client.post("/api/teams", #"{"name":"x"}"#, key: key).status == .forbidden)
            _ = try await client.delete("/api/keys/\(reader["id"] as! String)", key: adminKey)
            #expect(try await client.get("/api/usage/events", key: key).status == .unauthorized)
        }
    }

    @Test(
        "Two organisations call the gateway concurrently with their own keys and credentials; each sees only its own usage"
    )
    func twoTenants() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meterr-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withGateway(directory: directory) { client, seen in
            let other = try #require(
                try await client.post("/api/orgs", #"{"name":"Beta"}"#).json["admin_key"] as? String)
            var gatewayKeys: [String] = []
            for (admin, secret) in [(adminKey, "sk-alpha-provider-000001"), (other, "sk-beta-provider-0000002")] {
                _ = try await client.execute(
                    uri: "/api/credentials/openai", method: .put,
                    headers: [.authorization: "Bearer \(admin)", .contentType: "application/json"],
                    body: ByteBuffer(string: #"{"key":"\#(secret)"}"#))
                let created = try await client.createKey(#"{"name":"app","scopes":["gateway"]}"#, as: admin)
                gatewayKeys.append(try #require(created["key"] as? String))
            }
            let keys = gatewayKeys
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<30 {
                    group.addTask {
                        let key = keys[index % 2]
                        let response = try await client.call(
                            "/openai/v1/chat/completions",
                            #"{"model":"gpt-4.1","messages":[{"role":"user","content":"tenant-\#(index % 2)"}]}"#,
                            headers: [.authorization: "Bearer \(key)"])
                        #expect(response.status == .ok)
                    }
                }
                try await group.waitForAll()
            }
            // Each tenant's calls reached the provider with that tenant's own credential, never the other's.
            let reached = seen.all.withLock { $0 }
            #expect(reached.count == 30)
            for (tenant, secret) in [(0, "sk-alpha-provider-000001"), (1, "sk-beta-provider-0000002")] {
                let calls = reached.filter { $0.body.contains("tenant-\(tenant)") }
                #expect(calls.count == 15)
                #expect(calls.allSatisfy { $0.headers["authorization"] == "Bearer \(secret)" }, "tenant \(tenant)")
            }
            for admin in [adminKey, other] {
                var count = 0
                for _ in 0..<200 {
                    let summary = try await client.get("/api/usage/summary?from=2026-01-01T00:00:00Z", key: admin)
                    count = (summary.json["totals"] as? [String: Any])?["requests"] as? Int ?? 0
                    if count >= 15 { break }
                    try await Task.sleep(for: .milliseconds(10))
                }
                #expect(count == 15, "each organisation sees exactly its own 15 calls")
            }
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent(name))
            for secret in ["sk-alpha-provider-000001", "sk-beta-provider-0000002"] {
                #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(name) holds \(secret)")
            }
        }
    }
}
