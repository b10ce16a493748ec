import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import MeterrServer
import MeterrTestSupport
import Testing

extension TestClientProtocol {
    func delete(_ uri: String, key: String) async throws -> TestResponse {
        try await execute(uri: uri, method: .delete, headers: [.authorization: "Bearer \(key)"])
    }

    /// Creates a key with the admin key (or `as`); returns its JSON (with the secret under `key`).
    func createKey(_ body: String, as key: String = adminKey) async throws -> [String: Any] {
        let response = try await post("/api/keys", body, key: key)
        #expect(response.status == .created, "\(String(buffer: response.body))")
        return response.json
    }
}

@Suite("Organisations, teams and keys")
struct TenancyTests {
    @Test("A gateway-only key bound to a team calls providers for that team but cannot read usage or manage keys")
    func scopedKeys() async throws {
        try await withGateway { client, _ in
            #expect(try await client.post("/api/teams", #"{"name":"search"}"#).status == .created)
            let created = try await client.createKey(#"{"name":"search app","scopes":["gateway"],"team":"search"}"#)
            let key = try #require(created["key"] as? String)
            #expect(created["prefix"] as? String == String(key.prefix(9)) + "…")
            #expect(created["scopes"] as? [String] == ["gateway"])

            let call = try await client.call(
                "/openai/v1/chat/completions", #"{"model":"gpt-4.1","messages":[]}"#,
                headers: [.authorization: "Bearer \(key)", .init("x-meterr-team")!: "someone-else"])
            #expect(call.status == .ok)
            let event = try #require(try await client.event(call.headers[.init("x-meterr-request-id")!]!))
            #expect(event["team"] as? String == "search", "the key's team wins over the header")
            #expect(event["key_id"] as? String == created["id"] as? String)

            #expect(try await client.get("/api/usage/events", key: key).status == .forbidden)
            #expect(try await client.post("/api/keys", #"{"name":"x"}"#, key: key).status == .forbidden)
            // The list never shows a secret.
            let listed = try await client.get("/api/keys")
            #expect(!String(buffer: listed.body).contains(key))
        }
    }

    @Test("Keys cannot grant scopes they lack, nor name teams that do not exist")
    func escalation() async throws {
        try await withApp { client in
            let admin = try await client.createKey(#"{"name":"org admin","scopes":["admin","read"]}"#)
            let adminKey2 = try #require(admin["key"] as? String)
            let grant = try await client.post("/api/keys", #"{"name":"x","scopes":["operator"]}"#, key: adminKey2)
            #expect(grant.status == .forbidden)
            #expect(grant.error["field"] == "scopes")
            let noTeam = try await client.post("/api/keys", #"{"name":"x","team":"ghosts"}"#)
            #expect(noTeam.status == .badRequest)
            #expect(noTeam.error["field"] == "team")
            let badScope = try await client.post("/api/keys", #"{"name":"x","scopes":["root"]}"#)
            #expect(badScope.error["field"] == "scopes")
            let past = try await client.post("/api/keys", #"{"name":"x","expires_at":"2020-01-01T00:00:00Z"}"#)
            #expect(past.error["field"] == "expires_at")
            let unnamed = try await client.post("/api/keys", #"{"scopes":["read"]}"#)
            #expect(unnamed.error["field"] == "name")
        }
    }

    @Test("A revoked key stops at once; a rotated key works until its grace ends; an expired key is refused")
    func lifecycle() async throws {
        let clock = ManualClock(ordinaryMoment)
        try await withApp(clock: clock) { client in
            let first = try await client.createKey(#"{"name":"reader","scopes":["read"]}"#)
            let key = try #require(first["key"] as? String)
            let id = try #require(first["id"] as? String)
            #expect(try await client.get("/api/usage/events", key: key).status == .ok)
            #expect(try await client.delete("/api/keys/\(id)", key: adminKey).status == .noContent)
            #expect(try await client.get("/api/usage/events", key: key).status == .unauthorized)

            let second = try await client.createKey(#"{"name":"rotating","scopes":["read"]}"#)
            let oldKey = try #require(second["key"] as? String)
            let rotated = try await client.post(
                "/api/keys/\(second["id"] as! String)/rotate", #"{"grace_seconds":3600}"#)
            #expect(rotated.status == .created)
            let newKey = try #require(rotated.json["key"] as? String)
            #expect(try await client.get("/api/usage/events", key: newKey).status == .ok)
            #expect(try await client.get("/api/usage/events", key: oldKey).status == .ok, "still in its grace")
            let keys = try #require(try await client.get("/api/keys").json["keys"] as? [[String: Any]])
            #expect(keys.first { $0["id"] as? String == second["id"] as? String }?["status"] as? String == "rotating")

            let third = try await client.createKey(#"{"name":"now","scopes":["read"]}"#)
            let thirdKey = try #require(third["key"] as? String)
            _ = try await client.post("/api/keys/\(third["id"] as! String)/rotate", #"{"grace_seconds":0}"#)
            #expect(try await client.get("/api/usage/events", key: thirdKey).status == .unauthorized)

            let soon = clock.now.adding(milliseconds: 1500).rfc3339
            let expiring = try await client.createKey(#"{"name":"brief","scopes":["read"],"expires_at":"\#(soon)"}"#)
            let expiringKey = try #require(expiring["key"] as? String)
            #expect(try await client.get("/api/usage/events", key: expiringKey).status == .ok)
            clock.advance(milliseconds: 1499)
            #expect(try await client.get("/api/usage/events", key: expiringKey).status == .ok, "a millisecond left")
            clock.advance(milliseconds: 1)
            #expect(try await client.get("/api/usage/events", key: expiringKey).status == .unauthorized)

            #expect(try await client.delete("/api/keys/key_doesnotexist", key: adminKey).status == .notFound)
        }
    }

    @Test("Another organisation sees none of this one's keys, teams or usage, and its ids answer 404")
    func isolation() async throws {
        try await withApp { client in
            #expect(try await client.post("/api/teams", #"{"name":"search"}"#).status == .created)
            let mine = try await client.createKey(#"{"name":"mine","scopes":["read"]}"#)
            #expect(try await client.post("/api/usage/events", event("a1")).status == .ok)

            let created = try await client.post("/api/orgs", #"{"name":"Other Corp"}"#)
            #expect(created.status == .created)
            let other = try #require(created.json["admin_key"] as? String)

            let keys = try #require(try await client.get("/api/keys", key: other).json["keys"] as? [[String: Any]])
            #expect(keys.count == 1, "only its own admin key")
            #expect(!keys.contains { $0["id"] as? String == mine["id"] as? String })
            #expect((try await client.get("/api/teams", key: other).json["teams"] as? [Any])?.isEmpty == true)
            #expect((try await client.get("/api/usage/events", key: other).json["events"] as? [Any])?.isEmpty == true)
            let summary = try await client.get("/api/usage/summary?from=2026-11-01T00:00:00Z", key: other)
            #expect((summary.json["totals"] as? [String: Any])?["requests"] as? Int == 0)
            #expect(try await client.delete("/api/keys/\(mine["id"] as! String)", key: other).status == .notFound)
            #expect(
                try await client.post("/api/keys/\(mine["id"] as! String)/rotate", "{}", key: other).status == .notFound
            )
            let orgs = try #require(try await client.get("/api/orgs", key: other).json["orgs"] as? [[String: Any]])
            #expect(orgs.map { $0["name"] as? String } == ["Other Corp"])
            #expect(try await client.post("/api/orgs", #"{"name":"Third"}"#, key: other).status == .forbidden)
            // The same event id in the other organisation is its own event.
            #expect(try await client.post("/api/usage/events", event("a1"), key: other).json["inserted"] as? Int == 1)
        }
    }

    @Test("A key bound to a team reports usage for that team only")
    func boundIngest() async throws {
        try await withApp { client in
            _ = try await client.post("/api/teams", #"{"name":"ml"}"#)
            _ = try await client.post("/api/teams", #"{"name":"search"}"#)
            let bound = try await client.createKey(#"{"name":"ml sdk","scopes":["ingest","read"],"team":"ml"}"#)
            let key = try #require(bound["key"] as? String)
            let wrong = try await client.post("/api/usage/events", event("b1", team: "search"), key: key)
            #expect(wrong.status == .forbidden)
            #expect(wrong.error["field"] == "team")
            #expect(try await client.post("/api/usage/events", event("b2", team: "ml"), key: key).status == .ok)
        }
    }

    @Test("The audit log records key and team changes with who made them")
    func auditLog() async throws {
        try await withApp { client in
            _ = try await client.post("/api/teams", #"{"name":"ml"}"#)
            let created = try await client.createKey(#"{"name":"temp","scopes":["read"]}"#)
            _ = try await client.delete("/api/keys/\(created["id"] as! String)", key: adminKey)
            let entries = try #require(try await client.get("/api/audit").json["entries"] as? [[String: Any]])
            #expect(entries.map { $0["action"] as? String } == ["key.revoke", "key.create", "team.create"])
            #expect(entries.allSatisfy { ($0["actor"] as? String)?.hasPrefix("key_") == true })
        }
    }
}
