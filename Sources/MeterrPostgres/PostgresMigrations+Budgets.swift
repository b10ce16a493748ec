extension PostgresMigrations {
    /// Budgets and their closed periods, call shapes, call health.
    static let budgetsAndShapes: [String] = []
}
