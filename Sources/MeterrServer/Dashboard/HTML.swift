import Foundation
import MeterrCore
import MeterrStore

/// Escapes text for HTML: element content and double- or single-quoted attribute values alike.
/// The one escaping function of the dashboard; `HTML` interpolation calls it for every string.
func escapeHTML(_ text: some StringProtocol) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count + 8)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out
}

/// A piece of markup. Strings interpolated into it are escaped; only other `HTML` values go in
/// as they are, so user-supplied text (names, tags, models) can never become markup.
struct HTML: ExpressibleByStringInterpolation, Sendable {
    private(set) var text: String

    init(stringLiteral value: String) { text = value }

    init(stringInterpolation: Interpolation) { text = stringInterpolation.text }

    /// Markup built by the dashboard itself (never user input).
    init(trusted text: String) { self.text = text }

    static let empty: HTML = ""

    struct Interpolation: StringInterpolationProtocol {
        var text = ""

        init(literalCapacity: Int, interpolationCount: Int) {
            text.reserveCapacity(literalCapacity + interpolationCount * 16)
        }

        mutating func appendLiteral(_ literal: String) { text += literal }
        mutating func appendInterpolation(_ value: HTML) { text += value.text }
        mutating func appendInterpolation(_ values: [HTML]) { for value in values { text += value.text } }
        mutating func appendInterpolation(_ value: some StringProtocol) { text += escapeHTML(value) }
        mutating func appendInterpolation(_ value: String?) { text += escapeHTML(value ?? "") }
        mutating func appendInterpolation(_ value: Int) { text += String(value) }
        mutating func appendInterpolation(_ value: Int64) { text += String(value) }
    }

    static func + (lhs: HTML, rhs: HTML) -> HTML { HTML(trusted: lhs.text + rhs.text) }
    static func += (lhs: inout HTML, rhs: HTML) { lhs.text += rhs.text }
}

extension Sequence {
    /// Markup for each element, joined.
    func html(_ transform: (Element) throws -> HTML) rethrows -> HTML {
        var out = HTML.empty
        for element in self { out += try transform(element) }
        return out
    }
}

/// Display formats: exact integers throughout, money rounded only for display.
enum Format {
    /// `1234567` → `1,234,567`.
    static func count(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out += "," }
            out.append(digit)
        }
        return value < 0 ? "-" + out : out
    }

    /// Dollars for display: cents, or up to six decimals under a cent so small spend is not "$0.00".
    static func usd(_ money: Money) -> String {
        let nanos = money.nanos.magnitude
        let sign = money.nanos < 0 ? "-" : ""
        if nanos == 0 { return "$0.00" }
        if nanos < 10_000_000 {
            let micros = (nanos + 500) / 1000
            var fraction = String(micros)
            fraction = String(repeating: "0", count: max(0, 6 - fraction.count)) + fraction
            while fraction.hasSuffix("0"), fraction.count > 2 { fraction.removeLast() }
            return "\(sign)$0.\(fraction)"
        }
        let cents = (nanos + 5_000_000) / 10_000_000
        let dollars = Int(cents / 100)
        let rest = cents % 100
        return "\(sign)$\(count(dollars)).\(rest < 10 ? "0" : "")\(rest)"
    }

    /// A short count for a chart's axis: `1,603,469,512` → `1.6B`.
    static func compact(_ value: Int64) -> String {
        for (unit, name) in [(1_000_000_000 as Int64, "B"), (1_000_000, "M"), (1_000, "k")] where value >= unit {
            let tenths = (value * 10 + unit / 2) / unit
            return tenths % 10 == 0 || tenths >= 1000 ? "\(tenths / 10)\(name)" : "\(tenths / 10).\(tenths % 10)\(name)"
        }
        return String(value)
    }

    /// A cost that may be unknown: "unpriced" rather than a made-up zero.
    static func usd(_ totals: UsageTotals) -> String {
        totals.cost.map(usd) ?? "unpriced"
    }

    /// The exact decimal string of a total's cost as the API gives it, or empty when unknown.
    static func exact(_ totals: UsageTotals) -> String {
        totals.cost?.decimalString ?? ""
    }

    /// Two amounts that must not read the same when they differ ("$0.05 of $0.05" at 104 %): to the
    /// cent, or to the hundredth of a cent, or exactly, whichever first tells them apart.
    static func usdPair(_ first: Money, _ second: Money) -> (String, String) {
        let plain = (usd(first), usd(second))
        guard plain.0 == plain.1, first != second else { return plain }
        for places in [4, 6] {
            let pair = (usd(first, places: places), usd(second, places: places))
            if pair.0 != pair.1 { return pair }
        }
        return ("$" + first.decimalString, "$" + second.decimalString)
    }

    /// An amount rounded half up to `places` decimals (at most 9).
    static func usd(_ money: Money, places: Int) -> String {
        let unit = Int64((0..<(9 - places)).reduce(1) { product, _ in product * 10 })
        let scaled = (money.nanos.magnitude + UInt64(unit / 2)) / UInt64(unit)
        let divisor = UInt64((0..<places).reduce(1) { product, _ in product * 10 })
        let fraction = String(scaled % divisor)
        return (money.nanos < 0 ? "-$" : "$") + count(Int(scaled / divisor)) + "."
            + String(repeating: "0", count: places - fraction.count) + fraction
    }

    /// A time in a time zone, with the zone's name: `2027-01-01 00:00 Europe/Berlin`.
    static func time(_ ts: Timestamp, in zone: TimeZone) -> String {
        let calendar = LocalCalendar(zone: zone)
        return calendar.time(ts) + " " + calendar.identifier
    }

    /// `2026-11-29T10:00:00.000Z` → `2026-11-29 10:00`.
    static func time(_ ts: Timestamp) -> String {
        let text = ts.rfc3339
        return String(text.prefix(16)).replacingOccurrences(of: "T", with: " ")
    }
}
