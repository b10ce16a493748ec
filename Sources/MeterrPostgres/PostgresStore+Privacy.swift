import Crypto
import Foundation
import MeterrCore
import MeterrStore
import PostgresNIO

/// A person's data (GDPR) on PostgreSQL: erasure and export, as on SQLite.
extension PostgresStore {
    /// The names a person goes by in an organisation: the argument, and when it names an account (by
    /// id or email) that account's id and email; `nil` when meterr holds nothing under any of them.
    func identities(org: String, person: String, on connection: PostgresConnection) async throws
        -> (ids: [String], account: UserRecord?)?
    {
        let account = try await collect(
            """
            SELECT \(unescaped: Self.userColumns) FROM users
            WHERE org = \(org) AND (id = \(person) OR email = \(person.lowercased()))
            """, on: connection, Self.user
        ).first
        var ids = [person]
        if let account {
            for value in [account.id, account.email] where !ids.contains(value) { ids.append(value) }
        }
        let held = try await exists(
            """
            SELECT EXISTS (SELECT 1 FROM usage_events WHERE org = \(org) AND "user" = ANY(\(ids)))
                OR EXISTS (SELECT 1 FROM api_keys WHERE org = \(org) AND "user" = ANY(\(ids)))
            """, on: connection)
        return account != nil || held ? (ids, account) : nil
    }

    /// Forgets a person (GDPR erasure): deletes their account and sessions, and replaces their id and
    /// email wherever the organisation's records carry them (events, rollups, keys, budgets, alerts,
    /// audit log, webhook payloads) by one random token, in one transaction, so costs and tokens stay
    /// and totals do not change. Ids shorter than five characters are replaced where they are a
    /// whole value, not inside text. (PostgreSQL's old row versions are removed by its vacuum.)
    public func forgetPerson(org: String, person: String, actor: String) async throws -> ForgetResult {
        let token =
            "forgotten-"
            + SHA256.hash(data: Data((0..<32).map { _ in UInt8.random(in: 0...255) }))
            .prefix(8).map { String(format: "%02x", $0) }.joined()
        return try await tenant(org) { connection in
            guard let (ids, account) = try await identities(org: org, person: person, on: connection) else {
                throw MeterrError(.notFound, "meterr holds nothing about this person in this organisation")
            }
            @discardableResult
            func exact(_ table: String, _ column: String) async throws -> Int {
                let rows = try await connection.query(
                    """
                    WITH changed AS (
                        UPDATE \(unescaped: table) SET \(unescaped: column) = \(token)
                        WHERE org = \(org) AND \(unescaped: column) = ANY(\(ids)) RETURNING 1)
                    SELECT count(*)::bigint FROM changed
                    """, logger: logger)
                var count: Int64 = 0
                for try await value in rows.decode(Int64.self) { count = value }
                return Int(count)
            }
            func within(_ table: String, _ column: String) async throws {
                for id in ids where id.count >= 5 {
                    try await connection.query(
                        """
                        UPDATE \(unescaped: table) SET \(unescaped: column) = replace(\(unescaped: column), \(id), \(token))
                        WHERE org = \(org) AND strpos(\(unescaped: column), \(id)) > 0
                        """, logger: logger)
                }
            }
            let events = try await exact("usage_events", "\"user\"")
            for id in ids {
                let quoted = "\"\(id)\""
                try await connection.query(
                    """
                    UPDATE usage_events SET tags = replace(tags::text, \(quoted), \("\"\(token)\""))::jsonb
                    WHERE org = \(org) AND strpos(tags::text, \(quoted)) > 0
                    """, logger: logger)
            }
            // User rollups: the person's rows (under their id and their email alike) become one token
            // row; the team × user rows (`team␟user`) the same, keeping each row's team.
            let sums = """
                sum(requests), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_tokens),
                sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(cost_nanos),
                sum(unpriced_requests), sum(unpriced_tokens)
                """
            let columns = """
                org, grain, dim, bucket, value, requests, input_tokens, cache_read_tokens, cache_write_tokens,
                cache_write_1h_tokens, output_tokens, reasoning_tokens, cost_nanos, unpriced_requests, unpriced_tokens
                """
            let user = Int16(RollupDimension.user.rawValue)
            let teamUser = Int16(RollupDimension.teamUser.rawValue)
            let team = "split_part(value, chr(31), 1) || chr(31)"
            let personPart = "substr(value, strpos(value, chr(31)) + 1)"
            try await connection.query(
                """
                WITH gone AS (
                    DELETE FROM usage_rollups WHERE org = \(org) AND dim = \(user) AND value = ANY(\(ids))
                    RETURNING *)
                INSERT INTO usage_rollups (\(unescaped: columns))
                SELECT org, grain, dim, bucket, \(token), \(unescaped: sums) FROM gone GROUP BY org, grain, dim, bucket
                ORDER BY org, grain, dim, bucket
                \(unescaped: Self.rollupMerge)
                """, logger: logger)
            try await connection.query(
                """
                WITH gone AS (
                    DELETE FROM usage_rollups
                    WHERE org = \(org) AND dim = \(teamUser) AND \(unescaped: personPart) = ANY(\(ids))
                    RETURNING *)
                INSERT INTO usage_rollups (\(unescaped: columns))
                SELECT org, grain, dim, bucket, \(unescaped: team) || \(token), \(unescaped: sums) FROM gone
                GROUP BY org, grain, dim, bucket, \(unescaped: team)
                ORDER BY org, grain, dim, bucket, \(unescaped: team)
                \(unescaped: Self.rollupMerge)
                """, logger: logger)
            let keys = try await exact("api_keys", "\"user\"")
            try await exact("budgets", "scope_value")
            try await exact("audit_log", "actor")
            try await exact("audit_log", "target")
            try await exact("alerts", "acknowledged_by")
            try await exact("anomaly_blocks", "lifted_by")
            for (table, column) in [
                ("audit_log", "detail"), ("alerts", "subject"), ("alerts", "message"), ("alerts", "dedupe_key"),
                ("anomaly_blocks", "entity"), ("anomaly_blocks", "reason"), ("webhook_deliveries", "payload"),
            ] {
                try await within(table, column)
            }
            if let account {
                try await connection.query(
                    "DELETE FROM users WHERE org = \(org) AND id = \(account.id)", logger: logger)
            }
            try await log(on: connection, org: org, actor: actor, action: "user.forget", target: token, detail: nil)
            return ForgetResult(token: token, accountDeleted: account != nil, events: events, keys: keys)
        }
    }

    /// Everything meterr holds about a person in an organisation, as one JSON document: their
    /// account, the keys bound to them, every event attributed to them, and the audit entries,
    /// alerts and budgets that name them. Audited as `user.export`.
    public func exportPerson(org: String, person: String, actor: String) async throws -> [UInt8] {
        try await tenant(org) { connection in
            guard let (ids, account) = try await identities(org: org, person: person, on: connection) else {
                throw MeterrError(.notFound, "meterr holds nothing about this person in this organisation")
            }
            var json = JSONWriter(capacity: 1 << 16)
            json.beginObject()
            json.string("person", person)
            if let record = account {
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
            let keys = try await collect(
                """
                SELECT id, name, display_prefix, team, project, created_at, revoked_at FROM api_keys
                WHERE org = \(org) AND "user" = ANY(\(ids)) ORDER BY created_at
                """, on: connection
            ) { try $0.decode((String, String, String, String?, String?, Int64, Int64?).self) }
            for (id, name, prefix, team, project, createdAt, revokedAt) in keys {
                json.beginObject()
                json.string("id", id)
                json.string("name", name)
                json.string("prefix", prefix)
                json.string("team", team)
                json.string("project", project)
                json.string("created_at", Timestamp(milliseconds: createdAt).rfc3339)
                json.string("revoked_at", revokedAt.map { Timestamp(milliseconds: $0).rfc3339 })
                json.endObject()
            }
            json.endArray()
            json.beginArray("budgets")
            let budgets = try await collect(
                "SELECT id, name FROM budgets WHERE org = \(org) AND scope_value = ANY(\(ids)) ORDER BY seq",
                on: connection
            ) { try $0.decode((String, String).self) }
            for (id, name) in budgets {
                json.beginObject()
                json.string("id", id)
                json.string("name", name)
                json.endObject()
            }
            json.endArray()
            json.beginArray("audit")
            let audit = try await collect(
                """
                SELECT at, actor, action, target, detail FROM audit_log
                WHERE org = \(org) AND (actor = ANY(\(ids)) OR target = ANY(\(ids))
                    OR EXISTS (SELECT 1 FROM unnest(\(ids)::text[]) AS name WHERE strpos(detail, name) > 0))
                ORDER BY seq
                """, on: connection
            ) { try $0.decode((Int64, String, String, String?, String?).self) }
            for (at, actorName, action, target, detail) in audit {
                json.beginObject()
                json.string("at", Timestamp(milliseconds: at).rfc3339)
                json.string("actor", actorName)
                json.string("action", action)
                json.string("target", target)
                json.string("detail", detail)
                json.endObject()
            }
            json.endArray()
            json.beginArray("alerts")
            let alerts = try await collect(
                """
                SELECT id, kind, created_at, message FROM alerts
                WHERE org = \(org) AND EXISTS (SELECT 1 FROM unnest(\(ids)::text[]) AS name
                    WHERE strpos(message, name) > 0 OR strpos(coalesce(subject, ''), name) > 0)
                ORDER BY created_at, id
                """, on: connection
            ) { try $0.decode((String, String, Int64, String).self) }
            for (id, kind, createdAt, message) in alerts {
                json.beginObject()
                json.string("id", id)
                json.string("kind", kind)
                json.string("created_at", Timestamp(milliseconds: createdAt).rfc3339)
                json.string("message", message)
                json.endObject()
            }
            json.endArray()
            json.beginArray("events")
            let events = try await collect(
                """
                SELECT seq, \(unescaped: Self.selectColumns) FROM usage_events
                WHERE org = \(org) AND "user" = ANY(\(ids)) ORDER BY ts, seq
                """, on: connection, Self.event)
            for (_, event) in events { json.raw(nil, event.jsonLine) }
            json.endArray()
            json.endObject()
            try await log(
                on: connection, org: org, actor: actor, action: "user.export",
                target: ids.count > 1 ? ids[0] : person, detail: nil)
            return json.bytes
        }
    }
}
