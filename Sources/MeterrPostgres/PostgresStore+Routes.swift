import Logging
import MeterrCore
import MeterrStore
import PostgresNIO

/// Organisations' virtual models on PostgreSQL; every change is audited.
extension PostgresStore: RouteStore {
    public func allRoutes() async throws -> [StoredRoute] {
        try await acrossOrganisations { connection in
            let rows = try await connection.query(
                """
                SELECT org, name, definition, updated_at FROM routes ORDER BY org COLLATE "C", name COLLATE "C"
                """, logger: logger)
            var routes: [StoredRoute] = []
            for try await (org, name, definition, updated) in rows.decode((String, String, String, Int64).self) {
                routes.append(
                    StoredRoute(
                        orgId: org, name: name, definition: definition, updatedAt: Timestamp(milliseconds: updated)))
            }
            return routes
        }
    }

    public func putRoute(_ route: StoredRoute, actor: String) async throws {
        try await tenant(route.orgId) { connection in
            try await requireOrganisation(route.orgId, on: connection)
            try await connection.query(
                """
                INSERT INTO routes (org, name, definition, updated_at)
                VALUES (\(route.orgId), \(route.name), \(route.definition), \(route.updatedAt.milliseconds))
                ON CONFLICT (org, name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at
                """, logger: logger)
            try await log(
                on: connection, org: route.orgId, actor: actor, action: "route.put", target: route.name,
                detail: route.definition)
        }
    }

    public func deleteRoute(org: String, name: String, actor: String) async throws -> Bool {
        try await tenant(org) { connection in
            let rows = try await connection.query(
                "DELETE FROM routes WHERE org = \(org) AND name = \(name) RETURNING name", logger: logger)
            var deleted = false
            for try await _ in rows.decode(String.self) { deleted = true }
            guard deleted else { return false }
            try await log(on: connection, org: org, actor: actor, action: "route.delete", target: name, detail: nil)
            return true
        }
    }
}
