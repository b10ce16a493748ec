import Synchronization

/// How many meterr nodes share the database. Limits each node keeps in memory (rate limits,
/// sign-in back-off) allow this node its share of each limit, so the nodes together hold the limit:
/// with `n` nodes, each admits `limit / n` (at least one). One node, and the embedded database,
/// keep the whole limit.
final class NodeCount: Sendable {
    private let count = Atomic<Int>(1)

    var value: Int { count.load(ordering: .relaxed) }

    func set(_ nodes: Int) { count.store(max(1, nodes), ordering: .relaxed) }

    /// This node's share of a limit: at least one.
    func share(of limit: Double) -> Double { max(1, limit / Double(value)) }
}
