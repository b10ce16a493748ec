import Logging
import MeterrCore
import MeterrStore
import PostgresNIO

extension PostgresStore: CallHealthStore {
    public func modelHealth(org: String, from: Timestamp, to: Timestamp) async throws -> [ModelHealth] {
        let start = from.dayStart.milliseconds
        let end = to.milliseconds
        return try await tenant(org) { connection in
            var tally = ModelHealthTally()
            let calls = try await connection.query(
                """
                SELECT model, sum(calls)::bigint, sum(errors)::bigint, sum(refusals)::bigint FROM call_health
                WHERE org = \(org) AND day >= \(start) AND day < \(end) GROUP BY model
                """, logger: logger)
            for try await (model, count, errors, refusals) in calls.decode((String, Int64, Int64, Int64).self) {
                tally.add(model: model, calls: Int(count), errors: Int(errors), refusals: Int(refusals))
            }
            let buckets = try await connection.query(
                """
                SELECT model, kind, bucket, sum(count)::bigint FROM latency_buckets
                WHERE org = \(org) AND day >= \(start) AND day < \(end) GROUP BY model, kind, bucket
                """, logger: logger)
            for try await (model, kind, bucket, count) in buckets.decode((String, Int32, Int32, Int64).self) {
                tally.add(model: model, kind: Int(kind), bucket: Int(bucket), count: Int(count))
            }
            return tally.health
        }
    }

    /// Adds a batch's call health to the day rollups, in the caller's transaction (the ledger's
    /// append, as `meterr_app`): each organisation's rows as that organisation, in the tables' key
    /// order, so concurrent nodes lock rows in one order.
    func writeHealth(_ health: HealthDeltas, on connection: PostgresConnection) async throws {
        guard !health.rows.isEmpty else { return }
        let byOrg = Dictionary(grouping: health.rows, by: { $0.key.org })
        for org in byOrg.keys.sorted() {
            try await see(org, on: connection)
            let rows = byOrg[org]!.sorted { ($0.key.day, $0.key.model) < ($1.key.day, $1.key.model) }
            try await connection.query(
                """
                INSERT INTO call_health (org, day, model, calls, errors, refusals)
                SELECT \(org), day, model, calls, errors, refusals
                FROM unnest(\(rows.map { $0.key.day })::int8[], \(rows.map { $0.key.model })::text[],
                    \(rows.map { Int64($0.value.calls) })::int8[], \(rows.map { Int64($0.value.errors) })::int8[],
                    \(rows.map { Int64($0.value.refusals) })::int8[]) AS batch (day, model, calls, errors, refusals)
                ORDER BY day, model
                ON CONFLICT (org, day, model) DO UPDATE SET calls = call_health.calls + excluded.calls,
                    errors = call_health.errors + excluded.errors, refusals = call_health.refusals + excluded.refusals
                """, logger: logger)
            var days: [Int64] = []
            var models: [String] = []
            var kinds: [Int64] = []
            var buckets: [Int64] = []
            var counts: [Int64] = []
            for (key, value) in rows {
                for (kind, histogram) in value.buckets.enumerated() {
                    for (bucket, count) in histogram.sorted(by: { $0.key < $1.key }) {
                        days.append(key.day)
                        models.append(key.model)
                        kinds.append(Int64(kind))
                        buckets.append(Int64(bucket))
                        counts.append(Int64(count))
                    }
                }
            }
            guard !days.isEmpty else { continue }
            try await connection.query(
                """
                INSERT INTO latency_buckets (org, day, model, kind, bucket, count)
                SELECT \(org), day, model, kind::integer, bucket::integer, count
                FROM unnest(\(days)::int8[], \(models)::text[], \(kinds)::int8[], \(buckets)::int8[],
                    \(counts)::int8[]) AS batch (day, model, kind, bucket, count)
                ORDER BY day, model, kind, bucket
                ON CONFLICT (org, day, model, kind, bucket) DO UPDATE SET count = latency_buckets.count + excluded.count
                """, logger: logger)
        }
    }
}
