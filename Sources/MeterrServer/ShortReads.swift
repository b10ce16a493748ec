import MeterrStore

/// The `/api` reads answered on the connection's event loop, their SQLite reads on that thread too
/// (`RouterChannelHandler`, `SQLiteReadThreads.bypassed`): handing such a read to Swift's pool and a read
/// thread and back costs it more than its work. The loop serves gateway calls meanwhile, so only reads
/// whose work is known to be small before it starts stay there: a readiness check, and a page of at most
/// `maxRows` budgets (the route moves a longer page `offTheLoop`). Everything else (alerts, whose default
/// page is 100; keys; usage over a period, events, exports, reports, the dashboard's pages) runs on the
/// pool: a read that starts on the loop and then moves costs more than one started on the pool.
enum ShortReads {
    /// The paths whose `GET` is answered on the event loop.
    static let paths: Set<String> = ["/api/budgets", "/readyz"]

    /// The most rows a short read answers on the loop; a gateway call on that loop waits for it. A budget
    /// with its spend, as JSON, is about 15 µs of work on the loop at one connection (docs/performance.md),
    /// so a page of eight holds a loop for about a third of a millisecond, the request's own work included:
    /// less than a page of four did when a budget cost 60 µs.
    static let maxRows = 8
}

/// Runs `body` on Swift's pool, its SQLite reads on the read threads, when `large` and called from a short
/// read (a task on an event loop); otherwise where it is called.
func offTheLoop<T: Sendable>(if large: Bool, _ body: @Sendable () async throws -> T) async throws -> T {
    guard large, SQLiteReadThreads.bypassed else { return try await body() }
    return try await withTaskExecutorPreference(globalConcurrentExecutor) {
        try await SQLiteReadThreads.$bypassed.withValue(false) { try await body() }
    }
}
