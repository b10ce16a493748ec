import Foundation
import Logging
import MeterrCore
import ServiceLifecycle

/// Removes raw events past each organisation's `event_retention_days` (else the server's), once an
/// hour, in batches with a pause between them so the ledger's group commit never waits long for the
/// database. Whole UTC days go at a time on SQLite; on PostgreSQL whole months, and months past every
/// organisation's retention are dropped as partitions before anything is deleted, so with one
/// retention for all nothing is. Rollups and budget history stay, so totals by day and month do not
/// change.
public struct EventRetention: Service, CustomStringConvertible {
    public var description: String { "EventRetention" }

    let store: any MeterrDatabase
    /// The server's `event_retention_days`; `nil` keeps events for ever unless an organisation says.
    let defaultDays: Int?
    let clock: WallClock
    let logger: Logger
    let tick: Duration
    let batch: Int

    public init(
        store: any MeterrDatabase, defaultDays: Int?, clock: WallClock, logger: Logger, tick: Duration = .seconds(3600),
        batch: Int = 2_000
    ) {
        self.store = store
        self.defaultDays = defaultDays
        self.clock = clock
        self.logger = logger
        self.tick = tick
        self.batch = batch
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                for (org, removed) in try await sweep() where removed > 0 {
                    logger.notice("retention removed old events", metadata: ["org": "\(org)", "events": "\(removed)"])
                }
            } catch {
                logger.error("retention failed: \((error as? MeterrError)?.message ?? "\(error)")")
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: tick) }
        }
    }

    /// Removes every organisation's expired events now; returns how many per organisation.
    public func sweep() async throws -> [String: Int] {
        var removed: [String: Int] = [:]
        var cutoffs: [(org: String, cutoff: Timestamp?)] = []
        for organisation in try await store.organisations() {
            let days = try await store.policy(org: organisation.id).eventRetentionDays ?? defaultDays
            cutoffs.append(
                (
                    organisation.id,
                    days.map {
                        store.retentionCutoff(clock.now().dayStart.adding(milliseconds: -Int64($0) * 86_400_000))
                    }
                ))
        }
        // Months past every organisation's retention go at once, where the database keeps months.
        if !cutoffs.isEmpty, cutoffs.allSatisfy({ $0.cutoff != nil }),
            let oldest = cutoffs.compactMap(\.cutoff).min()
        {
            let months = try await store.dropEventMonths(before: oldest)
            if !months.isEmpty {
                logger.notice("retention dropped months of events", metadata: ["months": "\(months)"])
            }
        }
        for (org, cutoff) in cutoffs {
            guard let cutoff else { continue }
            var total = 0
            while !Task.isCancelled {
                let count = try await store.removeEvents(org: org, before: cutoff, limit: batch)
                total += count
                if count < batch { break }
                try? await Task.sleep(for: .milliseconds(20))
            }
            if total > 0 {
                try await store.recordAudit(
                    org: org, actor: "retention", action: "events.expire", target: nil,
                    detail: "\(total) events before \(cutoff.rfc3339)")
            }
            removed[org] = total
        }
        return removed
    }
}
