import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("Cross-origin access")
struct CORSTests {
    static let allowOrigin = HTTPField.Name("Access-Control-Allow-Origin")!

    @Test("Closed by default: no origin is allowed")
    func closedByDefault() async throws {
        try await withApp { client in
            let response = try await client.execute(
                uri: "/api/usage/events", method: .get,
                headers: [.authorization: "Bearer \(adminKey)", .origin: "https://app.example.com"])
            #expect(response.status == .ok)
            #expect(response.headers[Self.allowOrigin] == nil)
            let preflight = try await client.execute(
                uri: "/api/usage/events", method: .options,
                headers: [.origin: "https://app.example.com", .accessControlRequestMethod: "POST"])
            #expect(preflight.headers[Self.allowOrigin] == nil)
        }
    }

    @Test("Configured origins, and only they, get preflight answers and the allow header")
    func configured() async throws {
        try await withApp(configure: { $0.corsOrigins = ["https://app.example.com"] }) { client in
            let preflight = try await client.execute(
                uri: "/api/usage/events", method: .options,
                headers: [.origin: "https://app.example.com", .accessControlRequestMethod: "POST"])
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[Self.allowOrigin] == "https://app.example.com")
            let allowed = try await client.execute(
                uri: "/api/usage/events", method: .get,
                headers: [.authorization: "Bearer \(adminKey)", .origin: "https://app.example.com"])
            #expect(allowed.headers[Self.allowOrigin] == "https://app.example.com")
            let other = try await client.execute(
                uri: "/api/usage/events", method: .get,
                headers: [.authorization: "Bearer \(adminKey)", .origin: "https://evil.example.com"])
            #expect(other.headers[Self.allowOrigin] == nil)
        }
    }
}
