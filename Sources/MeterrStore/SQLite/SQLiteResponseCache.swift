import Foundation
import GRDB
import MeterrCore
import Synchronization

/// The response cache in SQLite: its own file beside the ledger (`response-cache.sqlite`), so cached
/// answers never slow the ledger's commits and backups leave them out (they can be made again).
public final class SQLiteResponseCache: ResponseCacheStore {
    private let pool: DatabasePool
    public let maxBytes: Int
    /// The bytes stored, kept here so a store need not sum the table.
    private let bytes: Mutex<Int>

    /// Opens (and creates) `response-cache.sqlite` in `directory`.
    public init(directory: String, maxBytes: Int) throws {
        let path = (directory as NSString).appendingPathComponent("response-cache.sqlite")
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var configuration = Configuration()
            configuration.busyMode = .timeout(10)
            configuration.label = "meterr-cache"
            configuration.qos = .utility
            configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
            pool = try DatabasePool(path: path, configuration: configuration)
            var migrator = DatabaseMigrator()
            migrator.registerMigration("v1-answers") { db in
                try db.execute(
                    sql: """
                        CREATE TABLE answers (
                            org TEXT NOT NULL,
                            key TEXT NOT NULL,
                            shape TEXT NOT NULL,
                            provider TEXT NOT NULL,
                            format TEXT NOT NULL,
                            model TEXT NOT NULL,
                            content_type TEXT NOT NULL,
                            body BLOB NOT NULL,
                            input_tokens INTEGER NOT NULL,
                            cache_read_tokens INTEGER NOT NULL,
                            cache_write_tokens INTEGER NOT NULL,
                            cache_write_1h_tokens INTEGER NOT NULL,
                            output_tokens INTEGER NOT NULL,
                            reasoning_tokens INTEGER NOT NULL,
                            response_id TEXT,
                            stored_at INTEGER NOT NULL,
                            expires_at INTEGER NOT NULL,
                            used_at INTEGER NOT NULL,
                            size INTEGER NOT NULL,
                            user TEXT,
                            PRIMARY KEY (org, key, shape)
                        );
                        CREATE INDEX answers_used ON answers(used_at);
                        """)
            }
            try migrator.migrate(pool)
            let stored = try pool.read { db in try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(size), 0) FROM answers") }
            bytes = Mutex(stored ?? 0)
        } catch {
            throw MeterrError(.storage, "cannot open the response cache \(path)", underlying: error)
        }
        self.maxBytes = maxBytes
    }

    public func answers(org: String, key: String, now: Timestamp) async throws -> [CachedAnswer] {
        let found = try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT shape, provider, format, model, content_type, body, input_tokens, cache_read_tokens,
                        cache_write_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens, response_id,
                        stored_at, expires_at, user
                    FROM answers WHERE org = ? AND key = ? AND expires_at > ?
                    """, arguments: [org, key, now.milliseconds]
            ).compactMap(Self.answer)
        }
        if !found.isEmpty {
            // Marked used off the caller's path: the order only matters when the cache is full.
            let pool = self.pool
            Task {
                try? await pool.write { db in
                    try db.execute(
                        sql: "UPDATE answers SET used_at = ? WHERE org = ? AND key = ?",
                        arguments: [now.milliseconds, org, key])
                }
            }
        }
        return found
    }

    private static func answer(_ row: Row) -> CachedAnswer? {
        guard let shape = CachedAnswer.Shape(rawValue: row[0]), let provider = Provider(rawValue: row[1]),
            let format = Provider(rawValue: row[2])
        else { return nil }
        let body: Data = row[5]
        return CachedAnswer(
            shape: shape, provider: provider, format: format, model: row[3], contentType: row[4], body: Array(body),
            usage: Usage(
                inputTokens: row[6], cacheReadTokens: row[7], cacheWriteTokens: row[8], cacheWrite1hTokens: row[9],
                outputTokens: row[10], reasoningTokens: row[11]),
            responseId: row[12], storedAt: Timestamp(milliseconds: row[13]),
            expiresAt: Timestamp(milliseconds: row[14]), user: row[15])
    }

    public func store(org: String, key: String, _ answer: CachedAnswer) async throws {
        guard answer.size <= maxBytes else { return }
        let maxBytes = self.maxBytes
        let change = try await pool.write { db -> Int in
            let previous =
                try Int.fetchOne(
                    db, sql: "SELECT size FROM answers WHERE org = ? AND key = ? AND shape = ?",
                    arguments: [org, key, answer.shape.rawValue]) ?? 0
            let usage = answer.usage
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO answers (org, key, shape, provider, format, model, content_type, body,
                        input_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, output_tokens,
                        reasoning_tokens, response_id, stored_at, expires_at, used_at, size, user)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    org, key, answer.shape.rawValue, answer.provider.rawValue, answer.format.rawValue, answer.model,
                    answer.contentType, Data(answer.body), usage.inputTokens, usage.cacheReadTokens,
                    usage.cacheWriteTokens, usage.cacheWrite1hTokens, usage.outputTokens, usage.reasoningTokens,
                    answer.responseId, answer.storedAt.milliseconds, answer.expiresAt.milliseconds,
                    answer.storedAt.milliseconds, answer.size, answer.user,
                ])
            return answer.size - previous
        }
        let total = bytes.withLock { total in
            total += change
            return total
        }
        guard total > maxBytes else { return }
        // Expired answers first, then the least recently used, down to nine tenths of the cap.
        let now = answer.storedAt.milliseconds
        let freed = try await pool.write { db -> Int in
            var freed =
                try Int.fetchOne(
                    db, sql: "SELECT COALESCE(SUM(size), 0) FROM answers WHERE expires_at <= ?", arguments: [now]) ?? 0
            try db.execute(sql: "DELETE FROM answers WHERE expires_at <= ?", arguments: [now])
            var excess = total - freed - maxBytes * 9 / 10
            let rows = try Row.fetchCursor(
                db, sql: "SELECT org, key, shape, size FROM answers ORDER BY used_at, stored_at")
            var victims: [(String, String, String)] = []
            while excess > 0, let row = try rows.next() {
                victims.append((row[0], row[1], row[2]))
                let size: Int = row[3]
                excess -= size
                freed += size
            }
            for (org, key, shape) in victims {
                try db.execute(
                    sql: "DELETE FROM answers WHERE org = ? AND key = ? AND shape = ?", arguments: [org, key, shape])
            }
            return freed
        }
        bytes.withLock { $0 -= freed }
    }

    public func purge(org: String?) async throws -> Int {
        try await drop(where: org == nil ? "1" : "org = ?", arguments: org.map { [$0] } ?? [])
    }

    public func forget(org: String, users: [String]) async throws -> Int {
        guard !users.isEmpty else { return 0 }
        let marks = Array(repeating: "?", count: users.count).joined(separator: ", ")
        return try await drop(where: "org = ? AND user IN (\(marks))", arguments: [org] + users)
    }

    private func drop(where condition: String, arguments: [String]) async throws -> Int {
        let (count, size) = try await pool.write { db -> (Int, Int) in
            let found = try Row.fetchOne(
                db, sql: "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM answers WHERE \(condition)",
                arguments: StatementArguments(arguments))
            try db.execute(sql: "DELETE FROM answers WHERE \(condition)", arguments: StatementArguments(arguments))
            return (found?[0] ?? 0, found?[1] ?? 0)
        }
        bytes.withLock { $0 -= size }
        return count
    }

    public func stats(org: String?) async throws -> ResponseCacheStats {
        let row = try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM answers WHERE ? IS NULL OR org = ?",
                arguments: [org, org])
        }
        return ResponseCacheStats(entries: row?[0] ?? 0, bytes: row?[1] ?? 0, maxBytes: maxBytes)
    }
}
