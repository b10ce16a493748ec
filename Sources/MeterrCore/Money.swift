import Foundation

/// An exact amount of US dollars, held as an integer count of nano-dollars (1e-9 USD).
///
/// No binary floating point ever touches money in meterr: amounts are parsed from and printed as
/// decimal strings with nine fractional digits.
public struct Money: Sendable, Hashable, Comparable, Codable {
    /// Nano-dollars per dollar.
    public static let nanosPerDollar: Int64 = 1_000_000_000

    /// The amount in nano-dollars.
    public var nanos: Int64

    /// Creates an amount from nano-dollars.
    public init(nanos: Int64) { self.nanos = nanos }

    /// Zero dollars.
    public static let zero = Money(nanos: 0)

    /// Parses a plain decimal string such as `"12.5"`, `"0.000008550"` or `"-3"`.
    ///
    /// Digits past the ninth decimal place are rounded half to even. Returns `nil` for anything
    /// that is not a plain decimal number (exponents, spaces, `NaN`) or does not fit.
    public init?(decimalString text: some StringProtocol) {
        var utf8 = Substring(text).utf8[...]
        var negative = false
        if let first = utf8.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            utf8 = utf8.dropFirst()
        }
        var whole: Int64 = 0
        var fraction: Int64 = 0
        var fractionDigits = 0
        var sawDigit = false
        var sawPoint = false
        var roundDigit: UInt8? = nil
        var sticky = false
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                sawDigit = true
                let digit = Int64(byte - UInt8(ascii: "0"))
                if !sawPoint {
                    let (times, o1) = whole.multipliedReportingOverflow(by: 10)
                    let (plus, o2) = times.addingReportingOverflow(digit)
                    if o1 || o2 { return nil }
                    whole = plus
                } else if fractionDigits < 9 {
                    fraction = fraction * 10 + digit
                    fractionDigits += 1
                } else if roundDigit == nil {
                    roundDigit = UInt8(digit)
                } else if digit != 0 {
                    sticky = true
                }
            case UInt8(ascii: "."):
                if sawPoint { return nil }
                sawPoint = true
            default:
                return nil
            }
        }
        guard sawDigit else { return nil }
        for _ in fractionDigits..<9 { fraction *= 10 }
        if let roundDigit, roundDigit > 5 || (roundDigit == 5 && (sticky || fraction % 2 == 1)) {
            fraction += 1
        }
        let (scaled, o1) = whole.multipliedReportingOverflow(by: Money.nanosPerDollar)
        let (total, o2) = scaled.addingReportingOverflow(fraction)
        if o1 || o2 { return nil }
        self.nanos = negative ? -total : total
    }

    /// The amount as a decimal string with exactly nine fractional digits, e.g. `"0.000008550"`.
    public var decimalString: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        appendDecimal(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `decimalString`'s bytes, without a string between.
    public func appendDecimal(to bytes: inout [UInt8]) {
        let magnitude = nanos.magnitude
        if nanos < 0 { bytes.append(UInt8(ascii: "-")) }
        bytes.appendDecimal(magnitude / UInt64(Money.nanosPerDollar))
        bytes.append(UInt8(ascii: "."))
        bytes.appendDecimal(magnitude % UInt64(Money.nanosPerDollar), width: 9)
    }

    public static func < (lhs: Money, rhs: Money) -> Bool { lhs.nanos < rhs.nanos }

    public static func + (lhs: Money, rhs: Money) -> Money { Money(nanos: lhs.nanos + rhs.nanos) }

    public static func += (lhs: inout Money, rhs: Money) { lhs.nanos += rhs.nanos }

    /// Decodes a decimal string (`"0.5"`); a JSON number is accepted too and read digit by digit.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            guard let money = Money(decimalString: text) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "expected a decimal string such as \"0.000125\"")
            }
            self = money
        } else {
            let number = try container.decode(Decimal.self)
            guard let money = Money(decimalString: "\(number)") else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "expected a decimal amount such as \"0.000125\"")
            }
            self = money
        }
    }

    /// Encodes as a decimal string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(decimalString)
    }
}

extension Money: CustomStringConvertible {
    public var description: String { decimalString }
}
