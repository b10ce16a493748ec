import Foundation
import MeterrTestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@Suite("meterr keys, teams and orgs")
struct AccountCLITests {
    @Test("A key made on the command line works against the server until it is revoked")
    func keyLifecycle() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try await ServerProcess.start(dataDirectory: directory)
        #expect(try await runMeterr(["teams", "create", "search", "--data", directory]).status == 0)
        let created = try await runMeterr([
            "keys", "create", "--name", "reader", "--scope", "read", "--team", "search", "--data", directory,
        ])
        #expect(created.status == 0, "\(created.errorOutput)")
        let key = try #require(created.output.split(separator: "\n").first { $0.hasPrefix("key: ") }?.dropFirst(5))
        let id = try #require(created.output.split(separator: "\n").first { $0.hasPrefix("id:  ") }?.dropFirst(5))

        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(server.port)/api/usage/events")!)
        request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization")
        let (_, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)

        let listed = try await runMeterr(["keys", "list", "--data", directory])
        #expect(listed.output.contains("reader\tread\tsearch\tactive"))
        #expect(!listed.output.contains(String(key)), "a list never shows a secret")
        #expect(try await runMeterr(["keys", "revoke", String(id), "--data", directory]).status == 0)
        #expect(
            try await runMeterr(["keys", "list", "--data", directory]).output.contains("reader\tread\tsearch\trevoked"))
        await server.stop()
    }

    @Test("Bad scopes, unknown teams and unknown keys print one line and exit non-zero")
    func errors() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try await runMeterr(["orgs", "create", "Acme", "--data", directory])
        for arguments in [
            ["keys", "create", "--name", "x", "--scope", "root", "--data", directory],
            ["keys", "create", "--name", "x", "--team", "ghosts", "--data", directory],
            ["keys", "revoke", "key_nothing", "--data", directory],
            ["teams", "create", "", "--data", directory],
            ["keys", "list", "--org", "org_nothing", "--data", directory],
        ] {
            let result = try await runMeterr(arguments)
            #expect(result.status != 0, "\(arguments)")
            #expect(result.errorOutput.split(separator: "\n").count == 1, "\(arguments): \(result.errorOutput)")
        }
        let orgs = try await runMeterr(["orgs", "list", "--data", directory])
        #expect(orgs.output.contains("\tAcme"))
    }
}
