import Foundation
import Hummingbird
import MeterrCore
import MeterrSDK
import MeterrTestSupport
import NIOCore
import Synchronization

/// The gateway tests' fake provider, on a free loopback port; returns its task and base URL.
func startFakeProvider() async throws -> (Task<Void, any Error>, String) {
    let (task, port) = try await FakeProvider.start(seen: SeenRequests())
    return (task, "http://127.0.0.1:\(port)")
}

/// A stand-in for meterr's ingest endpoint that records every batch and fails on demand.
final class FakeIngest: Sendable {
    /// The ids of each batch received, in order (failed ones included).
    let batches = Mutex<[[String]]>([])
    /// How many of the next requests get a 503.
    let failuresLeft = Mutex(0)
    /// Whether every request gets a 503 until this is set back.
    let down = Mutex(false)

    var received: [[String]] { batches.withLock { $0 } }

    func start() async throws -> (Task<Void, any Error>, String) {
        let router = Router()
        router.post("/api/usage/events") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            let (events, _) = try UsageEventParser.parseBatch(
                Array(body.readableBytesView), receivedAt: Timestamp(milliseconds: 0))
            self.batches.withLock { $0.append(events.map(\.id)) }
            let fail =
                self.down.withLock { $0 }
                || self.failuresLeft.withLock { left in
                    defer { left = max(0, left - 1) }
                    return left > 0
                }
            if fail { return Response(status: .serviceUnavailable) }
            let answer = #"{"received":\#(events.count),"inserted":\#(events.count),"duplicates":0}"#
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: answer)))
        }
        let (task, port) = try await startTestServer(router)
        return (task, "http://127.0.0.1:\(port)")
    }
}

/// Waits, bounded, until `condition` holds, checking every 20 ms; returns whether it did. The limit
/// is generous: it only matters when the condition never holds, and a machine loaded by other builds
/// can take many seconds per step.
func eventually(within limit: Duration = .seconds(120), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

/// A usage event with a given id, as an app would report it.
func sampleEvent(_ id: String, tags: [String: String] = [:], cost: Money? = nil) -> UsageEvent {
    UsageEvent(
        id: id, ts: .now(), org: "", team: "search", tags: tags, provider: .openai, model: "gpt-4.1-2025-04-14",
        usage: Usage(inputTokens: 100, outputTokens: 10), cost: cost)
}
