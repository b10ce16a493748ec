import MeterrCore
import MeterrPricing
import MeterrStore
import Synchronization

/// The prices in force (the catalog with the data directory's imports, Azure deployments, negotiated
/// prices) and the server's `unpriced_policy`: what SIGHUP reloads. Each call reads the edition in
/// force when it is priced; a reload never changes a price half-way through a call's pricing.
final class PriceBook: UsagePricer, Sendable {
    /// One consistent set of prices and policy.
    struct Edition: Sendable {
        var engine: CostEngine
        /// The negotiated prices, with `org: default` resolved to the first organisation.
        var overrides: [OrgPriceOverride]
        /// The server's `unpriced_policy`, for organisations that set none.
        var unpricedDefault: UnpricedPolicy
    }

    private let current: Mutex<Edition>

    init(_ edition: Edition) { current = Mutex(edition) }

    /// The edition in force.
    var edition: Edition { current.withLock { $0 } }
    /// The cost engine in force.
    var engine: CostEngine { current.withLock { $0.engine } }

    func price(_ event: UsageEvent) -> PricedUsage? { engine.price(event) }

    /// Puts a new edition in force; the unpriced-call counters carry over.
    func replace(with edition: Edition) {
        current.withLock { old in
            var edition = edition
            edition.engine = CostEngine(
                catalog: edition.engine.catalog, azureDeployments: edition.engine.azureDeployments,
                overrides: edition.overrides, warnings: old.engine.warnings)
            old = edition
        }
    }

    /// The edition a configuration describes, read from its data directory's catalog.
    static func edition(_ configuration: ServerConfiguration, firstOrganisation: String) throws -> Edition {
        let overrides = configuration.priceOverrides.map { override in
            var override = override
            if override.org == "default" { override.org = firstOrganisation }
            return override
        }
        let engine = CostEngine(
            catalog: try PriceCatalog.load(dataDirectory: configuration.dataDirectory),
            azureDeployments: configuration.azureDeployments, overrides: overrides)
        for (deployment, model) in configuration.azureDeployments.sorted(by: { $0.key < $1.key })
        where engine.resolve(model: model, provider: .azure) == nil
            && engine.resolve(model: model, provider: nil) == nil
        {
            throw MeterrError(
                .configuration,
                "azure_deployments: \(deployment) maps to \"\(model)\", which the price catalog does not know")
        }
        if let model = configuration.unpricedPolicy.fallbackModel, engine.resolve(model: model, provider: nil) == nil {
            throw MeterrError(.configuration, "unpriced_fallback_model: the price catalog has no model \"\(model)\"")
        }
        return Edition(engine: engine, overrides: overrides, unpricedDefault: configuration.unpricedPolicy)
    }
}
