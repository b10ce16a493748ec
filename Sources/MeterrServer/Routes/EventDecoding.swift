import Foundation
import MeterrCore

/// Reads the body of `POST /api/usage/events`: one event, an array of events, or `{"events": [...]}`.
///
/// Every failure is a `MeterrError` naming the field at fault (`[3].input_tokens`).
enum EventBatchDecoder {
    static let maxEvents = 1000

    private struct Wrapper: Decodable {
        var events: [UsageEvent]?
    }

    /// The events, and the path prefix of each event's fields in error messages.
    static func decode(_ data: Data) throws -> (events: [UsageEvent], fieldPrefix: (Int) -> String) {
        guard let first = data.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) else {
            throw MeterrError.invalid("body", "expected a usage event, an array of events or {\"events\": [...]}")
        }
        let decoder = JSONDecoder()
        let events: [UsageEvent]
        let fieldPrefix: (Int) -> String
        do {
            switch first {
            case UInt8(ascii: "["):
                events = try decoder.decode([UsageEvent].self, from: data)
                fieldPrefix = { "[\($0)]." }
            case UInt8(ascii: "{"):
                if let wrapped = try decoder.decode(Wrapper.self, from: data).events {
                    events = wrapped
                    fieldPrefix = { "events[\($0)]." }
                } else {
                    events = [try decoder.decode(UsageEvent.self, from: data)]
                    fieldPrefix = { _ in "" }
                }
            default:
                throw MeterrError.invalid("body", "expected a usage event, an array of events or {\"events\": [...]}")
            }
        } catch let error as DecodingError {
            throw describe(error, body: data)
        }
        if events.isEmpty { throw MeterrError.invalid("events", "must hold at least one event") }
        if events.count > maxEvents {
            throw MeterrError.invalid("events", "at most \(maxEvents) events per request (got \(events.count))")
        }
        return (events, fieldPrefix)
    }

    /// A decoding error as a message about one field.
    static func describe(_ error: DecodingError, body: Data) -> MeterrError {
        switch error {
        case .typeMismatch(let type, let context):
            return .invalid(path(context.codingPath), "must be \(describe(type))")
        case .valueNotFound(let type, let context):
            return .invalid(path(context.codingPath), "must be \(describe(type)), not null")
        case .keyNotFound(let key, let context):
            return .invalid(path(context.codingPath + [key]), "is required")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                // Foundation reports a fraction in an integer field as invalid JSON; find the field.
                if let field = nonIntegerField(in: body) { return .invalid(field, "must be a whole number in range") }
                return .invalid("body", "is not valid JSON")
            }
            let detail = context.debugDescription
            if detail.contains("does not fit") || detail.contains("Parsed JSON number") {
                return .invalid(path(context.codingPath), "must be an integer in range")
            }
            return .invalid(path(context.codingPath), detail)
        @unknown default:
            return .invalid("body", "could not be read")
        }
    }

    static let integerFields: Set<String> = [
        "input_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens", "output_tokens",
        "reasoning_tokens", "status", "latency_ms", "ttft_ms",
    ]

    /// The path of the first integer field that holds a number with a fraction or exponent, if the
    /// body is valid JSON at all.
    static func nonIntegerField(in body: Data) -> String? {
        guard let root = try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) else {
            return nil
        }
        func search(_ value: Any, _ path: String) -> String? {
            if let array = value as? [Any] {
                for (index, element) in array.enumerated() {
                    if let found = search(element, path + "[\(index)]") { return found }
                }
            } else if let object = value as? [String: Any] {
                for key in object.keys.sorted() {
                    let child = path.isEmpty ? key : path + "." + key
                    if integerFields.contains(key), let number = object[key] as? NSNumber, !(object[key] is Bool),
                        number.doubleValue.rounded() != number.doubleValue || number.doubleValue.magnitude >= 9e18
                            || "\(number)".contains(where: { $0 == "." || $0 == "e" || $0 == "E" })
                    {
                        return child
                    }
                    if let found = search(object[key]!, child) { return found }
                }
            }
            return nil
        }
        return search(root, "")
    }

    static func path(_ codingPath: [any CodingKey]) -> String {
        var text = ""
        for key in codingPath {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += (text.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return text.isEmpty ? "body" : text
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is Int64.Type: "an integer"
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Decimal.Type, is Double.Type: "a number"
        default:
            String(describing: type).hasPrefix("Dictionary")
                ? "an object" : String(describing: type).hasPrefix("Array") ? "an array" : "a valid value"
        }
    }
}
