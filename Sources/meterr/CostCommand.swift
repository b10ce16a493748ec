import ArgumentParser
import Foundation
import MeterrCore
import MeterrPricing
import MeterrServer

/// Argument checks shared by `meterr cost` and `meterr prices`. Failures are `MeterrError`s, which the root command
/// prints as one line on stderr with a non-zero exit status.
enum PricingCLI {
    /// An error about the command line.
    static func invalid(_ message: String) -> MeterrError { MeterrError(.invalidRequest, message) }

    /// A whole, non-negative token count given on the command line.
    static func tokenCount(_ text: String?, option: String) throws(MeterrError) -> Int {
        guard let text else { return 0 }
        guard let value = Int(text), value >= 0 else {
            throw invalid("--\(option) must be a whole number of tokens, 0 or more (got \(text))")
        }
        return value
    }

    /// A time given as RFC 3339 or a bare date (`YYYY-MM-DD`, midnight UTC).
    static func timestamp(_ text: String?, option: String) throws(MeterrError) -> Timestamp {
        guard let text else { return Meterr.clock.now() }
        guard let time = Timestamp(rfc3339: text) else {
            throw invalid("--\(option) must be a date such as 2026-11-29 or 2026-11-29T10:00:00Z (got \(text))")
        }
        return time
    }

    /// A provider name given on the command line.
    static func providerOption(_ text: String?) throws(MeterrError) -> Provider? {
        guard let text else { return nil }
        guard let provider = Provider(rawValue: text.lowercased()) else {
            let names = Provider.allCases.map(\.rawValue).joined(separator: ", ")
            throw invalid("--provider must be one of \(names) (got \(text))")
        }
        return provider
    }

    /// The error with the file it came from at the front of its message, so it reads as one line.
    static func about(_ file: String, _ error: MeterrError) -> MeterrError {
        MeterrError(error.code, "\(file): " + (error.field.map { "\($0): " } ?? "") + error.message)
    }
}

/// `meterr cost`: the exact cost of one call from its token counts.
struct CostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cost",
        abstract: "Price one call exactly from its token counts.",
        discussion: """
            --input-tokens counts ALL prompt tokens, cache reads and writes included (as in the usage event); \
            --output-tokens includes reasoning tokens. The exact cost in US dollars is printed on the last line.
            """)

    @Option(help: "The model, as the provider reports it (snapshots, provider/ prefixes and -latest resolve).")
    var model: String

    @Option(help: "The provider: openai, azure, anthropic, gemini, mistral, cohere (default: from the model).")
    var provider: String?

    @Option(
        name: .customLong("input-tokens"), parsing: .unconditional,
        help: "All prompt tokens, cache reads and writes included.")
    var inputTokens: String

    @Option(name: .customLong("output-tokens"), parsing: .unconditional, help: "All output tokens, reasoning included.")
    var outputTokens: String

    @Option(
        name: .customLong("cache-read-tokens"), parsing: .unconditional,
        help: "The part of the input read from the prompt cache.")
    var cacheReadTokens: String?

    @Option(
        name: .customLong("cache-write-tokens"), parsing: .unconditional,
        help: "The part of the input written to a 5-minute cache.")
    var cacheWriteTokens: String?

    @Option(
        name: .customLong("cache-write-1h-tokens"), parsing: .unconditional,
        help: "The part of the input written to a 1-hour cache.")
    var cacheWrite1hTokens: String?

    @Option(name: .customLong("reasoning-tokens"), parsing: .unconditional, help: "The reasoning part of the output.")
    var reasoningTokens: String?

    @Flag(help: "Price at the model's batch rate.")
    var batch = false

    @Option(help: "When the call happened (RFC 3339 or YYYY-MM-DD); default: now.")
    var at: String?

    @OptionGroup var options: DataOptions

    @Option(help: "A meterr YAML configuration: its azure_deployments and price_overrides apply.")
    var config: String?

    @Option(help: "With --config, the organisation whose price_overrides apply (default: those for org default).")
    var org: String?

    @Flag(help: "Print the quote as JSON (the cost is still on the last line).")
    var json = false

    func run() async throws {
        let usage = Usage(
            inputTokens: try PricingCLI.tokenCount(inputTokens, option: "input-tokens"),
            cacheReadTokens: try PricingCLI.tokenCount(cacheReadTokens, option: "cache-read-tokens"),
            cacheWriteTokens: try PricingCLI.tokenCount(cacheWriteTokens, option: "cache-write-tokens"),
            cacheWrite1hTokens: try PricingCLI.tokenCount(cacheWrite1hTokens, option: "cache-write-1h-tokens"),
            outputTokens: try PricingCLI.tokenCount(outputTokens, option: "output-tokens"),
            reasoningTokens: try PricingCLI.tokenCount(reasoningTokens, option: "reasoning-tokens"))
        let provider = try PricingCLI.providerOption(provider)
        let time = try PricingCLI.timestamp(at, option: "at")
        let settings = try config.map { try ServerConfiguration.load(file: $0, environment: [:]) }
        let engine = CostEngine(
            catalog: try PriceCatalog.load(dataDirectory: options.directory),
            azureDeployments: settings?.azureDeployments ?? [:], overrides: settings?.priceOverrides ?? [])
        let organisation = org ?? (settings == nil ? nil : "default")
        guard
            let quote = try engine.cost(
                model: model, provider: provider, usage: usage, at: time, batch: batch, org: organisation)
        else {
            if let entry = engine.resolve(model: model, provider: provider), let first = entry.versions.first,
                time < first.effectiveFromTime
            {
                throw MeterrError(
                    .notFound,
                    "the catalog prices \(entry.id) from \(first.effectiveFrom) on; \(time.rfc3339) is before that")
            }
            throw MeterrError(
                .notFound,
                "no price for \(provider.map { "\($0.rawValue)/" } ?? "")\(model) at \(time.rfc3339)"
                    + " (unknown model: see `meterr prices list`, or import prices with `meterr prices import litellm`)"
            )
        }
        if json {
            print(OrderedJSONWriter.write(quote.json), terminator: "")
        } else {
            print("model \(quote.entryId), price \(quote.priceId)")
            if let tier = quote.serviceTier { print("service tier \(tier) ×\(quote.multiplier.text)") }
            if let tier = quote.unpricedServiceTier {
                print("note: \(tier) has no price for this model; standard rate used")
            }
            if quote.longContext { print("long-context tier (prompt above the model's threshold)") }
            for line in quote.lines {
                let unit = line.unitPrice.map { "$\($0.perMillionText)/M" } ?? "per call"
                let factor = line.multiplier == .one ? "" : " × \(line.multiplier.text)"
                print("  \(line.component): \(line.quantity) × \(unit)\(factor) = \(line.amount.decimalString)")
            }
        }
        print(quote.cost.decimalString)
    }
}
