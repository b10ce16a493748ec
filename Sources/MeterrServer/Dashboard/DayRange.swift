import MeterrCore

/// A range of whole days chosen on a dashboard page (`from` and `to`, both inclusive, as the form's
/// date pickers give them), in the organisation's calendar; RFC 3339 times are taken as they are.
///
/// A value that is neither a date nor a time, or a range that ends before it starts, is named in
/// `problems`; the page shows it (as the usage explorer does) and uses its default.
struct DayRange: Sendable {
    /// The first day's start, if `from` was given and valid.
    var from: Timestamp?
    /// The end of the last day (exclusive), if `to` was given and valid.
    var end: Timestamp?
    /// The days as written back into the form.
    var fromText = ""
    var toText = ""
    var problems: [String] = []

    init(from fromValue: String?, to toValue: String?, calendar: LocalCalendar) {
        func read(_ text: String?, label: String, endOfDay: Bool) -> Timestamp? {
            guard let text, !text.isEmpty else { return nil }
            if let day = calendar.day(Substring(text)) { return endOfDay ? calendar.nextDayStart(day) : day }
            if text.count > 10, let time = Timestamp(rfc3339: text) { return time }
            problems.append("\(label) must be a date (2026-11-01) or an RFC 3339 time")
            return nil
        }
        from = read(fromValue, label: "From", endOfDay: false)
        end = read(toValue, label: "To", endOfDay: true)
        fromText = from.map { calendar.date($0) } ?? ""
        toText = end.map { calendar.date($0.adding(milliseconds: -1)) } ?? ""
        if let from, let end, from >= end {
            problems.append("From must be before To.")
            self.from = nil
            self.end = nil
        }
    }
}
