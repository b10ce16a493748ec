#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A point in time with millisecond precision, as meterr stores and prints it.
///
/// Printed as RFC 3339 UTC with milliseconds (`2026-11-29T10:45:58.123Z`); parsed from any RFC 3339
/// date-time (offsets are converted to UTC, digits past milliseconds are truncated).
public struct Timestamp: Sendable, Hashable, Comparable, Codable {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var milliseconds: Int64

    /// Creates a timestamp from milliseconds since the Unix epoch.
    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    /// The current time.
    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(milliseconds: Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000)
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.milliseconds < rhs.milliseconds }

    /// Parses an RFC 3339 date-time such as `2026-11-29T10:45:58.123Z` or `2026-11-29T11:45:58+01:00`.
    /// A bare date (`2026-11-29`) means its midnight UTC.
    public init?(rfc3339 text: some StringProtocol) {
        let bytes = Array(Substring(text).utf8)
        var index = 0
        func number(_ width: Int) -> Int? {
            guard index + width <= bytes.count else { return nil }
            var value = 0
            for offset in 0..<width {
                let byte = bytes[index + offset]
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            index += width
            return value
        }
        func expect(_ ascii: Unicode.Scalar) -> Bool {
            guard index < bytes.count, bytes[index] == UInt8(ascii: ascii) else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
            (1...12).contains(month), day >= 1, day <= Timestamp.daysIn(month: month, year: year)
        else { return nil }
        var seconds = Timestamp.daysFromCivil(year: year, month: month, day: day) * 86_400
        var millis = 0
        if index == bytes.count {
            self.milliseconds = Int64(seconds) * 1000
            return
        }
        guard index < bytes.count,
            bytes[index] == UInt8(ascii: "T") || bytes[index] == UInt8(ascii: "t")
                || bytes[index] == UInt8(ascii: " ")
        else { return nil }
        index += 1
        guard let hour = number(2), expect(":"), let minute = number(2), expect(":"), let second = number(2),
            hour < 24, minute < 60, second < 61
        else { return nil }
        seconds += hour * 3600 + minute * 60 + min(second, 59)
        if expect(".") {
            var digits = 0
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                if digits < 3 { millis = millis * 10 + Int(bytes[index] - 48) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            for _ in min(digits, 3)..<3 { millis *= 10 }
        }
        guard index < bytes.count else { return nil }
        if bytes[index] == UInt8(ascii: "Z") || bytes[index] == UInt8(ascii: "z") {
            index += 1
        } else if bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign = bytes[index] == UInt8(ascii: "+") ? 1 : -1
            index += 1
            guard let offsetHours = number(2), expect(":"), let offsetMinutes = number(2), offsetHours < 24,
                offsetMinutes < 60
            else { return nil }
            seconds -= sign * (offsetHours * 3600 + offsetMinutes * 60)
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }
        self.milliseconds = Int64(seconds) * 1000 + Int64(millis)
    }

    /// The RFC 3339 UTC form with milliseconds.
    public var rfc3339: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        appendRFC3339(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the RFC 3339 UTC form with milliseconds (`rfc3339`'s bytes, without a string between).
    public func appendRFC3339(to bytes: inout [UInt8]) {
        let (days, secondOfDay, millis) = utcParts
        let (year, month, day) = Timestamp.civil(fromDays: days)
        if year >= 0 {
            bytes.appendDecimal(UInt64(year), width: 4)
        } else {
            bytes.append(contentsOf: String(year).utf8)
        }
        bytes.append(UInt8(ascii: "-"))
        bytes.appendDecimal(UInt64(month), width: 2)
        bytes.append(UInt8(ascii: "-"))
        bytes.appendDecimal(UInt64(day), width: 2)
        bytes.append(UInt8(ascii: "T"))
        bytes.appendDecimal(UInt64(secondOfDay / 3600), width: 2)
        bytes.append(UInt8(ascii: ":"))
        bytes.appendDecimal(UInt64(secondOfDay / 60 % 60), width: 2)
        bytes.append(UInt8(ascii: ":"))
        bytes.appendDecimal(UInt64(secondOfDay % 60), width: 2)
        bytes.append(UInt8(ascii: "."))
        bytes.appendDecimal(UInt64(millis), width: 3)
        bytes.append(UInt8(ascii: "Z"))
    }

    /// Days since 1970-01-01, the second of that UTC day and the millisecond of that second (floored,
    /// also before 1970).
    private var utcParts: (days: Int, secondOfDay: Int, millis: Int) {
        let dayStart = Timestamp.floor(milliseconds, 86_400_000)
        let ofDay = Int(milliseconds - dayStart)
        return (Int(dayStart / 86_400_000), ofDay / 1000, ofDay % 1000)
    }

    /// The HTTP `Date` form (IMF-fixdate): `Sat, 05 Dec 2026 12:02:09 GMT`.
    public var httpDate: String {
        let (days, secondOfDay, _) = utcParts
        let (year, month, day) = Timestamp.civil(fromDays: days)
        // 1 January 1970 was a Thursday.
        let weekday = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][((days + 4) % 7 + 7) % 7]
        let monthName = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][month - 1]
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : String(value) }
        return "\(weekday), \(two(day)) \(monthName) \(year) \(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):"
            + "\(two(secondOfDay % 60)) GMT"
    }

    /// The start of the UTC hour that holds this time.
    public var hourStart: Timestamp { Timestamp(milliseconds: Timestamp.floor(milliseconds, 3_600_000)) }

    /// The start of the UTC day that holds this time.
    public var dayStart: Timestamp { Timestamp(milliseconds: Timestamp.floor(milliseconds, 86_400_000)) }

    /// The start of the UTC month that holds this time.
    public var monthStart: Timestamp {
        let (year, month, _) = Timestamp.civil(fromDays: Int(Timestamp.floor(milliseconds, 86_400_000) / 86_400_000))
        return Timestamp(milliseconds: Int64(Timestamp.daysFromCivil(year: year, month: month, day: 1)) * 86_400_000)
    }

    /// This time plus a number of milliseconds.
    public func adding(milliseconds delta: Int64) -> Timestamp { Timestamp(milliseconds: milliseconds + delta) }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = Timestamp(rfc3339: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "expected an RFC 3339 time such as 2026-11-29T10:45:58.123Z")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rfc3339)
    }

    static func floor(_ value: Int64, _ unit: Int64) -> Int64 {
        value >= 0 ? value / unit * unit : (value - unit + 1) / unit * unit
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension Timestamp: CustomStringConvertible {
    public var description: String { rfc3339 }
}

extension [UInt8] {
    /// Appends `value` in decimal, with leading zeros up to `width` digits.
    mutating func appendDecimal(_ value: UInt64, width: Int = 1) {
        var divisor: UInt64 = 1
        var digits = 1
        while divisor <= value / 10 {
            divisor *= 10
            digits += 1
        }
        for _ in digits..<Swift.max(width, digits) { append(UInt8(ascii: "0")) }
        var rest = value
        while divisor > 0 {
            append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }
}
