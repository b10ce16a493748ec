import Logging
import MeterrCore
import MeterrPostgres
import ServiceLifecycle

/// The PostgreSQL database's upkeep, on every node (each step is safe to run on several at once):
/// every few seconds, saying this node is alive and counting the nodes, charging the expired holds of
/// nodes that died and reading again what other nodes may have changed (budgets, policies, anomaly
/// blocks, routes); every hour, making the event partitions of this month and the next two.
struct PostgresMaintenance: Service, CustomStringConvertible {
    var description: String { "PostgresMaintenance" }

    let store: PostgresStore
    let clock: WallClock
    let logger: Logger
    /// This node's name among the nodes, and how many there are (each node's limits take their share).
    let node: String
    let nodes: NodeCount
    /// Hands back what this node holds in the database, when it stops.
    let finish: @Sendable () async -> Void
    /// Reads again what this node keeps in memory of the database.
    let refresh: @Sendable () async throws -> Void
    var tick: Duration = .seconds(5)

    func run() async throws {
        var partitionsDue = ContinuousClock.now + .seconds(3600)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: tick) }
            if Task.isShuttingDownGracefully || Task.isCancelled { break }
            do {
                nodes.set(try await store.heartbeat(node: node))
                let charged = try await store.chargeExpiredHolds()
                if charged > 0 {
                    logger.notice("charged expired budget holds in full", metadata: ["holds": "\(charged)"])
                }
                try await refresh()
                if ContinuousClock.now >= partitionsDue {
                    try await store.preparePartitions(now: clock.now())
                    partitionsDue = ContinuousClock.now + .seconds(3600)
                }
            } catch {
                logger.error("PostgreSQL upkeep failed: \(String(reflecting: error))")
            }
        }
        // The other nodes take this one's share and its budget leases back at once.
        await finish()
        try? await store.leave(node: node)
    }
}
