import Foundation
import MeterrCore
import MeterrStore
import MeterrTestSupport
import Synchronization
import Testing

@testable import MeterrServer

/// An organisation's baselines are read once, however many calls come while they are being learnt.
@Suite("Anomaly baselines learnt once")
struct AnomalyLearningTests {
    @Test(
        "Calls that come while an organisation's baselines are learnt wait for one read; a failed read is tried again")
    func oneReadAtATime() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meterr-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let inner = try SQLiteStore(directory: directory.path)
        let org = try await inner.bootstrap(adminKey: nil).organisation.id
        let store = CountedPolicyStore(inner)
        let detector = AnomalyDetector(
            store: store, policies: PolicyCache(store: inner), clock: ManualClock("2026-12-04T10:00:00Z").clock,
            report: { _ in })

        store.failNext()
        await #expect(throws: MeterrError.self) { try await detector.prepare(org: org) }
        #expect(store.reads == 1)

        // Twenty calls while the read is held: one read for them all.
        store.hold()
        try await withThrowingTaskGroup(of: Void.self) { calls in
            for _ in 0..<20 { calls.addTask { try await detector.prepare(org: org) } }
            while store.reads < 2 { try await Task.sleep(for: .milliseconds(1)) }
            try await Task.sleep(for: .milliseconds(50))
            store.release()
            try await calls.waitForAll()
        }
        #expect(store.reads == 2)
        try await detector.prepare(org: org)
        #expect(store.reads == 2, "learnt once, kept")
    }
}

/// A policy store that counts reads of hourly totals, can fail the next one, and can hold them until
/// released.
final class CountedPolicyStore: PolicyStore {
    struct Gate {
        var reads = 0
        var failing = false
        var held = false
    }

    let inner: any PolicyStore
    let gate = Mutex(Gate())

    init(_ inner: any PolicyStore) { self.inner = inner }

    var reads: Int { gate.withLock { $0.reads } }
    func failNext() { gate.withLock { $0.failing = true } }
    func hold() { gate.withLock { $0.held = true } }
    func release() { gate.withLock { $0.held = false } }

    func foldHourlyTotals<State: Sendable>(
        org: String, from: Timestamp, into state: State,
        _ fold: @escaping @Sendable (inout State, HourlyTotals) -> Void
    ) async throws -> State {
        let fails = gate.withLock { gate in
            gate.reads += 1
            defer { gate.failing = false }
            return gate.failing
        }
        if fails { throw MeterrError(.unavailable, "the store is away") }
        while gate.withLock({ $0.held }) { try await Task.sleep(for: .milliseconds(1)) }
        return try await inner.foldHourlyTotals(org: org, from: from, into: state, fold)
    }

    func policy(org: String) async throws -> OrgPolicy { try await inner.policy(org: org) }
    func setPolicy(org: String, _ policy: OrgPolicy, actor: String) async throws {
        try await inner.setPolicy(org: org, policy, actor: actor)
    }
    func recordBlock(_ block: AnomalyBlock) async throws { try await inner.recordBlock(block) }
    func liftBlock(org: String, id: String, at: Timestamp, actor: String) async throws -> AnomalyBlock? {
        try await inner.liftBlock(org: org, id: id, at: at, actor: actor)
    }
    func blocks(org: String, limit: Int) async throws -> [AnomalyBlock] {
        try await inner.blocks(org: org, limit: limit)
    }
    func unliftedBlocks() async throws -> [AnomalyBlock] { try await inner.unliftedBlocks() }
    func keyModels(org: String) async throws -> [String: Set<String>] { try await inner.keyModels(org: org) }
    func recordKeyModel(org: String, keyId: String, model: String, at: Timestamp) async throws {
        try await inner.recordKeyModel(org: org, keyId: keyId, model: model, at: at)
    }
}
