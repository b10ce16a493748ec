import Foundation
import MeterrCore
import MeterrStore
import MeterrTestSupport
import Synchronization
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// What the client tasks of the crash test share.
final class SharedState: Sendable {
    let acknowledged = Mutex<[String]>([])
    let stop = Mutex(false)
}

@Suite("meterr serve as a process", .serialized)
struct ServeProcessTests {
    @Test("kill -9 during sustained ingest leaves a sound database holding every acknowledged event")
    func killNineKeepsAcknowledgedEvents() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try await ServerProcess.start(dataDirectory: directory)
        let shared = SharedState()

        // Four clients post batches as fast as they can until the server dies under them.
        await withTaskGroup(of: Void.self) { group in
            for client in 0..<4 {
                group.addTask {
                    var batch = 0
                    while !shared.stop.withLock({ $0 }) {
                        let prefix = "c\(client)-b\(batch)"
                        batch += 1
                        guard
                            let (status, _) = try? await server.post(
                                "/api/usage/events", eventBatch(prefix: prefix, count: 50))
                        else { return }
                        if status == 200 {
                            shared.acknowledged.withLock { ids in ids += (0..<50).map { "\(prefix)-\($0)" } }
                        }
                    }
                }
            }
            group.addTask {
                // Kill once a good number of batches were acknowledged (or after a bounded wait).
                for _ in 0..<400 where shared.acknowledged.withLock({ $0.count }) < 20_000 {
                    try? await Task.sleep(for: .milliseconds(10))
                }
                await server.stop(signal: SIGKILL)
                shared.stop.withLock { $0 = true }
            }
        }
        let acked = shared.acknowledged.withLock { $0 }
        #expect(acked.count > 0, "the server acknowledged some events before it was killed")

        let store = try SQLiteStore(directory: directory)
        #expect(try await store.integrityCheck() == "ok")
        var stored = Set<String>()
        try await store.forEachEvent(org: nil, from: nil, to: nil) { stored.insert($0.id) }
        let missing = acked.filter { !stored.contains($0) }
        #expect(missing.isEmpty, "acknowledged but lost: \(missing.prefix(5))")
    }

    @Test("SIGTERM stops the server, commits what was accepted and exits 0")
    func gracefulShutdown() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try await ServerProcess.start(dataDirectory: directory)
        let (status, _) = try await server.post("/api/usage/events", eventBatch(prefix: "t", count: 20))
        #expect(status == 200)
        #expect(await server.stop(signal: SIGTERM) == 0)
        let store = try SQLiteStore(directory: directory)
        var count = 0
        try await store.forEachEvent(org: nil, from: nil, to: nil) { _ in count += 1 }
        #expect(count == 20)
    }

    @Test(
        "A port already in use is one clear line and a non-zero exit, not a hang",
        .timeLimit(.minutes(1)))
    func portInUse() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try await ServerProcess.start(dataDirectory: directory)
        let second = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: second) }
        let result = try await runMeterr(
            ["serve", "--port", String(server.port), "--data", second], environment: ["METERR_LOG_LEVEL": "error"])
        #expect(result.status != 0)
        #expect(
            result.errorOutput.contains(
                "meterr: cannot listen on 127.0.0.1:\(server.port): the address is already in use"))
        await server.stop()
    }

    @Test("A host that does not resolve is one clear line, also with a free port asked for, and leaves no directory")
    func hostDoesNotResolve() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for port in ["0", "8787"] {
            let result = try await runMeterr(
                ["serve", "--host", "nosuchhost.invalid", "--port", port, "--data", directory],
                environment: ["METERR_LOG_LEVEL": "error"])
            #expect(result.status != 0)
            #expect(
                result.errorOutput
                    == "meterr: cannot listen on nosuchhost.invalid:\(port): the host name does not resolve\n")
            #expect(!FileManager.default.fileExists(atPath: directory))
        }
    }

    @Test("The first start prints a new admin key once; the next start prints none and the key still works")
    func adminKeyShownOnce() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try await ServerProcess.start(dataDirectory: directory, adminKey: nil)
        #expect(first.adminKey.hasPrefix("mk_"))
        #expect(try await first.get("/api/usage/events").0 == 200)
        await first.stop()
        let second = try await ServerProcess.start(dataDirectory: directory, adminKey: nil)
        #expect(!second.firstLines.contains { $0.contains("admin key") })
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(second.port)/api/usage/events")!)
        request.setValue("Bearer \(first.adminKey)", forHTTPHeaderField: "Authorization")
        let (_, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        await second.stop()
    }
}
