import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import Testing

@Suite("People, roles and dashboard sign-in")
struct UserTests {
    @Test("A person with a password signs in: HttpOnly SameSite=Strict cookie, session, CSRF-checked sign-out")
    func signIn() async throws {
        try await withApp { client in
            let created = try await client.post(
                "/api/users",
                #"{"email":"Ana@Example.com","name":"Ana","role":"admin","password":"correct horse battery"}"#)
            #expect(created.status == .created)
            #expect(created.json["email"] as? String == "ana@example.com")
            #expect(created.json["can_sign_in"] as? Bool == true)
            #expect(!String(buffer: created.body).contains("correct horse"))

            let wrong = try await client.post(
                "/auth/login", #"{"email":"ana@example.com","password":"wrong password!!"}"#, key: nil)
            #expect(wrong.status == .unauthorized)
            let unknown = try await client.post(
                "/auth/login", #"{"email":"bo@example.com","password":"whatever123456"}"#, key: nil)
            #expect(unknown.status == .unauthorized)

            let login = try await client.post(
                "/auth/login", #"{"email":"ana@example.com","password":"correct horse battery"}"#, key: nil)
            #expect(login.status == .ok)
            // `curl -d '{…}'` labels JSON as a form: it signs in all the same (the docs' example).
            let curlStyle = try await client.execute(
                uri: "/auth/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: #"{"email":"ana@example.com","password":"correct horse battery"}"#))
            #expect(curlStyle.status == .ok)
            #expect(curlStyle.headers[.setCookie]?.contains("HttpOnly") == true)
            let cookie = try #require(login.headers[.setCookie])
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"))
            let token = try #require(cookie.split(separator: ";").first.map(String.init))
            let csrf = try #require(login.json["csrf_token"] as? String)
            #expect(login.json["role"] as? String == "admin")

            let session = try await client.execute(uri: "/auth/session", method: .get, headers: [.cookie: token])
            #expect(session.json["email"] as? String == "ana@example.com")
            let noCSRF = try await client.execute(uri: "/auth/logout", method: .post, headers: [.cookie: token])
            #expect(noCSRF.status == .forbidden)
            let out = try await client.execute(
                uri: "/auth/logout", method: .post, headers: [.cookie: token, .init("x-csrf-token")!: csrf])
            #expect(out.status == .noContent)
            let after = try await client.execute(uri: "/auth/session", method: .get, headers: [.cookie: token])
            #expect(after.status == .unauthorized)
        }
    }

    @Test("Roles change and are audited; the last owner stays; bad input names the field")
    func roles() async throws {
        try await withApp { client in
            let owner = try await client.post("/api/users", #"{"email":"owner@example.com","role":"owner"}"#)
            let ownerId = try #require(owner.json["id"] as? String)
            let viewer = try await client.post("/api/users", #"{"email":"viewer@example.com"}"#)
            #expect(viewer.json["role"] as? String == "member")
            let viewerId = try #require(viewer.json["id"] as? String)
            let promoted = try await client.execute(
                uri: "/api/users/\(viewerId)/role", method: .put,
                headers: [.authorization: "Bearer \(adminKey)", .contentType: "application/json"],
                body: ByteBuffer(string: #"{"role":"viewer"}"#))
            #expect(promoted.json["role"] as? String == "viewer")
            let demoteLast = try await client.execute(
                uri: "/api/users/\(ownerId)/role", method: .put,
                headers: [.authorization: "Bearer \(adminKey)", .contentType: "application/json"],
                body: ByteBuffer(string: #"{"role":"member"}"#))
            #expect(demoteLast.status == .conflict)
            #expect(try await client.delete("/api/users/\(ownerId)", key: adminKey).status == .conflict)
            #expect(try await client.delete("/api/users/\(viewerId)", key: adminKey).status == .noContent)
            for (body, field) in [
                (#"{"email":"not-an-email"}"#, "email"), (#"{"email":"x@example.com","role":"king"}"#, "role"),
                (#"{"email":"y@example.com","password":"short"}"#, "password"),
                (#"{"email":"owner@example.com"}"#, "email"),
            ] {
                let response = try await client.post("/api/users", body)
                #expect(response.status.code >= 400 && response.status.code < 500, "\(body)")
                #expect(response.error["field"] == field, "\(body)")
            }
            let audit = try #require(try await client.get("/api/audit").json["entries"] as? [[String: Any]])
            #expect(
                audit.contains {
                    $0["action"] as? String == "user.role" && ($0["detail"] as? String)?.contains("viewer") == true
                })
        }
    }
}
