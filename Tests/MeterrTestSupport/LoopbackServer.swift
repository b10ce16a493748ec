import Foundation
import Hummingbird
import Synchronization

/// A recorded provider response from the providers' test target (`Tests/MeterrProvidersTests/Fixtures`).
public func providerFixture(_ name: String) -> [UInt8] {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("MeterrProvidersTests/Fixtures/\(name)")
    return Array((try? Data(contentsOf: url)) ?? Data())
}

/// Runs a router on a free loopback port until the task is cancelled; returns the task and the port.
public func startTestServer(_ router: Router<BasicRequestContext>) async throws -> (Task<Void, any Error>, Int) {
    let port = Mutex(0)
    let started = AsyncStream<Void>.makeStream()
    let app = Application(
        router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in
            port.withLock { $0 = channel.localAddress?.port ?? 0 }
            started.continuation.yield()
        })
    let task = Task { try await app.runService(gracefulShutdownSignals: []) }
    for await _ in started.stream { break }
    return (task, port.withLock { $0 })
}
