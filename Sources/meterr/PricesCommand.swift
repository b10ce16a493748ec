import ArgumentParser
import MeterrCore
import MeterrPricing

/// `meterr prices`: look at the price catalog, import LiteLLM prices, export the catalog.
struct PricesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prices",
        abstract: "Show, import and export model prices.",
        subcommands: [List.self, Show.self, Import.self, Export.self])

    /// `meterr prices list`
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the models with a price (USD per million tokens).")

        @Option(help: "Only this provider's models.")
        var provider: String?

        @Option(help: "Show the prices in effect at this time (RFC 3339 or YYYY-MM-DD); default: now.")
        var at: String?

        @OptionGroup var options: DataOptions

        func run() async throws {
            let provider = try PricingCLI.providerOption(provider)
            let time = try PricingCLI.timestamp(at, option: "at")
            let catalog = try PriceCatalog.load(dataDirectory: options.directory)
            print("model\tmode\tinput\tcache_read\tcache_write_5m\tcache_write_1h\toutput\tprice_id\tdeprecated")
            for entry in catalog.entries where provider == nil || entry.provider == provider {
                guard let version = entry.version(at: time) else { continue }
                let prices = version.prices
                let cells = [
                    entry.id, entry.mode, prices.input.perMillionText, prices.cacheRead?.perMillionText ?? "-",
                    prices.cacheWrite5m?.perMillionText ?? "-", prices.cacheWrite1h?.perMillionText ?? "-",
                    prices.output.perMillionText, entry.priceId(version), entry.deprecationDate ?? "-",
                ]
                print(cells.joined(separator: "\t"))
            }
        }
    }

    /// `meterr prices show MODEL`
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one model's prices, tiers and history.")

        @Argument(help: "The model (snapshots, provider/ prefixes, -latest aliases resolve).")
        var model: String

        @Option(help: "The provider, if the name alone is ambiguous.")
        var provider: String?

        @OptionGroup var options: DataOptions

        func run() async throws {
            let provider = try PricingCLI.providerOption(provider)
            let catalog = try PriceCatalog.load(dataDirectory: options.directory)
            guard let entry = catalog.resolve(provider: provider, model: model) else {
                throw MeterrError(.notFound, "no price for \(model) (see `meterr prices list`)")
            }
            print("\(entry.id) (\(entry.mode))")
            if !entry.aliases.isEmpty { print("also: \(entry.aliases.joined(separator: ", "))") }
            if let limit = entry.maxInputTokens { print("max input tokens: \(limit)") }
            if let limit = entry.maxOutputTokens { print("max output tokens: \(limit)") }
            if let date = entry.deprecationDate { print("deprecated: end of life \(date)") }
            for version in entry.versions.reversed() {
                print("\n\(entry.priceId(version)) — USD per million tokens")
                printPrices(version.prices, indent: "  ")
                if let tier = version.longContext {
                    print("  above \(tier.aboveInputTokens) input tokens, the whole request at:")
                    printPrices(tier.prices, indent: "    ")
                }
                for (name, tier) in version.serviceTiers.sorted(by: { $0.key < $1.key }) {
                    print("  \(name): \(tier)")
                }
                for (tool, fee) in version.toolFees.sorted(by: { $0.key < $1.key }) {
                    print("  \(tool): \(fee.decimalString) per call")
                }
                print("  source: \(version.source)")
            }
        }

        func printPrices(_ prices: PriceSet, indent: String) {
            print("\(indent)input \(prices.input.perMillionText)")
            if let price = prices.cacheRead { print("\(indent)cache read \(price.perMillionText)") }
            if let price = prices.cacheWrite5m { print("\(indent)cache write 5m \(price.perMillionText)") }
            if let price = prices.cacheWrite1h { print("\(indent)cache write 1h \(price.perMillionText)") }
            print("\(indent)output \(prices.output.perMillionText)")
            if let price = prices.reasoning { print("\(indent)reasoning \(price.perMillionText)") }
        }
    }

    /// `meterr prices import litellm FILE`
    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Merge a LiteLLM model_prices_and_context_window.json into the data directory's prices.json.")

        @Argument(help: "The file format; only `litellm` is supported.")
        var format: String

        @Argument(help: "The LiteLLM price file.")
        var file: String

        @Option(
            name: .customLong("effective-from"), help: "First day changed prices apply (YYYY-MM-DD); default: today.")
        var effectiveFrom: String?

        @Flag(help: "List every skipped entry with its reason.")
        var verbose = false

        @OptionGroup var options: DataOptions

        func run() async throws {
            guard format == "litellm" else {
                throw PricingCLI.invalid("unknown format \(format) (only litellm)")
            }
            let result: LiteLLMMergeResult
            do {
                result = try PriceCatalog.importLiteLLM(
                    fileAt: file, dataDirectory: options.directory, effectiveFrom: effectiveFrom,
                    today: Meterr.clock.now())
            } catch {
                throw PricingCLI.about(file, error)
            }
            for item in result.added { print("added \(item.entryId ?? item.key): \(item.detail)") }
            for item in result.changed { print("changed \(item.entryId ?? item.key): \(item.detail)") }
            if verbose {
                for item in result.skipped { print("skipped \(item.key): \(item.detail)") }
            } else {
                let reasons = Dictionary(grouping: result.skipped) { String($0.detail.split(separator: " (")[0]) }
                    .mapValues(\.count)
                for (reason, count) in reasons.sorted(by: { $0.value > $1.value }) {
                    print("skipped \(count): \(reason)")
                }
            }
            print(
                "\(result.added.count) added, \(result.changed.count) changed, \(result.skipped.count) skipped"
                    + " → \(PriceCatalog.overlayPath(dataDirectory: options.directory))")
        }
    }

    /// `meterr prices export --format litellm`
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the catalog in LiteLLM's (or meterr's) format.")

        @Option(help: "litellm (prices in effect at --at) or meterr (every version).")
        var format = "litellm"

        @Option(help: "Export the prices in effect at this time (RFC 3339 or YYYY-MM-DD); default: now.")
        var at: String?

        @OptionGroup var options: DataOptions

        func run() async throws {
            let time = try PricingCLI.timestamp(at, option: "at")
            let catalog = try PriceCatalog.load(dataDirectory: options.directory)
            switch format {
            case "litellm": print(LiteLLM.export(catalog, at: time), terminator: "")
            case "meterr": print(catalog.encode(), terminator: "")
            default: throw PricingCLI.invalid("--format must be litellm or meterr (got \(format))")
            }
        }
    }
}
