import Foundation
import GRDB
import MeterrCore
import Testing

@testable import MeterrStore

/// meterr's SQLite transactions (`readTransaction`, `writeTransaction`): one snapshot for a read, all or
/// nothing for a write, and the connection left outside any transaction whatever happens.
@Suite("SQLite transactions")
struct SQLiteTransactionTests {
    struct Refused: Error, Equatable {}

    /// A store in a folder of its own, with a table `t` of one column.
    private func withStore(_ body: (SQLiteStore) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tx-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(directory: directory.path, readThreads: SQLiteReadThreads(count: 1))
        _ = try await store.write { db in try db.execute(sql: "CREATE TABLE t (n INTEGER NOT NULL)") }
        try await body(store)
    }

    private func count(_ store: SQLiteStore) async throws -> Int {
        try await store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM t") ?? -1 }
    }

    @Test("A read sees one snapshot: a write committed between its two queries is not in the second")
    func readSnapshot() async throws {
        try await withStore { store in
            let pool = store.pool
            let (before, after) = try pool.readTransaction { db in
                let before = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM t")
                // Another connection commits meanwhile (the pool's writer, from another thread).
                let written = DispatchSemaphore(value: 0)
                Thread {
                    try? pool.write { db in try db.execute(sql: "INSERT INTO t VALUES (1)") }
                    written.signal()
                }.start()
                written.wait()
                return (before, try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM t"))
            }
            #expect(before == 0)
            #expect(after == 0)
            #expect(try await count(store) == 1)
        }
    }

    @Test("A read that throws ends its transaction; its reader reads the latest commit next")
    func readThrows() async throws {
        try await withStore { store in
            let pool = store.pool
            #expect(throws: Refused()) {
                try pool.readTransaction { db in
                    _ = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM t")
                    throw Refused()
                }
            }
            _ = try await store.write { db in try db.execute(sql: "INSERT INTO t VALUES (1)") }
            let (inside, count) = try await pool.unsafeRead { db in
                (db.isInsideTransaction, try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM t"))
            }
            #expect(!inside)
            #expect(count == 1)
        }
    }

    @Test("A write is all or nothing, and the writer is free after one that throws")
    func writeAllOrNothing() async throws {
        try await withStore { store in
            // (The store reports any failure of a write as its own storage error.)
            await #expect(throws: MeterrError.self) {
                _ = try await store.write { db in
                    try db.execute(sql: "INSERT INTO t VALUES (1)")
                    throw Refused()
                }
            }
            #expect(try await count(store) == 0)
            await #expect(throws: MeterrError.self) {
                _ = try await store.write { db in
                    try db.execute(sql: "INSERT INTO t VALUES (1)")
                    try db.execute(sql: "INSERT INTO t VALUES (NULL)")  // NOT NULL: SQLite refuses.
                }
            }
            #expect(try await count(store) == 0)
            let inside = try await store.pool.writeWithoutTransaction { db in db.isInsideTransaction }
            #expect(!inside)
            _ = try await store.write { db in try db.execute(sql: "INSERT INTO t VALUES (2), (3)") }
            #expect(try await count(store) == 2)
        }
    }
}
