import Logging
import MeterrCore
import MeterrStore
import PostgresNIO

/// Organisations' policies, anomaly blocks, the hourly totals anomaly detection learns from, and the
/// models each key has called, on PostgreSQL.
extension PostgresStore: PolicyStore {
    public func policy(org: String) async throws -> OrgPolicy {
        let text = try await tenant(org) { connection -> String? in
            let rows = try await connection.query("SELECT policy FROM org_policies WHERE org = \(org)", logger: logger)
            var text: String?
            for try await value in rows.decode(String.self) { text = value }
            return text
        }
        return OrgPolicy(storedText: text)
    }

    public func setPolicy(org: String, _ policy: OrgPolicy, actor: String) async throws {
        let text = policy.storedText
        try await tenant(org) { connection in
            try await requireOrganisation(org, on: connection)
            try await connection.query(
                """
                INSERT INTO org_policies (org, policy, updated_at) VALUES (\(org), \(text), \(clock.now().milliseconds))
                ON CONFLICT (org) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at
                """, logger: logger)
            try await log(on: connection, org: org, actor: actor, action: "policy.update", target: nil, detail: nil)
        }
    }

    static let blockColumns = "id, org, entity, level, reason, created_at, until, lifted_at, lifted_by"

    typealias BlockRow = (String, String, String, String, String, Int64, Int64?, Int64?, String?)

    static func block(_ row: BlockRow) -> AnomalyBlock {
        AnomalyBlock(
            id: row.0, orgId: row.1, entity: row.2, level: row.3, reason: row.4,
            createdAt: Timestamp(milliseconds: row.5), until: row.6.map(Timestamp.init(milliseconds:)),
            liftedAt: row.7.map(Timestamp.init(milliseconds:)), liftedBy: row.8)
    }

    func readBlocks(_ query: PostgresQuery, on connection: PostgresConnection) async throws -> [AnomalyBlock] {
        var blocks: [AnomalyBlock] = []
        for try await row in try await connection.query(query, logger: logger).decode(BlockRow.self) {
            blocks.append(Self.block(row))
        }
        return blocks
    }

    public func recordBlock(_ block: AnomalyBlock) async throws {
        try await tenant(block.orgId) { connection -> Void in
            try await connection.query(
                """
                INSERT INTO anomaly_blocks (\(unescaped: Self.blockColumns))
                VALUES (\(block.id), \(block.orgId), \(block.entity), \(block.level), \(block.reason),
                    \(block.createdAt.milliseconds), \(block.until?.milliseconds), NULL, NULL)
                ON CONFLICT DO NOTHING
                """, logger: logger)
        }
    }

    public func liftBlock(org: String, id: String, at: Timestamp, actor: String) async throws -> AnomalyBlock? {
        try await tenant(org) { connection in
            let lifted = try await readBlocks(
                """
                UPDATE anomaly_blocks SET lifted_at = coalesce(lifted_at, \(at.milliseconds)),
                    lifted_by = coalesce(lifted_by, \(actor))
                WHERE org = \(org) AND id = \(id)
                RETURNING \(unescaped: Self.blockColumns)
                """, on: connection)
            guard let block = lifted.first else { return nil }
            try await log(on: connection, org: org, actor: actor, action: "anomaly.lift", target: id, detail: nil)
            return block
        }
    }

    public func blocks(org: String, limit: Int) async throws -> [AnomalyBlock] {
        try await tenant(org) { connection in
            try await readBlocks(
                """
                SELECT \(unescaped: Self.blockColumns) FROM anomaly_blocks WHERE org = \(org)
                ORDER BY created_at DESC LIMIT \(Int64(limit))
                """, on: connection)
        }
    }

    public func unliftedBlocks() async throws -> [AnomalyBlock] {
        try await acrossOrganisations { connection in
            try await readBlocks(
                """
                SELECT \(unescaped: Self.blockColumns) FROM anomaly_blocks WHERE lifted_at IS NULL
                ORDER BY created_at, id COLLATE "C"
                """, on: connection)
        }
    }

    public func foldHourlyTotals<State: Sendable>(
        org: String, from: Timestamp, into state: State,
        _ fold: @escaping @Sendable (inout State, HourlyTotals) -> Void
    ) async throws -> State {
        return try await tenant(org) { connection in
            var state = state
            for (dimension, entity) in AnomalyEntity.hourlyDimensions {
                // In the rollups' key order (values byte by byte), as SQLite reads them: each value's hours
                // oldest first.
                let rows = try await connection.query(
                    """
                    SELECT bucket, value, requests, input_tokens + output_tokens, cost_nanos FROM usage_rollups
                    WHERE org = \(org) AND grain = \(Int64(RollupGrain.hour.rawValue))::smallint
                        AND dim = \(Int64(dimension.rawValue))::smallint AND bucket >= \(from.milliseconds)
                    ORDER BY bucket, value COLLATE "C"
                    """, logger: logger)
                for try await (bucket, value, requests, tokens, cost) in rows.decode(
                    (Int64, String, Int64, Int64, Int64).self)
                {
                    if dimension != .all && value.isEmpty { continue }
                    fold(
                        &state,
                        HourlyTotals(
                            entity: entity(value), hour: Timestamp(milliseconds: bucket), requests: requests,
                            tokens: tokens, costNanos: cost))
                }
            }
            return state
        }
    }

    public func keyModels(org: String) async throws -> [String: Set<String>] {
        try await tenant(org) { connection in
            let rows = try await connection.query(
                "SELECT key_id, model FROM key_models WHERE org = \(org)", logger: logger)
            var models: [String: Set<String>] = [:]
            for try await (key, model) in rows.decode((String, String).self) { models[key, default: []].insert(model) }
            return models
        }
    }

    public func recordKeyModel(org: String, keyId: String, model: String, at: Timestamp) async throws {
        try await tenant(org) { connection -> Void in
            try await connection.query(
                """
                INSERT INTO key_models (org, key_id, model, first_seen)
                VALUES (\(org), \(keyId), \(model), \(at.milliseconds))
                ON CONFLICT DO NOTHING
                """, logger: logger)
        }
    }
}
