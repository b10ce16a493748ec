import MeterrCore
import MeterrStore
import Synchronization

/// Each organisation's alerting and anomaly policy, read from the store once and kept in memory, so
/// the request path can consult it without waiting.
package final class PolicyCache: Sendable {
    let store: any PolicyStore
    private let policies = Mutex([String: OrgPolicy]())

    package init(store: any PolicyStore) { self.store = store }

    /// The organisation's policy, loading it on first use.
    func policy(org: String) async throws -> OrgPolicy {
        if let cached = policies.withLock({ $0[org] }) { return cached }
        let loaded = try await store.policy(org: org)
        return policies.withLock { policies in
            if let raced = policies[org] { return raced }
            policies[org] = loaded
            return loaded
        }
    }

    /// The organisation's policy if loaded, else the defaults (for code that cannot wait).
    func cached(org: String) -> OrgPolicy { policies.withLock { $0[org] } ?? .defaults }

    /// Forgets every loaded policy, so each is read again on next use (another node may have changed it).
    func forgetAll() { policies.withLock { $0.removeAll() } }

    /// Saves a new policy.
    func set(org: String, _ policy: OrgPolicy, actor: String) async throws {
        try await store.setPolicy(org: org, policy, actor: actor)
        policies.withLock { $0[org] = policy }
    }
}
