import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import MeterrServer
import Testing

@Suite("Teams nobody created")
struct UnknownTeamTests {
    @Test("unknown_team: accept marks them on the teams page; refuse turns them away on the gateway and the API")
    func unknownTeams() async throws {
        try await withGateway { client, seen in
            let body = #"{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}"#
            func call(team: String) async throws -> TestResponse {
                try await client.call(
                    "/openai/v1/chat/completions", body,
                    headers: [.authorization: "Bearer \(adminKey)", HTTPField.Name("x-meterr-team")!: team])
            }
            #expect(try await client.get("/api/policy").json["unknown_team"] as? String == "accept")
            #expect(try await client.post("/api/teams", #"{"name":"search"}"#).status == .created)
            // Accepted by default, and marked on the teams page.
            #expect(try await call(team: "ghost").status == .ok)
            let session = try await client.signIn(email: "lead@example.com", role: "viewer")
            var html = ""
            for _ in 0..<100 {
                html = String(buffer: try await client.page("/teams", session).body)
                if html.contains("ghost") { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(html.contains("ghost (not created: only calls name it)"))

            var set = try await client.execute(
                uri: "/api/policy", method: .put,
                headers: [.authorization: "Bearer \(adminKey)", .contentType: "application/json"],
                body: ByteBuffer(string: #"{"unknown_team":"refuse"}"#))
            #expect(set.status == .ok)
            let refused = try await call(team: "phantom")
            #expect(refused.status == .badRequest)
            let message = (refused.json["error"] as? [String: Any])?["message"] as? String ?? ""
            #expect(message.contains("team \"phantom\" was never created"), "\(message)")
            #expect(try await call(team: "search").status == .ok)
            #expect(seen.all.withLock { $0.count } == 2, "the refused call never reached the provider")
            let ingest = try await client.post(
                "/api/usage/events",
                #"{"provider":"openai","model":"gpt-4o","input_tokens":1,"output_tokens":1,"team":"phantom"}"#)
            #expect(ingest.status == .badRequest)
            #expect(ingest.error["field"] == "team")
            set = try await client.execute(
                uri: "/api/policy", method: .put,
                headers: [.authorization: "Bearer \(adminKey)", .contentType: "application/json"],
                body: ByteBuffer(string: #"{"unknown_team":"sometimes"}"#))
            #expect(set.status == .badRequest)
        }
    }
}
