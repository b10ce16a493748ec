/// Why a decimal text could not become an exact integer amount.
public enum DecimalProblem: Error, Sendable, Hashable, CustomStringConvertible {
    /// Not a decimal number at all.
    case notANumber
    /// Below zero.
    case negative
    /// Has digits finer than the unit can hold, so storing it would round it.
    case tooPrecise
    /// Too large to hold.
    case tooLarge

    public var description: String {
        switch self {
        case .notANumber: "is not a decimal number"
        case .negative: "must not be negative"
        case .tooPrecise: "has more decimal places than meterr can hold exactly"
        case .tooLarge: "is too large"
        }
    }
}

/// Exact decimal-to-integer conversion: no binary floating point anywhere.
public enum ExactDecimal {
    /// `text × 10^shift` as an integer, if that is exact and fits.
    ///
    /// Accepts plain decimals and JSON exponent notation (`"2.50"`, `"3.75e-06"`, `"1E+2"`); a leading `-` is
    /// reported as `.negative` so callers can name the problem.
    public static func scaled(_ text: some StringProtocol, shift: Int) -> Result<Int64, DecimalProblem> {
        var mantissa: [UInt8] = []
        var exponent = shift
        var sawDigit = false
        var sawPoint = false
        var index = text.utf8.startIndex
        let utf8 = text.utf8
        var negative = false
        if index < utf8.endIndex, utf8[index] == UInt8(ascii: "-") || utf8[index] == UInt8(ascii: "+") {
            negative = utf8[index] == UInt8(ascii: "-")
            index = utf8.index(after: index)
        }
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte >= 48 && byte <= 57 {
                sawDigit = true
                if !(mantissa.isEmpty && byte == 48) { mantissa.append(byte - 48) }
                if sawPoint { exponent -= 1 }
            } else if byte == UInt8(ascii: ".") && !sawPoint {
                sawPoint = true
            } else if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
                break
            } else {
                return .failure(.notANumber)
            }
            index = utf8.index(after: index)
        }
        guard sawDigit else { return .failure(.notANumber) }
        if index < utf8.endIndex {
            index = utf8.index(after: index)
            var expNegative = false
            if index < utf8.endIndex, utf8[index] == UInt8(ascii: "-") || utf8[index] == UInt8(ascii: "+") {
                expNegative = utf8[index] == UInt8(ascii: "-")
                index = utf8.index(after: index)
            }
            var value = 0
            var expDigits = 0
            while index < utf8.endIndex {
                let byte = utf8[index]
                guard byte >= 48 && byte <= 57 else { return .failure(.notANumber) }
                value = min(value * 10 + Int(byte - 48), 10_000)
                expDigits += 1
                index = utf8.index(after: index)
            }
            guard expDigits > 0 else { return .failure(.notANumber) }
            exponent += expNegative ? -value : value
        }
        // Trailing zeros of the mantissa move into the exponent.
        while let last = mantissa.last, last == 0 {
            mantissa.removeLast()
            exponent += 1
        }
        if mantissa.isEmpty { return .success(0) }
        if negative { return .failure(.negative) }
        if exponent < 0 { return .failure(.tooPrecise) }
        guard mantissa.count + exponent <= 18 else { return .failure(.tooLarge) }
        var result: Int64 = 0
        for digit in mantissa { result = result * 10 + Int64(digit) }
        for _ in 0..<exponent { result *= 10 }
        return .success(result)
    }

    /// `value × 10^-scale` as plain decimal text without trailing zeros (`2500000, 6` → `"2.5"`).
    public static func plain(_ value: Int64, scale: Int) -> String {
        let sign = value < 0 ? "-" : ""
        var digits = String(value.magnitude)
        if scale <= 0 { return sign + digits + String(repeating: "0", count: -scale) }
        if digits.count <= scale { digits = String(repeating: "0", count: scale - digits.count + 1) + digits }
        let cut = digits.index(digits.endIndex, offsetBy: -scale)
        var fraction = String(digits[cut...])
        while fraction.last == "0" { fraction.removeLast() }
        return sign + String(digits[..<cut]) + (fraction.isEmpty ? "" : "." + fraction)
    }

    /// `value × 10^-scale` the way Python's `repr(float)` writes it (`3e-06`, `1.25e-07`, `0.00015`), which is
    /// how LiteLLM's file spells prices; the text is exact, never rounded.
    public static func pythonStyle(_ value: Int64, scale: Int) -> String {
        if value == 0 { return "0.0" }
        var digits = String(value.magnitude)
        var zeros = 0
        while digits.last == "0" {
            digits.removeLast()
            zeros += 1
        }
        let exponent = digits.count - 1 + zeros - scale
        if exponent >= -4 && exponent < 16 {
            let text = plain(value, scale: scale)
            return text.contains(".") ? text : text + ".0"
        }
        let head = digits.prefix(1)
        let tail = digits.dropFirst()
        let mantissa = tail.isEmpty ? String(head) : "\(head).\(tail)"
        let magnitude = String(abs(exponent))
        return mantissa + "e" + (exponent < 0 ? "-" : "+") + (magnitude.count < 2 ? "0" : "") + magnitude
    }
}

/// A price per token, held exactly as an integer count of nano-dollars per million tokens.
///
/// One unit is 1e-15 USD per token, so every price written with up to nine decimal places of dollars per million
/// tokens (or fifteen of dollars per token) is exact.
public struct TokenPrice: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Nano-dollars per million tokens.
    public var nanosPerMillion: Int64

    /// Creates a price from nano-dollars per million tokens.
    public init(nanosPerMillion: Int64) { self.nanosPerMillion = nanosPerMillion }

    /// Parses US dollars per million tokens (`"2.50"`, `"0.075"`).
    public static func perMillion(_ text: some StringProtocol) -> Result<TokenPrice, DecimalProblem> {
        ExactDecimal.scaled(text, shift: 9).map(TokenPrice.init(nanosPerMillion:))
    }

    /// Parses US dollars per token as LiteLLM writes them (`"3.75e-06"`).
    public static func perToken(_ text: some StringProtocol) -> Result<TokenPrice, DecimalProblem> {
        ExactDecimal.scaled(text, shift: 15).map(TokenPrice.init(nanosPerMillion:))
    }

    /// US dollars per million tokens as plain decimal text (`"2.5"`).
    public var perMillionText: String { ExactDecimal.plain(nanosPerMillion, scale: 9) }

    /// US dollars per token in LiteLLM's spelling (`"2.5e-06"`).
    public var perTokenText: String { ExactDecimal.pythonStyle(nanosPerMillion, scale: 15) }

    public var description: String { "$\(perMillionText)/M" }

    public static func < (lhs: TokenPrice, rhs: TokenPrice) -> Bool { lhs.nanosPerMillion < rhs.nanosPerMillion }
}

/// An exact multiplier such as a batch discount (`0.5`), held in millionths.
public struct PriceMultiplier: Sendable, Hashable, CustomStringConvertible {
    /// The factor in parts per million: 500_000 is ×0.5.
    public var partsPerMillion: Int64

    /// Creates a multiplier from parts per million.
    public init(partsPerMillion: Int64) { self.partsPerMillion = partsPerMillion }

    /// No change.
    public static let one = PriceMultiplier(partsPerMillion: 1_000_000)

    /// Parses a decimal factor (`"0.5"`, `"1.75"`), at most six decimal places.
    public static func parse(_ text: some StringProtocol) -> Result<PriceMultiplier, DecimalProblem> {
        ExactDecimal.scaled(text, shift: 6).map(PriceMultiplier.init(partsPerMillion:))
    }

    /// The factor that takes `percent` off (`"12.5"` → ×0.875); at most four decimal places, at most 100.
    public static func discount(percent text: some StringProtocol) -> Result<PriceMultiplier, DecimalProblem> {
        ExactDecimal.scaled(text, shift: 4).flatMap { hundredths in
            hundredths > 1_000_000
                ? .failure(.tooLarge) : .success(PriceMultiplier(partsPerMillion: 1_000_000 - hundredths))
        }
    }

    /// The factor as plain decimal text (`"0.5"`).
    public var text: String { ExactDecimal.plain(partsPerMillion, scale: 6) }

    public var description: String { "×" + text }
}
