import Foundation
import GRDB
import MeterrCore
import Synchronization

/// The response cache in SQLite: its own file beside the ledger (`response-cache.sqlite`), so cached
/// answers never slow the ledger's commits and backups leave them out (they can be made again).
///
/// Answers recently stored or served are also held in memory (up to `hotBytes`): a hit on them reads
/// no file and crosses no thread. When they were last used is written back in batches, for the
/// least-recently-used eviction of the file.
public final class SQLiteResponseCache: ResponseCacheStore {
    private let pool: DatabasePool
    public let maxBytes: Int
    /// The bytes stored, kept here so a store need not sum the table.
    private let bytes: Mutex<Int>

    /// The answers held in memory, by organisation and key; when each key was last used.
    private struct Hot {
        var answers: [AnswerKey: [CachedAnswer]] = [:]
        var used: [AnswerKey: Int64] = [:]
        var bytes = 0
        /// Keys used since their use was last written to the file.
        var touched: [AnswerKey: Int64] = [:]
        var flushing = false
    }

    private let hot = Mutex(Hot())
    /// The most the memory tier holds.
    public let hotBytes: Int
    /// Uses gathered before they are written to the file.
    static let touchBatch = 256

    /// Opens (and creates) `response-cache.sqlite` in `directory`.
    public init(directory: String, maxBytes: Int, hotBytes: Int = 32 << 20) throws {
        self.hotBytes = min(hotBytes, maxBytes)
        let path = (directory as NSString).appendingPathComponent("response-cache.sqlite")
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            pool = try DatabasePool(path: path, configuration: SQLiteStore.configuration(label: "meterr-cache"))
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
            let stored = try pool.read { db in
                try Int.fetchOne(db.cachedStatement(sql: "SELECT COALESCE(SUM(size), 0) FROM answers"))
            }
            bytes = Mutex(stored ?? 0)
        } catch {
            throw MeterrError(.storage, "cannot open the response cache \(path)", underlying: error)
        }
        self.maxBytes = maxBytes
    }

    public func answers(org: String, key: String, now: Timestamp) async throws -> [CachedAnswer] {
        let id = AnswerKey(org: org, key: key)
        let (held, flush) = hot.withLock { hot -> ([CachedAnswer]?, [AnswerKey: Int64]?) in
            guard let answers = hot.answers[id] else { return (nil, nil) }
            let live = answers.filter { $0.expiresAt > now }
            if live.count < answers.count { Self.replace(id, with: live, in: &hot) }
            guard !live.isEmpty else { return ([], nil) }
            hot.used[id] = now.milliseconds
            hot.touched[id] = now.milliseconds
            return (live, Self.takeTouched(&hot))
        }
        if let flush { write(touched: flush) }
        if let held { return held }
        let pool = pool
        let found = try await SQLiteReadThreads.shared.run {
            try pool.readTransaction { db in
                try Row.fetchAll(
                    db.cachedStatement(
                        sql: """
                            SELECT shape, provider, format, model, content_type, body, input_tokens, cache_read_tokens,
                                cache_write_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens, response_id,
                                stored_at, expires_at, user
                            FROM answers WHERE org = ? AND key = ? AND expires_at > ?
                            """), arguments: [org, key, now.milliseconds]
                ).compactMap(Self.answer)
            }
        }
        if !found.isEmpty {
            let flush = hot.withLock { hot -> [AnswerKey: Int64]? in
                Self.replace(id, with: found, in: &hot)
                hot.used[id] = now.milliseconds
                hot.touched[id] = now.milliseconds
                Self.trim(&hot, to: hotBytes)
                return Self.takeTouched(&hot)
            }
            if let flush { write(touched: flush) }
        }
        return found
    }

    /// Puts a key's answers in the memory tier (none: takes the key out).
    private static func replace(_ id: AnswerKey, with answers: [CachedAnswer], in hot: inout Hot) {
        hot.bytes -= hot.answers[id]?.reduce(0) { $0 + $1.size } ?? 0
        if answers.isEmpty {
            hot.answers[id] = nil
            hot.used[id] = nil
        } else {
            hot.answers[id] = answers
            hot.bytes += answers.reduce(0) { $0 + $1.size }
        }
    }

    /// Drops the least recently used keys from memory until it holds at most nine tenths of `limit`.
    private static func trim(_ hot: inout Hot, to limit: Int) {
        guard hot.bytes > limit else { return }
        for (id, _) in hot.used.sorted(by: { $0.value < $1.value }) where hot.bytes > limit * 9 / 10 {
            replace(id, with: [], in: &hot)
        }
    }

    /// The uses to write now, when enough have gathered and no write is under way.
    private static func takeTouched(_ hot: inout Hot) -> [AnswerKey: Int64]? {
        guard hot.touched.count >= touchBatch, !hot.flushing else { return nil }
        hot.flushing = true
        defer { hot.touched = [:] }
        return hot.touched
    }

    /// Writes when keys were last used, off the caller's path: the order only matters when the file is full.
    private func write(touched: [AnswerKey: Int64]) {
        Task { [self] in
            try? await pool.writeTransaction { db in try Self.write(uses: touched, in: db) }
            hot.withLock { $0.flushing = false }
        }
    }

    private static func write(uses: [AnswerKey: Int64], in db: Database) throws {
        let update = try db.cachedStatement(sql: "UPDATE answers SET used_at = ? WHERE org = ? AND key = ?")
        for (id, used) in uses { try update.execute(arguments: [used, id.org, id.key]) }
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
        let id = AnswerKey(org: org, key: key)
        let touched = hot.withLock { hot -> [AnswerKey: Int64] in
            var answers = hot.answers[id] ?? []
            answers.removeAll { $0.shape == answer.shape }
            answers.append(answer)
            Self.replace(id, with: answers, in: &hot)
            hot.used[id] = answer.storedAt.milliseconds
            Self.trim(&hot, to: hotBytes)
            defer { hot.touched = [:] }
            return hot.touched
        }
        let change = try await pool.writeTransaction { db -> Int in
            try Self.write(uses: touched, in: db)
            let previous =
                try Int.fetchOne(
                    db.cachedStatement(sql: "SELECT size FROM answers WHERE org = ? AND key = ? AND shape = ?"),
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
        let (freed, victims) = try await pool.writeTransaction { db -> (Int, [(String, String, String)]) in
            var freed =
                try Int.fetchOne(
                    db.cachedStatement(sql: "SELECT COALESCE(SUM(size), 0) FROM answers WHERE expires_at <= ?"),
                    arguments: [now]) ?? 0
            try db.execute(sql: "DELETE FROM answers WHERE expires_at <= ?", arguments: [now])
            var excess = total - freed - maxBytes * 9 / 10
            let rows = try Row.fetchCursor(
                db.cachedStatement(sql: "SELECT org, key, shape, size FROM answers ORDER BY used_at, stored_at"))
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
            return (freed, victims)
        }
        bytes.withLock { $0 -= freed }
        hot.withLock { hot in
            for (org, key, shape) in victims {
                let id = AnswerKey(org: org, key: key)
                Self.replace(id, with: (hot.answers[id] ?? []).filter { $0.shape.rawValue != shape }, in: &hot)
            }
        }
    }

    public func purge(org: String?) async throws -> Int {
        forgetHeld { id, _ in org == nil || id.org == org }
        return try await drop(where: org == nil ? "1" : "org = ?", arguments: org.map { [$0] } ?? [])
    }

    public func forget(org: String, users: [String]) async throws -> Int {
        guard !users.isEmpty else { return 0 }
        forgetHeld { id, answer in id.org == org && answer.user.map(users.contains) == true }
        let marks = Array(repeating: "?", count: users.count).joined(separator: ", ")
        return try await drop(where: "org = ? AND user IN (\(marks))", arguments: [org] + users, erase: true)
    }

    /// Drops matching answers from the memory tier.
    private func forgetHeld(_ matches: (AnswerKey, CachedAnswer) -> Bool) {
        hot.withLock { hot in
            for (id, answers) in hot.answers {
                let kept = answers.filter { !matches(id, $0) }
                if kept.count < answers.count { Self.replace(id, with: kept, in: &hot) }
            }
        }
    }

    /// Deletes matching answers; `erase`: their bytes are overwritten in the file and the write-ahead
    /// log is truncated (forgetting a person leaves no trace of their answers).
    private func drop(where condition: String, arguments: [String], erase: Bool = false) async throws -> Int {
        let (count, size) = try await pool.writeWithoutTransaction { db -> (Int, Int) in
            if erase { try db.execute(sql: "PRAGMA secure_delete = ON") }
            defer { if erase { try? db.execute(sql: "PRAGMA secure_delete = OFF") } }
            var result = (0, 0)
            try db.inTransaction {
                let found = try Row.fetchOne(
                    db, sql: "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM answers WHERE \(condition)",
                    arguments: StatementArguments(arguments))
                try db.execute(sql: "DELETE FROM answers WHERE \(condition)", arguments: StatementArguments(arguments))
                result = (found?[0] ?? 0, found?[1] ?? 0)
                return .commit
            }
            if erase { _ = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
            return result
        }
        bytes.withLock { $0 -= size }
        return count
    }

    public func stats(org: String?) async throws -> ResponseCacheStats {
        let (entries, bytes) = try await pool.read { db -> (Int, Int) in
            let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM answers WHERE ? IS NULL OR org = ?"),
                arguments: [org, org])
            return (row?[0] ?? 0, row?[1] ?? 0)
        }
        return ResponseCacheStats(entries: entries, bytes: bytes, maxBytes: maxBytes)
    }
}
