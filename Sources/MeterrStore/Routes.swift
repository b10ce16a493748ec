import MeterrCore

/// A virtual model an organisation defined through `/api/routes`, as the router's JSON definition
/// (`{"policy": "cheapest", "deployments": ["openai/gpt-4.1-mini", …]}`).
public struct StoredRoute: Sendable, Hashable {
    public var orgId: String
    public var name: String
    public var definition: String
    public var updatedAt: Timestamp

    public init(orgId: String, name: String, definition: String, updatedAt: Timestamp) {
        self.orgId = orgId
        self.name = name
        self.definition = definition
        self.updatedAt = updatedAt
    }
}

/// Organisations' virtual models; every change is audited.
public protocol RouteStore: Sendable {
    /// Every organisation's routes (loaded by the router at start).
    func allRoutes() async throws -> [StoredRoute]
    /// Creates or replaces a route.
    func putRoute(_ route: StoredRoute, actor: String) async throws
    /// Deletes a route; `false` when there was none.
    func deleteRoute(org: String, name: String, actor: String) async throws -> Bool
}
