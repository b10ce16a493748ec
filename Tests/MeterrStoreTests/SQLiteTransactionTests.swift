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

    /// Runs `body` on a thread of its own: a read that waits for another thread must not hold one of Swift's
    /// pool's few threads, which other tests' tasks need meanwhile.
    private func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result(catching: body)) }.start()
        }
    }

    /// Reads `SELECT COUNT(*) FROM t` twice in one read transaction of `read`, with a write committed by
    /// the store's writer (from another thread) between the two.
    private static func countTwice(
        _ store: SQLiteStore, _ read: ((Database) throws -> (Int?, Int?)) throws -> (Int?, Int?)
    ) throws -> (Int?, Int?) {
        let pool = store.pool
        return try read { db in
            let before = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM t")
            let written = DispatchSemaphore(value: 0)
            Thread {
                try? pool.write { db in try db.execute(sql: "INSERT INTO t VALUES (1)") }
                written.signal()
            }.start()
            written.wait()
            return (before, try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM t"))
        }
    }

    @Test("A read sees one snapshot: a write committed between its two queries is not in the second")
    func readSnapshot() async throws {
        try await withStore { store in
            let (before, after) = try await onThread { try Self.countTwice(store) { try store.readers.read($0) } }
            #expect(before == 0)
            #expect(after == 0)
            #expect(try await count(store) == 1)
            // The same for the pool's own readers (the response cache reads through them).
            let (poolBefore, poolAfter) = try await onThread {
                try Self.countTwice(store) { try store.pool.readTransaction($0) }
            }
            #expect(poolBefore == 1)
            #expect(poolAfter == 1)
            #expect(try await count(store) == 2)
        }
    }

    @Test("A read that throws ends its transaction: its connection reads the latest commit next")
    func readThrows() async throws {
        try await withStore { store in
            #expect(throws: Refused()) {
                try store.readers.read { db in
                    _ = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM t")
                    throw Refused()
                }
            }
            #expect(throws: Refused()) {
                try store.pool.readTransaction { db in
                    _ = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM t")
                    throw Refused()
                }
            }
            _ = try await store.write { db in try db.execute(sql: "INSERT INTO t VALUES (1)") }
            // (A connection left in its transaction would fail to begin the next one.)
            #expect(try store.readers.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM t") } == 1)
            #expect(store.readers.count == 1)
            let (inside, count) = try await store.pool.unsafeRead { db in
                (db.isInsideTransaction, try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM t"))
            }
            #expect(!inside)
            #expect(count == 1)
        }
    }

    @Test("Readers cannot write, are kept for the next read, and are as many as reads ran at once")
    func readers() async throws {
        try await withStore { store in
            #expect(throws: DatabaseError.self) {
                try store.readers.read { db in try db.execute(sql: "INSERT INTO t VALUES (1)") }
            }
            for _ in 0..<3 { _ = try await count(store) }
            #expect(store.readers.count == 1)
            // Two reads at once, each waiting for the other to start.
            let first = DispatchSemaphore(value: 0)
            let second = DispatchSemaphore(value: 0)
            let readers = store.readers
            async let a = onThread {
                try readers.read { _ in
                    first.signal()
                    return second.wait(timeout: .now() + 30) == .success
                }
            }
            async let b = onThread {
                try readers.read { _ in
                    second.signal()
                    return first.wait(timeout: .now() + 30) == .success
                }
            }
            #expect(try await a)
            #expect(try await b)
            #expect(store.readers.count == 2)
            #expect(try await count(store) == 0)
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
