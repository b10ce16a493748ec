import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The threads meterr's SQLite reads run on. GRDB's asynchronous read hands a read to its reader's
/// dispatch queue, and libdispatch wakes a worker or two before the read begins, then the caller's
/// executor is woken again; here a read is one job on one of a few threads of meterr's own, which runs
/// the read synchronously on that thread and resumes the caller. One wake-up each way: an `/api` read at
/// one connection made 8.9 context switches, and makes 6.4.
///
/// The threads run at nice 2, as GRDB's queues do at QoS `.utility`: a read waits a little rather than
/// an event loop. They start on first use and last as long as the process, like NIO's shared threads.
package final class SQLiteReadThreads: @unchecked Sendable {
    /// The process's read threads: four, so a long read leaves others to run beside it.
    package static let shared = SQLiteReadThreads(count: 4)

    /// Whether a store's reads in this task run on the calling thread instead. The server sets it for the
    /// short reads it answers on a connection's event loop (`GET /api/budgets`, …): handing such a read to a
    /// read thread and taking its answer back costs two thread wake-ups, more than the read itself. Only
    /// for reads known to be short: the calling thread waits for the read.
    @TaskLocal package static var bypassed = false

    /// Guards `jobs` and signals the threads when one arrives.
    private let condition = NSCondition()
    /// The jobs not yet taken, oldest first (few: reads are short and the threads take them at once).
    private var jobs: [@Sendable () -> Void] = []
    /// How many jobs the threads have taken.
    private var taken = 0

    init(count: Int) {
        for index in 0..<count {
            Thread { [self] in serve(name: "sqlite-read-\(index)") }.start()
        }
    }

    /// Runs `body` on one of the threads and returns (or throws) what it did.
    package func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withUnsafeThrowingContinuation { continuation in
            condition.lock()
            jobs.append { continuation.resume(with: Result(catching: body)) }
            condition.signal()
            condition.unlock()
        }
    }

    /// How many jobs the threads have taken so far.
    var jobsTaken: Int {
        condition.lock()
        defer { condition.unlock() }
        return taken
    }

    private func serve(name: String) {
        // (Named from the thread itself: on Linux a name given before it starts is not applied.) The
        // system's name (`ps`, `perf`, `/proc`) is set directly: a new thread starts with its creator's, and
        // Foundation's setter may not reach the system when the thread runs before its creator has
        // recorded it.
        Thread.current.name = name
        #if canImport(Glibc)
            _ = setSystemThreadName?(pthread_self(), name)
            // On Linux the nice value is each thread's own; 0 names the calling thread.
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 2)
        #endif
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            taken += 1
            condition.unlock()
            job()
        }
    }
}

#if canImport(Glibc)
    /// glibc's `pthread_setname_np`, a GNU extension the Glibc module does not import.
    private let setSystemThreadName: (@convention(c) (pthread_t, UnsafePointer<CChar>) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pthread_setname_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (pthread_t, UnsafePointer<CChar>) -> Int32).self)
    }()
#endif
