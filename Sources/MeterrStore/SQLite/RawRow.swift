import GRDB
import GRDBSQLite
import MeterrCore

/// Binds one row's values into a prepared statement by position and runs it, with SQLite's C API.
///
/// Used only inside a transaction GRDB opened, on a statement GRDB prepared and caches.
struct RawRow {
    private let statement: OpaquePointer
    private let connection: OpaquePointer?
    private var index: Int32 = 0
    // SQLITE_TRANSIENT: SQLite copies the text before the bind call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    init(_ statement: Statement, _ db: Database) {
        self.statement = statement.sqliteStatement
        self.connection = db.sqliteConnection
    }

    mutating func bind(_ value: String?) {
        index += 1
        if var value {
            // The string's own UTF-8 with its length: no C-string copy, no strlen.
            value.withUTF8 { utf8 in
                if let base = utf8.baseAddress, !utf8.isEmpty {
                    base.withMemoryRebound(to: CChar.self, capacity: utf8.count) {
                        _ = sqlite3_bind_text(statement, index, $0, Int32(utf8.count), Self.transient)
                    }
                } else {
                    _ = sqlite3_bind_text(statement, index, "", 0, Self.transient)
                }
            }
        } else {
            sqlite3_bind_null(statement, index)
        }
    }

    mutating func bind(_ value: Int64?) {
        index += 1
        if let value { sqlite3_bind_int64(statement, index, value) } else { sqlite3_bind_null(statement, index) }
    }

    mutating func bind(_ value: Int?) { bind(value.map(Int64.init)) }

    /// Runs the statement with the values bound since the last run; returns the rows it changed.
    mutating func execute() throws -> Int {
        index = 0
        let result = sqlite3_step(statement)
        sqlite3_reset(statement)
        guard result == SQLITE_DONE else {
            let message = connection.map { String(cString: sqlite3_errmsg($0)) } ?? "unknown error"
            throw MeterrError(.storage, "the usage ledger could not be written (SQLite \(result): \(message))")
        }
        return Int(sqlite3_changes(connection))
    }
}
