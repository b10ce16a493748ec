import MeterrCore

/// The backup schedule's tiers: one backup every six hours kept 7 days, the first of each UTC day
/// kept 30, of each week (from Monday) kept 90, of each month kept 365.
///
/// A backup belongs to every tier whose current slot (six hours, day, week, month) has no backup
/// yet, and always to `sixHourly`; it is kept while any of its tiers still keeps it.
public enum BackupTier: String, CaseIterable, Codable, Sendable, Comparable {
    case sixHourly = "6h"
    case daily
    case weekly
    case monthly

    /// How long a backup of this tier is kept.
    public var retentionDays: Int {
        switch self {
        case .sixHourly: 7
        case .daily: 30
        case .weekly: 90
        case .monthly: 365
        }
    }

    /// The slot a moment falls in: backups in the same slot are of the same period.
    public func slot(of time: Timestamp) -> Int64 {
        let hour: Int64 = 3_600_000
        let day = 24 * hour
        switch self {
        case .sixHourly: return floorDivide(time.milliseconds, 6 * hour)
        case .daily: return floorDivide(time.milliseconds, day)
        // 1970-01-01 was a Thursday: shift by three days so weeks start on Monday.
        case .weekly: return floorDivide(time.milliseconds + 3 * day, 7 * day)
        case .monthly: return time.monthStart.milliseconds
        }
    }

    /// The tiers a backup taken at `time` joins, given the backups already taken.
    public static func tiers(at time: Timestamp, existing: [BackupManifest]) -> [BackupTier] {
        allCases.filter { tier in
            tier == .sixHourly
                || !existing.contains { $0.tiers.contains(tier) && tier.slot(of: $0.createdAt) == tier.slot(of: time) }
        }
    }

    /// Whether a backup is still kept at `now`.
    public static func keeps(_ manifest: BackupManifest, at now: Timestamp) -> Bool {
        manifest.tiers.contains { tier in
            now.milliseconds - manifest.createdAt.milliseconds < Int64(tier.retentionDays) * 86_400_000
        }
    }

    public static func < (lhs: BackupTier, rhs: BackupTier) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    private func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        value >= 0 ? value / divisor : (value - divisor + 1) / divisor
    }
}
