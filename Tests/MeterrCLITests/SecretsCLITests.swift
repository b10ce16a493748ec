import Foundation
import MeterrTestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@Suite("Provider credentials and the master key", .serialized)
struct SecretsCLITests {
    static let secret = "sk-live-NEVERLOGGED-1a2b3c4d5e"

    @Test("A credential survives a master-key rotation and never appears in the logs or the database files")
    func rotateAndGrep() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = directory + "-server.log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        // The upstream is unreachable: a call opens the credential and then fails to connect.
        let environment = [
            "METERR_OPENAI_BASE_URL": "http://127.0.0.1:9", "METERR_MASTER_KEY": "",
            "METERR_UPSTREAM_CONNECT_TIMEOUT": "1",
        ]
        let first = try await ServerProcess.start(dataDirectory: directory, logFile: log, environment: environment)
        let stored = try await first.post(
            "/api/credentials/openai", Data(#"{"key":"\#(Self.secret)"}"#.utf8), method: "PUT")
        #expect(stored.0 == 200)
        let before = try await first.post("/openai/v1/chat/completions", Data(#"{"model":"gpt-4o"}"#.utf8))
        #expect(before.0 == 502)
        #expect(String(decoding: before.1, as: UTF8.self).contains("could not be reached"))
        await first.stop()

        let keyBefore = try String(contentsOfFile: directory + "/master.key", encoding: .utf8)
        let rotation = try await runMeterr(["secrets", "rotate-master", "--data", directory], environment: environment)
        #expect(rotation.status == 0, "\(rotation.errorOutput)")
        #expect(rotation.output.contains("re-sealed 1 credentials"))
        #expect(try String(contentsOfFile: directory + "/master.key", encoding: .utf8) != keyBefore)

        let second = try await ServerProcess.start(
            dataDirectory: directory, logFile: log + ".2", environment: environment)
        defer { try? FileManager.default.removeItem(atPath: log + ".2") }
        let after = try await second.post("/openai/v1/chat/completions", Data(#"{"model":"gpt-4o"}"#.utf8))
        #expect(String(decoding: after.1, as: UTF8.self).contains("could not be reached"), "the credential opens")
        await second.stop()

        for path in [log, log + ".2"]
            + (try FileManager.default.contentsOfDirectory(atPath: directory)).map({
                directory + "/" + $0
            })
        {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(bytes.range(of: Data(Self.secret.utf8)) == nil, "\(path) holds the credential in plain text")
        }
        #expect((try Data(contentsOf: URL(fileURLWithPath: log))).count > 0, "the server did log")
    }
}
