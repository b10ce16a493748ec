extension PostgresMigrations {
    /// Alerts, webhooks and their delivery outbox, policies and anomaly blocks, keys' models, routes.
    static let operations: [String] = []
}
