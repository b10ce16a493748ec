import Foundation

/// Days and months as an organisation counts them: in its time zone (`time_zone` in its policy,
/// UTC unless set). The dashboard's "today" and "this month", its charts' days, date ranges and
/// chargeback months all follow it.
///
/// The ledger's rollups have one-hour resolution, so a day is exact in every zone whose offset is a
/// whole number of hours; in the few that are not (India, Nepal, Newfoundland, parts of Australia),
/// a day or month is counted from the UTC hour that holds its local midnight.
public struct LocalCalendar: Sendable, Hashable {
    /// The zone.
    public let zone: TimeZone
    private let calendar: Calendar

    /// UTC.
    public static let utc = LocalCalendar(zone: TimeZone(identifier: "UTC")!)

    /// The calendar of a zone.
    public init(zone: TimeZone) {
        self.zone = zone
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = zone
        self.calendar = calendar
    }

    /// The calendar of an IANA zone name (`Europe/Berlin`); `nil` for a name that is not one.
    public init?(identifier: String) {
        guard !identifier.isEmpty, let zone = TimeZone(identifier: identifier) else { return nil }
        self.init(zone: zone)
    }

    /// The zone's IANA name (`UTC`, `Europe/Berlin`).
    public var identifier: String { isUTC ? "UTC" : zone.identifier }

    /// Whether this is UTC (the ledger's own days and months).
    public var isUTC: Bool { zone.identifier == "UTC" || zone.identifier == "GMT" }

    /// The start of the local day that holds `time`.
    public func dayStart(_ time: Timestamp) -> Timestamp {
        isUTC ? time.dayStart : start(of: .day, holding: time)
    }

    /// The start of the local day after the one that holds `time` (23 or 25 hours later across a
    /// change of clocks).
    public func nextDayStart(_ time: Timestamp) -> Timestamp {
        isUTC ? time.dayStart.adding(milliseconds: 86_400_000) : end(of: .day, holding: time)
    }

    /// A calendar period: a day, a week from Monday, a month.
    public enum Period: Sendable {
        case day, week, month
    }

    /// The local period that holds `time`: its start, and the start of the next one.
    public func bounds(of period: Period, holding time: Timestamp) -> (start: Timestamp, end: Timestamp) {
        switch period {
        case .day: (dayStart(time), nextDayStart(time))
        case .week: (start(of: .weekOfYear, holding: time), end(of: .weekOfYear, holding: time))
        case .month: (monthStart(time), nextMonthStart(time))
        }
    }

    /// The start of the local month that holds `time`.
    public func monthStart(_ time: Timestamp) -> Timestamp {
        isUTC ? time.monthStart : start(of: .month, holding: time)
    }

    /// The start of the local month after the one that holds `time`.
    public func nextMonthStart(_ time: Timestamp) -> Timestamp {
        isUTC
            ? Timestamp(milliseconds: time.monthStart.milliseconds + 32 * 86_400_000).monthStart
            : end(of: .month, holding: time)
    }

    /// The local date of `time`: `2026-12-05`.
    public func date(_ time: Timestamp) -> String {
        guard !isUTC else { return String(time.rfc3339.prefix(10)) }
        let parts = calendar.dateComponents([.year, .month, .day], from: Self.date(time))
        return Self.pad(parts.year ?? 0, 4) + "-" + Self.pad(parts.month ?? 0, 2) + "-" + Self.pad(parts.day ?? 0, 2)
    }

    /// The local date and time of `time` to the minute: `2026-12-05 09:30`.
    public func time(_ time: Timestamp) -> String {
        guard !isUTC else { return String(time.rfc3339.prefix(16)).replacingOccurrences(of: "T", with: " ") }
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: Self.date(time))
        return Self.pad(parts.year ?? 0, 4) + "-" + Self.pad(parts.month ?? 0, 2) + "-" + Self.pad(parts.day ?? 0, 2)
            + " " + Self.pad(parts.hour ?? 0, 2) + ":" + Self.pad(parts.minute ?? 0, 2)
    }

    /// The local month of `time`: `2026-12`.
    public func month(_ time: Timestamp) -> String { String(date(time).prefix(7)) }

    /// The start of a local day written `YYYY-MM-DD`; `nil` for anything else.
    public func day(_ text: Substring) -> Timestamp? {
        guard text.count == 10, let utc = Timestamp(rfc3339: text + "T00:00:00Z"), utc.rfc3339.hasPrefix(text)
        else { return nil }
        guard !isUTC else { return utc }
        let parts = text.split(separator: "-").compactMap { Int($0) }
        return calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2])).map(Self.timestamp)
    }

    /// The local month written `YYYY-MM`: its start and the next month's start; `nil` for anything else.
    public func month(_ text: Substring) -> (start: Timestamp, end: Timestamp)? {
        guard text.count == 7, let start = day(text + "-01") else { return nil }
        return (start, nextMonthStart(start))
    }

    private func start(of component: Calendar.Component, holding time: Timestamp) -> Timestamp {
        Self.timestamp(calendar.dateInterval(of: component, for: Self.date(time))!.start)
    }

    private func end(of component: Calendar.Component, holding time: Timestamp) -> Timestamp {
        Self.timestamp(calendar.dateInterval(of: component, for: Self.date(time))!.end)
    }

    private static func date(_ time: Timestamp) -> Date {
        Date(timeIntervalSince1970: Double(time.milliseconds) / 1000)
    }

    private static func timestamp(_ date: Date) -> Timestamp {
        Timestamp(milliseconds: Int64((date.timeIntervalSince1970 * 1000).rounded()))
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    public static func == (lhs: LocalCalendar, rhs: LocalCalendar) -> Bool { lhs.zone == rhs.zone }
    public func hash(into hasher: inout Hasher) { hasher.combine(zone) }
}
