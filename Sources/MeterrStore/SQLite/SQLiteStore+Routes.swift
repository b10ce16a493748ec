import GRDB
import MeterrCore

extension SQLiteStore: RouteStore {
    public func allRoutes() async throws -> [StoredRoute] {
        try await read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: "SELECT org_id, name, definition, updated_at FROM routes ORDER BY org_id, name")
            )
            .map {
                StoredRoute(orgId: $0[0], name: $0[1], definition: $0[2], updatedAt: Timestamp(milliseconds: $0[3]))
            }
        }
    }

    public func putRoute(_ route: StoredRoute, actor: String) async throws {
        try await write { db in
            try Self.requireOrganisation(db, route.orgId)
            try db.execute(
                sql: """
                    INSERT INTO routes (org_id, name, definition, updated_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (org_id, name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at
                    """,
                arguments: [route.orgId, route.name, route.definition, route.updatedAt.milliseconds])
            try self.log(
                db, org: route.orgId, actor: actor, action: "route.put", target: route.name, detail: route.definition)
        }
    }

    public func deleteRoute(org: String, name: String, actor: String) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM routes WHERE org_id = ? AND name = ?", arguments: [org, name])
            guard db.changesCount > 0 else { return false }
            try self.log(db, org: org, actor: actor, action: "route.delete", target: name, detail: nil)
            return true
        }
    }
}
