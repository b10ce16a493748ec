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

    /// The most rows a short read answers on the loop. A budget with its spend, as JSON, is about 60 µs of
    /// work at one connection (a page of 16 took 1.0–1.3 ms), so a page of four holds a loop for about a
    /// quarter of a millisecond; a gateway call on that loop waits for it.
    static let maxRows = 4
}

/// Runs `body` on Swift's pool, its SQLite reads on the read threads, when `large` and called from a short
/// read (a task on an event loop); otherwise where it is called.
func offTheLoop<T: Sendable>(if large: Bool, _ body: @Sendable () async throws -> T) async throws -> T {
    guard large, SQLiteReadThreads.bypassed else { return try await body() }
    return try await withTaskExecutorPreference(globalConcurrentExecutor) {
        try await SQLiteReadThreads.$bypassed.withValue(false) { try await body() }
    }
}
