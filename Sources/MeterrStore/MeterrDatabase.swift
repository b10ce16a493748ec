import MeterrCore

/// Every store the server keeps, on one database: the embedded SQLite file (the default, one node)
/// or PostgreSQL (several nodes). The server sees only this; each database answers the same
/// conformance tests.
public protocol MeterrDatabase: AccountStore, UserStore, AlertStore, BudgetStore, CallHealthStore, CallShapeStore,
    CredentialStore, PolicyStore, RouteStore, UsageBreakdowns, UsageLedger, WebhookStore
{
    /// Whether the database answers (`/readyz`).
    func isReady() async -> Bool

    /// Records an audit entry of its own (retention, maintenance).
    func recordAudit(org: String, actor: String, action: String, target: String?, detail: String?) async throws

    /// The instant before which retention may remove events, for a cutoff of `cutoff`: SQLite
    /// removes whole days, so the cutoff itself; PostgreSQL removes whole months (a partition at a
    /// time), so the start of the cutoff's month.
    func retentionCutoff(_ cutoff: Timestamp) -> Timestamp

    /// Drops, all at once, every organisation's events of the months that end by `cutoff`, where the
    /// database keeps them by month (PostgreSQL's partitions); returns the months dropped (`2026-01`).
    /// SQLite keeps no months and drops nothing.
    func dropEventMonths(before cutoff: Timestamp) async throws -> [String]

    /// Removes up to `limit` of an organisation's events before `before` (and the shapes of those
    /// calls); returns how many. Rollups stay, so totals by day and month do not change.
    func removeEvents(org: String, before: Timestamp, limit: Int) async throws -> Int
}

extension SQLiteStore: MeterrDatabase {
    public func retentionCutoff(_ cutoff: Timestamp) -> Timestamp { cutoff }
    public func dropEventMonths(before cutoff: Timestamp) async throws -> [String] { [] }
}
