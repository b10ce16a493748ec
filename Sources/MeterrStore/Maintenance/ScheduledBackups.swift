import Logging
import MeterrCore
import ServiceLifecycle

/// `backup_dir`: `meterr serve` backs the database up once in every six-hour slot (UTC) and deletes
/// what the tiers no longer keep. A failed backup is logged and tried again at the next check.
public struct ScheduledBackups: Service, CustomStringConvertible {
    public var description: String { "ScheduledBackups" }

    let store: SQLiteStore
    let archive: BackupArchive
    let dataDirectory: String
    let clock: WallClock
    let logger: Logger
    let tick: Duration

    public init(
        store: SQLiteStore, archive: BackupArchive, dataDirectory: String, clock: WallClock, logger: Logger,
        tick: Duration = .seconds(60)
    ) {
        self.store = store
        self.archive = archive
        self.dataDirectory = dataDirectory
        self.clock = clock
        self.logger = logger
        self.tick = tick
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                if let manifest = try await runDue() {
                    logger.notice(
                        "backup taken",
                        metadata: [
                            "backup": "\(manifest.name)", "tiers": "\(manifest.tiers.map(\.rawValue))",
                            "bytes": "\(manifest.bytes)",
                        ])
                }
            } catch {
                logger.error(
                    "backup failed: \((error as? MeterrError)?.message ?? "\(error)")",
                    metadata: ["dir": "\(archive.directory)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: tick) }
        }
    }

    /// Takes a backup when the current six-hour slot has none; returns it.
    public func runDue() async throws -> BackupManifest? {
        let now = clock.now()
        if let last = try archive.list().last,
            BackupTier.sixHourly.slot(of: last.createdAt) == BackupTier.sixHourly.slot(of: now)
        {
            return nil
        }
        return try await archive.take(from: store, dataDirectory: dataDirectory, at: now)
    }
}
