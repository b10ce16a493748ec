import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import MeterrTestSupport
import Testing
import Yams

@testable import MeterrServer

/// The documented operations: (method, path) with `{param}` placeholders.
func documentedOperations() throws -> Set<String> {
    let text = try #require(OpenAPIRoute.document)
    let document = try #require(try Yams.load(yaml: text) as? [String: Any])
    let paths = try #require(document["paths"] as? [String: [String: Any]])
    var operations = Set<String>()
    for (path, item) in paths {
        for method in item.keys where ["get", "post", "put", "delete", "patch"].contains(method) {
            operations.insert("\(method.uppercased()) \(path)")
        }
    }
    return operations
}

@Suite("The OpenAPI document")
struct OpenAPITests {
    @Test("It documents exactly the /api routes the server has")
    func matchesRoutes() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meterr-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = ServerConfiguration()
        configuration.dataDirectory = directory
        configuration.logLevel = .warning
        let parts = try await buildRouter(configuration)
        let router = parts.router
        // Nothing runs the services here: close the upstream client they would have closed.
        for case let service as HTTPClientService in parts.services { try await service.webhooks.shutdown() }
        var served = Set<String>()
        for route in router.routes {
            let path =
                "/"
                + "\(route.path)".split(separator: "/").map { part in
                    part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
                }.joined(separator: "/")
            if path.hasPrefix("/api/") || path.hasPrefix("/auth/") { served.insert("\(route.method) \(path)") }
        }
        let documented = try documentedOperations()
        #expect(served.subtracting(documented).isEmpty, "served but not documented: \(served.subtracting(documented))")
        #expect(documented.subtracting(served).isEmpty, "documented but not served: \(documented.subtracting(served))")
    }

    @Test("It is served without a key")
    func served() async throws {
        try await withApp { client in
            let response = try await client.get("/api/openapi.yaml", key: nil)
            #expect(response.status == .ok)
            #expect(String(buffer: response.body).hasPrefix("openapi: 3.1.0"))
        }
    }

    @Test(
        "Every documented operation, called with another organisation's key on this one's ids, reveals and changes nothing",
        arguments: TestPostgres.databases)
    func isolationMatrix(_ database: String?) async throws {
        if database == nil {
            try await isolationMatrix(databaseURL: nil)
        } else {
            try await TestPostgres.withDatabase { url in try await isolationMatrix(databaseURL: url) }
        }
    }

    /// The matrix on the embedded database (`nil`) or on PostgreSQL.
    func isolationMatrix(databaseURL: String?) async throws {
        try await withGateway(masterKey: databaseURL.map { _ in String(repeating: "c", count: 64) }) {
            configuration, _ in
            configuration.databaseURL = databaseURL
        } _: { client, _ in
            // Organisation A: a team, a key, a credential, an event, all with recognisable names.
            let aTeam = try await client.post("/api/teams", #"{"name":"alpha-secret-team"}"#)
            let aTeamId = try #require(aTeam.json["id"] as? String)
            let aProject = try await client.post("/api/projects", #"{"name":"alpha-secret-project"}"#)
            let aProjectId = try #require(aProject.json["id"] as? String)
            let aKey = try await client.createKey(#"{"name":"alpha-secret-key","scopes":["read"]}"#)
            let aKeyId = try #require(aKey["id"] as? String)
            _ = try await client.execute(
                uri: "/api/credentials/openai", method: .put,
                headers: [.authorization: "Bearer \(adminKey)", .contentType: "application/json"],
                body: ByteBuffer(string: #"{"key":"sk-alpha-secret-credential-0001"}"#))
            _ = try await client.post("/api/usage/events", event("alpha-secret-event", team: "alpha-secret-team"))
            // A call of a model without a price: its name is A's too.
            _ = try await client.post(
                "/api/usage/events", event("alpha-unpriced", model: "alpha-secret-model", cost: nil))
            let aUser = try await client.post(
                "/api/users", #"{"email":"alpha-secret-user@example.com","role":"owner"}"#)
            let aUserId = try #require(aUser.json["id"] as? String)
            _ = try await client.execute(
                uri: "/api/routes/alpha-route", method: .put,
                headers: [.authorization: "Bearer \(adminKey)", .contentType: "application/json"],
                body: ByteBuffer(string: #"{"deployments":["openai/gpt-4.1-mini"]}"#))
            let orgs = try #require(try await client.get("/api/orgs").json["orgs"] as? [[String: Any]])
            let aOrg = try #require(orgs.first?["id"] as? String)
            func snapshot() async throws -> String {
                var text = ""
                for uri in [
                    "/api/keys", "/api/teams", "/api/projects", "/api/credentials", "/api/usage/events", "/api/users",
                    "/api/routes",
                ] {
                    text += String(buffer: try await client.get(uri).body)
                }
                // When A's own key was last used moves as the snapshot itself uses it.
                return text.replacing(/"last_used_at":("[^"]*"|null)/, with: "")
            }
            let before = try await snapshot()

            // Organisation B's admin key tries every operation with A's ids.
            let created = try await client.post("/api/orgs", #"{"name":"Beta"}"#)
            let bKey = try #require(created.json["admin_key"] as? String)
            // What B must never see. (A's team name is sent by B as a probe below, so errors may echo it.)
            let secrets = [
                aKeyId, aOrg, aUserId, aTeamId, aProjectId, "alpha-secret-key", "alpha-secret-project",
                "alpha-secret-event", "alpha-secret-model", "sk-…0001",
                "alpha-secret-user",
            ]
            let bodies: [String: String] = [
                "POST /api/usage/events": event("beta-event"),
                "POST /api/cost/estimate": #"{"model":"gpt-4o","input_tokens":1,"output_tokens":1}"#,
                "POST /api/tokens/count": #"{"model":"gpt-4o","text":"hi"}"#,
                "POST /api/orgs": #"{"name":"Gamma"}"#,
                "PUT /api/orgs/{id}/tier": #"{"tier":"free"}"#,
                "POST /api/teams": #"{"name":"beta-team"}"#,
                "POST /api/projects": #"{"name":"beta-project","team":"alpha-secret-team"}"#,
                "POST /api/keys": #"{"name":"b","team":"alpha-secret-team"}"#,
                "POST /api/keys/{id}/rotate": "{}",
                "PUT /api/credentials/{provider}": #"{"key":"sk-beta-0000000000002","team":"alpha-secret-team"}"#,
                "POST /api/users": #"{"email":"beta@example.com","role":"viewer","team":"alpha-secret-team"}"#,
                "PUT /api/users/{id}/role": #"{"role":"owner"}"#,
                "POST /api/budgets": #"{"name":"b","scope":"team","value":"alpha-secret-team","limit_usd":"1"}"#,
                "POST /api/webhooks": #"{"url":"https://127.0.0.1/hook"}"#,
                "POST /auth/login": #"{"email":"alpha@example.com","password":"alpha-secret-password"}"#,
                "PUT /api/routes/{name}": #"{"deployments":["gemini/gemini-2.5-flash"]}"#,
                "POST /api/route/explain": #"{"model":"alpha-route","messages":[{"role":"user","content":"hi"}]}"#,
            ]
            for operation in try documentedOperations().sorted() {
                let parts = operation.split(separator: " ", maxSplits: 1)
                let method = HTTPRequest.Method(rawValue: String(parts[0]))!
                var uri = String(parts[1]).replacingOccurrences(of: "{provider}", with: "openai")
                uri = uri.replacingOccurrences(of: "{name}", with: "alpha-route")
                uri = uri.replacingOccurrences(of: "{month}", with: "2026-11")
                if uri.hasPrefix("/api/statements") { uri += "?team=alpha-secret-team" }
                uri = uri.replacingOccurrences(of: "/api/orgs/{id}", with: "/api/orgs/\(aOrg)")
                uri = uri.replacingOccurrences(of: "/api/users/{id}", with: "/api/users/\(aUserId)")
                uri = uri.replacingOccurrences(of: "/api/teams/{id}", with: "/api/teams/\(aTeamId)")
                uri = uri.replacingOccurrences(of: "/api/projects/{id}", with: "/api/projects/\(aProjectId)")
                uri = uri.replacingOccurrences(of: "{id}", with: aKeyId)
                if method == .get, uri == "/api/usage/events" { uri += "?team=alpha-secret-team" }
                if method == .delete, uri.hasPrefix("/api/credentials") { uri += "?team=alpha-secret-team" }
                let response = try await client.execute(
                    uri: uri, method: method,
                    headers: [.authorization: "Bearer \(bKey)", .contentType: "application/json"],
                    body: bodies[operation].map { ByteBuffer(string: $0) })
                #expect(response.status.code < 500, "\(operation): \(response.status)")
                let text = String(buffer: response.body)
                for secret in secrets where uri != "/api/openapi.yaml" {
                    #expect(!text.contains(secret), "\(operation) revealed \(secret): \(text.prefix(200))")
                }
            }
            #expect(try await snapshot() == before, "organisation A is unchanged")
        }
    }
}
