import GRDB
import MeterrCore

extension SQLiteStore: PolicyStore {
    public func policy(org: String) async throws -> OrgPolicy {
        let text = try await read { db in
            try String.fetchOne(
                db.cachedStatement(sql: "SELECT policy FROM org_policies WHERE org_id = ?"), arguments: [org])
        }
        return OrgPolicy(storedText: text)
    }

    public func setPolicy(org: String, _ policy: OrgPolicy, actor: String) async throws {
        let text = policy.storedText
        try await write { db in
            try Self.requireOrganisation(db, org)
            try db.execute(
                sql: """
                    INSERT INTO org_policies (org_id, policy, updated_at) VALUES (?, ?, ?)
                    ON CONFLICT (org_id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at
                    """,
                arguments: [org, text, self.clock.now().milliseconds])
            try self.log(db, org: org, actor: actor, action: "policy.update", target: nil, detail: nil)
        }
    }

    static let blockColumns = "id, org_id, entity, level, reason, created_at, until, lifted_at, lifted_by"

    static func block(_ row: Row) -> AnomalyBlock {
        AnomalyBlock(
            id: row[0], orgId: row[1], entity: row[2], level: row[3], reason: row[4],
            createdAt: Timestamp(milliseconds: row[5]), until: (row[6] as Int64?).map(Timestamp.init),
            liftedAt: (row[7] as Int64?).map(Timestamp.init), liftedBy: row[8])
    }

    public func recordBlock(_ block: AnomalyBlock) async throws {
        try await write { db in
            try db.execute(
                sql:
                    "INSERT OR IGNORE INTO anomaly_blocks (\(Self.blockColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                arguments: [
                    block.id, block.orgId, block.entity, block.level, block.reason, block.createdAt.milliseconds,
                    block.until?.milliseconds,
                ])
        }
    }

    public func liftBlock(org: String, id: String, at: Timestamp, actor: String) async throws -> AnomalyBlock? {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE anomaly_blocks SET lifted_at = COALESCE(lifted_at, ?), lifted_by = COALESCE(lifted_by, ?)
                    WHERE org_id = ? AND id = ?
                    """,
                arguments: [at.milliseconds, actor, org, id])
            guard db.changesCount > 0 else { return nil }
            try self.log(db, org: org, actor: actor, action: "anomaly.lift", target: id, detail: nil)
            return try Row.fetchOne(
                db.cachedStatement(sql: "SELECT \(Self.blockColumns) FROM anomaly_blocks WHERE id = ?"), arguments: [id]
            ).map(Self.block)
        }
    }

    public func blocks(org: String, limit: Int) async throws -> [AnomalyBlock] {
        try await read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql:
                        "SELECT \(Self.blockColumns) FROM anomaly_blocks WHERE org_id = ? ORDER BY created_at DESC LIMIT ?"
                ),
                arguments: [org, limit]
            ).map(Self.block)
        }
    }

    public func unliftedBlocks() async throws -> [AnomalyBlock] {
        try await read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: "SELECT \(Self.blockColumns) FROM anomaly_blocks WHERE lifted_at IS NULL")
            ).map(Self.block)
        }
    }

    public func foldHourlyTotals<State: Sendable>(
        org: String, from: Timestamp, into state: State,
        _ fold: @escaping @Sendable (inout State, HourlyTotals) -> Void
    ) async throws -> State {
        return try await read { db in
            var state = state
            for (dimension, entity) in AnomalyEntity.hourlyDimensions {
                // Read where SQLite holds each row, in the key's order: each value's hours oldest first.
                let rows = try Row.fetchCursor(
                    db.cachedStatement(
                        sql: """
                            SELECT bucket, value, requests, input_tokens + output_tokens, cost_nanos FROM usage_rollups
                            WHERE org = ? AND grain = ? AND dim = ? AND bucket >= ?
                            """),
                    arguments: [org, RollupGrain.hour.rawValue, dimension.rawValue, from.milliseconds])
                while let row = try rows.next() {
                    let value: String = row[1]
                    if dimension != .all && value.isEmpty { continue }
                    fold(
                        &state,
                        HourlyTotals(
                            entity: entity(value), hour: Timestamp(milliseconds: row[0]),
                            requests: row[2], tokens: row[3], costNanos: row[4]))
                }
            }
            return state
        }
    }

    public func keyModels(org: String) async throws -> [String: Set<String>] {
        try await read { db in
            var models: [String: Set<String>] = [:]
            for row in try Row.fetchAll(
                db.cachedStatement(sql: "SELECT key_id, model FROM key_models WHERE org_id = ?"), arguments: [org])
            {
                models[row[0], default: []].insert(row[1])
            }
            return models
        }
    }

    public func recordKeyModel(org: String, keyId: String, model: String, at: Timestamp) async throws {
        try await write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO key_models (org_id, key_id, model, first_seen) VALUES (?, ?, ?, ?)",
                arguments: [org, keyId, model, at.milliseconds])
        }
    }
}
