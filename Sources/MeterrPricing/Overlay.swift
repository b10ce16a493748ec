import Foundation
import MeterrCore

extension PriceCatalog {
    /// Imports a LiteLLM price file into the data directory's overlay (`DIR/prices.json`) and returns the report.
    ///
    /// The file is read and checked completely before anything is written; the overlay is then replaced
    /// atomically, so a malformed file or a failed write leaves the previous overlay untouched.
    /// - Parameters:
    ///   - effectiveFrom: the first day changed prices apply (`YYYY-MM-DD`), by default `today` (UTC).
    ///   - today: the caller's current time.
    public static func importLiteLLM(
        fileAt path: String, dataDirectory: String, effectiveFrom: String? = nil, today: Timestamp
    ) throws(MeterrError) -> LiteLLMMergeResult {
        let bytes = try readFile(path)
        let overlayPath = overlayPath(dataDirectory: dataDirectory)
        let overlay: PriceCatalog
        if FileManager.default.fileExists(atPath: overlayPath) {
            overlay = try decode(try readFile(overlayPath))
        } else {
            overlay = .empty
        }
        let current = try shipped().merging(overlay)
        let date = effectiveFrom ?? String(today.rfc3339.prefix(10))
        let name = (path as NSString).lastPathComponent
        let result = try LiteLLM.merge(bytes, sourceName: name, current: current, overlay: overlay, effectiveFrom: date)
        do {
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        } catch {
            throw MeterrError(.storage, "cannot create \(dataDirectory)")
        }
        try writeFileAtomically(result.overlay.encode(), to: overlayPath)
        return result
    }
}

extension CostQuote {
    /// The quote as a JSON object (`cost_usd` a decimal string), for the API and `--json` output.
    public var json: OrderedJSON {
        var members: [(key: String, value: OrderedJSON)] = [
            ("cost_usd", .string(cost.decimalString)), ("price_id", .string(priceId)), ("model", .string(entryId)),
            ("long_context", .bool(longContext)), ("service_tier", serviceTier.map(OrderedJSON.string) ?? .null),
            ("multiplier", .string(multiplier.text)),
        ]
        if let unpricedServiceTier {
            members.append(("unpriced_service_tier", .string(unpricedServiceTier)))
        }
        members.append(
            (
                "lines",
                .array(
                    lines.map { line in
                        .object([
                            ("component", .string(line.component)), ("quantity", .number(String(line.quantity))),
                            (
                                "usd_per_million_tokens",
                                line.unitPrice.map { OrderedJSON.string($0.perMillionText) } ?? .null
                            ),
                            ("multiplier", .string(line.multiplier.text)),
                            ("cost_usd", .string(line.amount.decimalString)),
                        ])
                    })
            ))
        return .object(members)
    }
}
