import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import MeterrServer
import Testing

@Suite("GDPR through the API")
struct PrivacyAPITests {
    @Test(
        "POST /api/users/{id}/forget keeps the totals and takes the person out of every answer; export before, 404 after"
    )
    func forgetAndExport() async throws {
        try await withApp { client in
            let email = "grace.hopper@example.com"
            let created = try await client.post(
                "/api/users", #"{"email":"\#(email)","name":"Grace Hopper","role":"member"}"#)
            #expect(created.status == .created)
            let id = try #require(created.json["id"] as? String)
            let events = (0..<6).map { index in
                #"{"id":"p\#(index)","ts":"2026-11-02T10:00:00Z","provider":"openai","model":"gpt-4o","input_tokens":1000,"output_tokens":100,"user":"\#(index % 2 == 0 ? email : id)","tags":{"owner":"\#(email)"}}"#
            }
            #expect(try await client.post("/api/usage/events", "[" + events.joined(separator: ",") + "]").status == .ok)
            let summary = "/api/usage/summary?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z&group_by=user"
            let before = try await client.get(summary).json["totals"] as? [String: Any]

            let export = try await client.get("/api/users/\(email)/export")
            #expect(export.status == .ok)
            #expect((export.json["events"] as? [Any])?.count == 6)
            #expect((export.json["account"] as? [String: Any])?["id"] as? String == id)

            let viewer = try await client.post("/api/keys", #"{"name":"look","scopes":["read"]}"#)
            let viewerKey = try #require(viewer.json["key"] as? String)
            #expect(try await client.post("/api/users/\(id)/forget", "", key: viewerKey).status == .forbidden)

            let forgotten = try await client.post("/api/users/\(id)/forget", "")
            #expect(forgotten.status == .ok)
            let token = try #require(forgotten.json["token"] as? String)
            #expect(forgotten.json["account_deleted"] as? Bool == true)
            #expect(forgotten.json["events"] as? Int == 6)

            let after = try await client.get(summary)
            #expect(
                NSDictionary(dictionary: after.json["totals"] as? [String: Any] ?? [:])
                    == NSDictionary(dictionary: before ?? [:]))
            let groups = after.json["groups"] as? [[String: Any]] ?? []
            #expect(groups.map { $0["user"] as? String } == [token])
            for path in [
                summary, "/api/usage/events?limit=100", "/api/users", "/api/audit?limit=100",
                "/api/usage/events?user=\(token)",
            ] {
                let body = String(decoding: try await client.get(path).body.readableBytesView, as: UTF8.self)
                #expect(!body.contains(email) && !body.contains(id) && !body.contains("Grace Hopper"), "\(path)")
            }
            #expect(try await client.get("/api/users/\(email)/export").status == .notFound)
            #expect(try await client.post("/api/users/\(email)/forget", "").status == .notFound)
            let audit = String(
                decoding: try await client.get("/api/audit?limit=100").body.readableBytesView, as: UTF8.self)
            #expect(audit.contains("user.forget") && audit.contains("user.export"))
        }
    }
}
