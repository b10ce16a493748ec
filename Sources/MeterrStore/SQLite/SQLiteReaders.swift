import GRDB
import Synchronization

/// The connections a store's reads use: read-only SQLite connections to its file, each serving one read at
/// a time and kept for the next. There are as many as reads ever ran at once: a read thread's and an event
/// loop's each (`SQLiteReadThreads`).
///
/// GRDB's pool hands out its readers through a dispatch barrier, a semaphore and a group, and reads the
/// schema version before each read, in a transaction of its own outside the read's: about 30 µs of a
/// 230 µs `/api` read, where taking a connection here is a lock and an array's last element. meterr's reads
/// are SQL it writes itself, through statements compiled once per connection, which SQLite compiles again
/// if the schema changes; GRDB's schema cache is not used on these connections.
final class SQLiteReaders: Sendable {
    private let path: String
    private let configuration: Configuration
    private let idle = Mutex<[DatabaseQueue]>([])

    /// Readers of the database file at `path`, opened with `configuration` (made read-only).
    init(path: String, configuration: Configuration) {
        var configuration = configuration
        configuration.readonly = true
        self.path = path
        self.configuration = configuration
    }

    /// `body` in a read transaction on an idle connection (a new one when none is idle), on the calling
    /// thread.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        let connection = try idle.withLock { $0.popLast() } ?? DatabaseQueue(path: path, configuration: configuration)
        defer { idle.withLock { $0.append(connection) } }
        return try connection.inDatabase { db in try db.inCachedTransaction("BEGIN DEFERRED TRANSACTION", body) }
    }

    /// How many connections are open (idle: none is reading).
    var count: Int { idle.withLock { $0.count } }
}
