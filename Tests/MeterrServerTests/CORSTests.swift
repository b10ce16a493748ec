import HTTPTypes
import Hummingbird
import MeterrTestSupport
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

    @Test("The gateway follows the same origins as /api: allowed ones read the answer and meterr's headers")
    func gatewaySameRule() async throws {
        try await withGateway(configure: { configuration, _ in configuration.corsOrigins = ["https://app.example.com"] }
        ) {
            client, _ in
            for (origin, allowed) in [("https://app.example.com", true), ("https://evil.example.com", false)] {
                let call = try await client.call(
                    "/openai/v1/chat/completions", #"{"model":"gpt-4.1","messages":[]}"#,
                    headers: [.authorization: "Bearer \(adminKey)", .origin: origin])
                let api = try await client.execute(
                    uri: "/api/usage/events", method: .get,
                    headers: [.authorization: "Bearer \(adminKey)", .origin: origin])
                for response in [call, api] {
                    #expect(response.status == .ok)
                    #expect(response.headers[Self.allowOrigin] == (allowed ? origin : nil), "\(origin)")
                    let exposed = response.headers[HTTPField.Name("Access-Control-Expose-Headers")!]
                    #expect(exposed?.contains("x-meterr-request-id") == (allowed ? true : nil))
                }
            }
            let preflight = try await client.execute(
                uri: "/openai/v1/chat/completions", method: .options,
                headers: [.origin: "https://app.example.com", .accessControlRequestMethod: "POST"])
            #expect(preflight.status == .noContent)
            #expect(
                preflight.headers[HTTPField.Name("Access-Control-Allow-Headers")!]?.contains("authorization") == true)
        }
    }
}

@Suite("Presenting a meterr key")
struct PresentedKeyTests {
    @Test(
        "One reading of Authorization for the gateway and /api: Bearer in any case, spaces around; other schemes refused",
        arguments: [
            ("Bearer \(adminKey)", true), ("bearer \(adminKey)", true), ("BEARER  \(adminKey) ", true),
            ("Bearer\t\(adminKey)", false), ("Basic \(adminKey)", false), ("Bearer ", false), (adminKey, false),
            ("Bearer mk_short", false),
        ])
    func bearer(_ value: String, _ accepted: Bool) async throws {
        try await withGateway { client, _ in
            let call = try await client.call(
                "/openai/v1/chat/completions", #"{"model":"gpt-4.1","messages":[]}"#, headers: [.authorization: value])
            let api = try await client.execute(uri: "/api/usage/events", method: .get, headers: [.authorization: value])
            #expect(call.status == (accepted ? .ok : .unauthorized), "gateway: \(value)")
            #expect(api.status == (accepted ? .ok : .unauthorized), "/api: \(value)")
        }
    }
}
