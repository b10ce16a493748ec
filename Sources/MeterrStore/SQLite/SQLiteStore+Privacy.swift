import Crypto
import Foundation
import GRDB
import MeterrCore

extension SQLiteStore {
    /// The names a person goes by in an organisation: the argument, and when it names an account (by
    /// id or email) that account's id and email. `nil` when meterr holds nothing under any of them.
    func identities(_ db: Database, org: String, person: String) throws -> (ids: [String], account: Row?)? {
        let account = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT \(Self.userColumns) FROM users WHERE org_id = ? AND (id = ? OR email = ?)"),
            arguments: [org, person, person.lowercased()])
        var ids = [person]
        if let account {
            for value in [account[0] as String, account[2] as String] where !ids.contains(value) { ids.append(value) }
        }
        let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        let held =
            try Bool.fetchOne(
                db,
                sql: """
                    SELECT EXISTS (SELECT 1 FROM usage_events WHERE org = ? AND user IN (\(marks)))
                        OR EXISTS (SELECT 1 FROM api_keys WHERE org_id = ? AND user IN (\(marks)))
                    """, arguments: StatementArguments([org] + ids + [org] + ids)) ?? false
        return account != nil || held ? (ids, account) : nil
    }

    /// Forgets a person (GDPR erasure): deletes their account and sessions, and replaces their id and
    /// email wherever the organisation's records carry them (events, rollups, keys, budgets, alerts,
    /// audit log, webhook payloads) by one random token, so costs and tokens stay and totals do not
    /// change. Deleted content is overwritten (`secure_delete`) and the write-ahead log truncated, so
    /// the name is gone from the database files, not only from its answers.
    ///
    /// Ids shorter than five characters are replaced where they are a whole value, not inside text.
    public func forgetPerson(org: String, person: String, actor: String) async throws -> ForgetResult {
        let token =
            "forgotten-"
            + SHA256.hash(data: Data((0..<32).map { _ in UInt8.random(in: 0...255) }))
            .prefix(8).map { String(format: "%02x", $0) }.joined()
        do {
            return try await pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA secure_delete = ON")
                defer { try? db.execute(sql: "PRAGMA secure_delete = OFF") }
                var result: ForgetResult?
                try db.inTransaction {
                    result = try Self.forget(db, org: org, person: person, token: token, actor: actor, store: self)
                    return .commit
                }
                // Old page images leave the WAL; readers that hold it back make this a no-op, retried below.
                for _ in 0..<20 {
                    let row = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
                    if (row?[0] as Int?) == 0 { break }
                    Thread.sleep(forTimeInterval: 0.05)
                }
                return result!
            }
        } catch let error as MeterrError {
            throw error
        } catch {
            throw MeterrError(.storage, "the database could not be written", underlying: error)
        }
    }

    static func forget(
        _ db: Database, org: String, person: String, token: String, actor: String, store: SQLiteStore
    ) throws -> ForgetResult {
        guard let (ids, account) = try store.identities(db, org: org, person: person) else {
            throw MeterrError(.notFound, "meterr holds nothing about this person in this organisation")
        }
        let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        func exact(_ table: String, _ column: String, orgColumn: String) throws -> Int {
            try db.execute(
                sql: "UPDATE \(table) SET \(column) = ? WHERE \(orgColumn) = ? AND \(column) IN (\(marks))",
                arguments: StatementArguments([token, org] + ids))
            return db.changesCount
        }
        func within(_ table: String, _ column: String, orgColumn: String) throws {
            for id in ids where id.count >= 5 {
                try db.execute(
                    sql: """
                        UPDATE \(table) SET \(column) = REPLACE(\(column), ?, ?)
                        WHERE \(orgColumn) = ? AND instr(\(column), ?) > 0
                        """, arguments: [id, token, org, id])
            }
        }
        let events = try exact("usage_events", "user", orgColumn: "org")
        for id in ids {
            let quoted = "\"\(id)\""
            try db.execute(
                sql: "UPDATE usage_events SET tags = REPLACE(tags, ?, ?) WHERE org = ? AND instr(tags, ?) > 0",
                arguments: [quoted, "\"\(token)\"", org, quoted])
        }
        // User rollups: the person's rows (under their id and their email alike) become one token row.
        let user = RollupDimension.user.rawValue
        try db.execute(
            sql: """
                INSERT INTO usage_rollups (org, grain, dim, bucket, value, requests, input_tokens, cache_read_tokens,
                    cache_write_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens, cost_nanos,
                    unpriced_requests, unpriced_tokens)
                SELECT org, grain, dim, bucket, ?, SUM(requests), SUM(input_tokens), SUM(cache_read_tokens),
                    SUM(cache_write_tokens), SUM(cache_write_1h_tokens), SUM(output_tokens), SUM(reasoning_tokens),
                    SUM(cost_nanos), SUM(unpriced_requests), SUM(unpriced_tokens)
                FROM usage_rollups WHERE org = ? AND dim = \(user) AND value IN (\(marks))
                GROUP BY org, grain, dim, bucket
                """, arguments: StatementArguments([token, org] + ids))
        try db.execute(
            sql: "DELETE FROM usage_rollups WHERE org = ? AND dim = \(user) AND value IN (\(marks))",
            arguments: StatementArguments([org] + ids))
        // The team × user rows (`team␟user`): the same, keeping each row's team.
        let teamUser = RollupDimension.teamUser.rawValue
        let team = "substr(value, 1, instr(value, char(31)))"
        let person = "substr(value, instr(value, char(31)) + 1)"
        try db.execute(
            sql: """
                INSERT INTO usage_rollups (org, grain, dim, bucket, value, requests, input_tokens, cache_read_tokens,
                    cache_write_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens, cost_nanos,
                    unpriced_requests, unpriced_tokens)
                SELECT org, grain, dim, bucket, \(team) || ?, SUM(requests), SUM(input_tokens),
                    SUM(cache_read_tokens), SUM(cache_write_tokens), SUM(cache_write_1h_tokens), SUM(output_tokens),
                    SUM(reasoning_tokens), SUM(cost_nanos), SUM(unpriced_requests), SUM(unpriced_tokens)
                FROM usage_rollups WHERE org = ? AND dim = \(teamUser) AND \(person) IN (\(marks))
                GROUP BY org, grain, dim, bucket, \(team)
                """, arguments: StatementArguments([token, org] + ids))
        try db.execute(
            sql: "DELETE FROM usage_rollups WHERE org = ? AND dim = \(teamUser) AND \(person) IN (\(marks))",
            arguments: StatementArguments([org] + ids))
        let keys = try exact("api_keys", "user", orgColumn: "org_id")
        _ = try exact("budgets", "scope_value", orgColumn: "org_id")
        _ = try exact("audit_log", "actor", orgColumn: "org_id")
        _ = try exact("audit_log", "target", orgColumn: "org_id")
        _ = try exact("alerts", "acknowledged_by", orgColumn: "org_id")
        _ = try exact("anomaly_blocks", "lifted_by", orgColumn: "org_id")
        for (table, column) in [
            ("audit_log", "detail"), ("alerts", "subject"), ("alerts", "message"), ("alerts", "dedupe_key"),
            ("anomaly_blocks", "entity"), ("anomaly_blocks", "reason"),
        ] {
            try within(table, column, orgColumn: "org_id")
        }
        for id in ids where id.count >= 5 {
            try db.execute(
                sql: """
                    UPDATE webhook_deliveries SET payload = REPLACE(payload, ?, ?)
                    WHERE webhook_id IN (SELECT id FROM webhooks WHERE org_id = ?) AND instr(payload, ?) > 0
                    """, arguments: [id, token, org, id])
        }
        if let account {
            try db.execute(sql: "DELETE FROM users WHERE id = ?", arguments: [account[0] as String])
        }
        try store.log(db, org: org, actor: actor, action: "user.forget", target: token, detail: nil)
        return ForgetResult(token: token, accountDeleted: account != nil, events: events, keys: keys)
    }

    /// Everything meterr holds about a person in an organisation, as one JSON document: their
    /// account, the keys bound to them, every event attributed to them, and the audit entries,
    /// alerts and budgets that name them. Audited as `user.export`.
    public func exportPerson(org: String, person: String, actor: String) async throws -> [UInt8] {
        try await write { db in
            guard let (ids, account) = try self.identities(db, org: org, person: person) else {
                throw MeterrError(.notFound, "meterr holds nothing about this person in this organisation")
            }
            let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
            var json = JSONWriter(capacity: 1 << 16)
            json.beginObject()
            json.string("person", person)
            if let account {
                let record = Self.user(account)
                json.beginObject("account")
                json.string("id", record.id)
                json.string("email", record.email)
                json.string("name", record.name)
                json.string("role", record.role.rawValue)
                json.string("team", record.team)
                json.bool("can_sign_in", record.hasPassword)
                json.string("created_at", record.createdAt.rfc3339)
                json.endObject()
            } else {
                json.raw("account", Array("null".utf8))
            }
            json.beginArray("keys")
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT id, name, display_prefix, team, project, created_at, revoked_at FROM api_keys
                    WHERE org_id = ? AND user IN (\(marks)) ORDER BY created_at
                    """, arguments: StatementArguments([org] + ids))
            {
                json.beginObject()
                json.string("id", row[0])
                json.string("name", row[1])
                json.string("prefix", row[2])
                json.string("team", row[3])
                json.string("project", row[4])
                json.string("created_at", Timestamp(milliseconds: row[5]).rfc3339)
                json.string("revoked_at", (row[6] as Int64?).map { Timestamp(milliseconds: $0).rfc3339 })
                json.endObject()
            }
            json.endArray()
            json.beginArray("budgets")
            for row in try Row.fetchAll(
                db, sql: "SELECT id, name FROM budgets WHERE org_id = ? AND scope_value IN (\(marks))",
                arguments: StatementArguments([org] + ids))
            {
                json.beginObject()
                json.string("id", row[0])
                json.string("name", row[1])
                json.endObject()
            }
            json.endArray()
            json.beginArray("audit")
            let mentions = ids.map { _ in "actor = ? OR target = ? OR instr(detail, ?) > 0" }.joined(separator: " OR ")
            for row in try Row.fetchAll(
                db,
                sql:
                    "SELECT at, actor, action, target, detail FROM audit_log WHERE org_id = ? AND (\(mentions)) ORDER BY seq",
                arguments: StatementArguments([org] + ids.flatMap { [$0, $0, $0] }))
            {
                json.beginObject()
                json.string("at", Timestamp(milliseconds: row[0]).rfc3339)
                json.string("actor", row[1])
                json.string("action", row[2])
                json.string("target", row[3])
                json.string("detail", row[4])
                json.endObject()
            }
            json.endArray()
            json.beginArray("alerts")
            let alertMentions = ids.map { _ in "instr(message, ?) > 0 OR instr(COALESCE(subject, ''), ?) > 0" }
                .joined(separator: " OR ")
            for row in try Row.fetchAll(
                db,
                sql: "SELECT id, kind, created_at, message FROM alerts WHERE org_id = ? AND (\(alertMentions))",
                arguments: StatementArguments([org] + ids.flatMap { [$0, $0] }))
            {
                json.beginObject()
                json.string("id", row[0])
                json.string("kind", row[1])
                json.string("created_at", Timestamp(milliseconds: row[2]).rfc3339)
                json.string("message", row[3])
                json.endObject()
            }
            json.endArray()
            json.beginArray("events")
            for row in try Row.fetchAll(
                db,
                sql:
                    "SELECT \(Self.eventColumns) FROM usage_events WHERE org = ? AND user IN (\(marks)) ORDER BY ts, seq",
                arguments: StatementArguments([org] + ids))
            {
                json.raw(nil, try Self.event(from: row, offset: 0).jsonLine)
            }
            json.endArray()
            json.endObject()
            try self.log(
                db, org: org, actor: actor, action: "user.export", target: ids.count > 1 ? ids[0] : person, detail: nil)
            return json.bytes
        }
    }

    /// Removes up to `limit` of an organisation's events older than `before` (retention); returns how
    /// many. Rollups and budget history are kept, so totals by day and month do not change.
    public func removeEvents(org: String, before: Timestamp, limit: Int) async throws -> Int {
        try await write { db in
            try db.execute(
                sql: """
                    DELETE FROM usage_events WHERE seq IN
                        (SELECT seq FROM usage_events WHERE org = ? AND ts < ? ORDER BY ts LIMIT ?)
                    """, arguments: [org, before.milliseconds, limit])
            let removed = db.changesCount
            // The shapes of calls whose events are gone go with them.
            try db.execute(
                sql: "DELETE FROM call_shapes WHERE org = ? AND ts < ?", arguments: [org, before.milliseconds])
            return removed
        }
    }

    /// Writes one audit entry (for work that is not a request: retention, maintenance).
    public func recordAudit(org: String, actor: String, action: String, target: String?, detail: String?) async throws {
        try await write { db in try self.log(db, org: org, actor: actor, action: action, target: target, detail: detail)
        }
    }
}
