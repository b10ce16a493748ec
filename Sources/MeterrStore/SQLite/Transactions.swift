import GRDB

/// meterr's SQLite transactions: GRDB's, with their `BEGIN`, `COMMIT` and `ROLLBACK` compiled once per
/// connection. GRDB's `read` and `write` compile them anew for every transaction: for a short query that
/// was about half of a read's cost, and for a ledger commit two statements' parsing on the writer
/// (`docs/performance.md`).
///
/// Each transaction ends whatever happens: committed after `body`, rolled back when `body` or the commit
/// throws, so the connection goes back outside any transaction.
extension DatabasePool {
    /// `body` in a read transaction on one of the pool's readers, on the calling thread.
    func readTransaction<T>(_ body: (Database) throws -> T) throws -> T {
        try unsafeRead { db in try db.inCachedTransaction("BEGIN DEFERRED TRANSACTION", body) }
    }

    /// `body` in a write transaction on the pool's writer (`BEGIN IMMEDIATE`, as GRDB's `write`).
    func writeTransaction<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws -> T {
        try await writeWithoutTransaction { db in try db.inCachedTransaction("BEGIN IMMEDIATE TRANSACTION", body) }
    }
}

extension Database {
    func inCachedTransaction<T>(_ begin: String, _ body: (Database) throws -> T) throws -> T {
        try cachedStatement(sql: begin).execute()
        do {
            let value = try body(self)
            try cachedStatement(sql: "COMMIT TRANSACTION").execute()
            return value
        } catch {
            if isInsideTransaction { try? cachedStatement(sql: "ROLLBACK TRANSACTION").execute() }
            throw error
        }
    }
}
