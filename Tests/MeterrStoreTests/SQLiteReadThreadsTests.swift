import Foundation
import GRDB
import MeterrCore
import Testing

@testable import MeterrStore

#if canImport(Glibc)
    import Glibc
#endif

/// The threads SQLite reads run on: off the caller's thread, below the event loops, side by side.
@Suite("SQLite read threads")
struct SQLiteReadThreadsTests {
    struct Refused: Error, Equatable {}

    @Test("A job runs on a read thread at nice 2; a store's reads are such jobs")
    func storeRead() async throws {
        let threads = SQLiteReadThreads(count: 1)
        let (name, nice) = try await threads.run {
            // The system's name of the thread (what `ps` and `perf` show).
            #if canImport(Glibc)
                let nice = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
                let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
                let name = comm.trimmingCharacters(in: .newlines)
            #else
                let nice: Int32 = 2
                let name = Thread.current.name ?? ""
            #endif
            return (name, nice)
        }
        #expect(name.hasPrefix("sqlite-read-"))
        #expect(nice == 2)
        #expect(threads.jobsTaken == 1)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reads-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(directory: directory.path, readThreads: threads)
        #expect(try await store.read { db in try Int.fetchOne(db, sql: "SELECT 40 + 2") } == 42)
        #expect(try await store.budgets(org: "o").isEmpty)
        #expect(threads.jobsTaken == 3)
    }

    @Test("Reads run side by side, and a read's error reaches its caller")
    func sideBySide() async throws {
        let threads = SQLiteReadThreads(count: 2)
        // Each read waits for the other to start: with one thread at a time, neither would.
        let first = DispatchSemaphore(value: 0)
        let second = DispatchSemaphore(value: 0)
        async let a = threads.run {
            first.signal()
            return second.wait(timeout: .now() + 30) == .success
        }
        async let b = threads.run {
            second.signal()
            return first.wait(timeout: .now() + 30) == .success
        }
        #expect(try await a)
        #expect(try await b)
        await #expect(throws: Refused()) { try await threads.run { () throws -> Int in throw Refused() } }
    }

    @Test("A task that bypasses the read threads reads on its own thread")
    func bypassed() async throws {
        let threads = SQLiteReadThreads(count: 1)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reads-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(directory: directory.path, readThreads: threads)
        let answer = try await SQLiteReadThreads.$bypassed.withValue(true) {
            try await store.read { db in try Int.fetchOne(db, sql: "SELECT 40 + 2") }
        }
        #expect(answer == 42)
        #expect(threads.jobsTaken == 0)
        // Outside the task-local, reads go to the threads again.
        #expect(try await store.budgets(org: "o").isEmpty)
        #expect(threads.jobsTaken == 1)
    }
}
