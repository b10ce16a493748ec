import MeterrCore

/// A parsed JSON value that keeps numbers as their source text, so prices never pass through `Double`.
///
/// Objects keep their members in file order (LiteLLM files are diffed by humans; exports stay stable).
public indirect enum OrderedJSON: Sendable, Hashable {
    case object([(key: String, value: OrderedJSON)])
    case array([OrderedJSON])
    case string(String)
    /// The number exactly as written, e.g. `"3.75e-06"`.
    case number(String)
    case bool(Bool)
    case null

    /// The member named `key` of an object, or `nil`.
    public subscript(key: String) -> OrderedJSON? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// The string value, or `nil` for any other kind.
    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// A short name of the value's kind for error messages.
    public var kindName: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        }
    }

    public static func == (lhs: OrderedJSON, rhs: OrderedJSON) -> Bool {
        switch (lhs, rhs) {
        case (.object(let a), .object(let b)):
            a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case (.array(let a), .array(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.number(let a), .number(let b)): a == b
        case (.bool(let a), .bool(let b)): a == b
        case (.null, .null): true
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .object(let members):
            hasher.combine(0)
            for member in members {
                hasher.combine(member.key)
                hasher.combine(member.value)
            }
        case .array(let items): hasher.combine(items)
        case .string(let text): hasher.combine(text)
        case .number(let text): hasher.combine(text)
        case .bool(let flag): hasher.combine(flag)
        case .null: hasher.combine(1)
        }
    }
}

/// Reads JSON documents into `OrderedJSON`, with MeterrCore's one JSON parser (RFC 8259, strict).
public enum OrderedJSONParser {
    /// Parses one JSON document; trailing non-space bytes are an error. The error names the byte.
    public static func parse(_ bytes: [UInt8]) throws(MeterrError) -> OrderedJSON {
        try bytes.withUnsafeBufferPointer { buffer throws(MeterrError) in
            var parser = JSONParser(buffer)
            let value: OrderedJSON = try parser.readTree(depth: 0)
            parser.skipWhitespace()
            guard parser.atEnd else { throw parser.malformed("has unexpected bytes after the document") }
            return value
        }
    }

    /// Parses a JSON document held in a string.
    public static func parse(_ text: String) throws(MeterrError) -> OrderedJSON {
        try parse(Array(text.utf8))
    }
}

extension OrderedJSON: JSONTree {
    package static let nestingLimit = 128
    package static var noMembers: [(key: String, value: OrderedJSON)] { [] }

    package static func adding(
        _ key: String, _ value: OrderedJSON, to members: inout [(key: String, value: OrderedJSON)]
    ) {
        members.append((key, value))
    }

    package static func object(members: [(key: String, value: OrderedJSON)]) -> OrderedJSON { .object(members) }
}

/// Writes JSON text with four-space indentation, members in the given order.
public enum OrderedJSONWriter {
    /// The value as pretty-printed JSON text ending in a newline.
    public static func write(_ value: OrderedJSON) -> String {
        var out = ""
        emit(value, indent: 0, into: &out)
        out += "\n"
        return out
    }

    private static func emit(_ value: OrderedJSON, indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent + 4)
        switch value {
        case .object(let members):
            if members.isEmpty {
                out += "{}"
                return
            }
            out += "{\n"
            for (offset, member) in members.enumerated() {
                out += pad
                out += quote(member.key)
                out += ": "
                emit(member.value, indent: indent + 4, into: &out)
                out += offset == members.count - 1 ? "\n" : ",\n"
            }
            out += String(repeating: " ", count: indent) + "}"
        case .array(let items):
            if items.isEmpty {
                out += "[]"
                return
            }
            out += "[\n"
            for (offset, item) in items.enumerated() {
                out += pad
                emit(item, indent: indent + 4, into: &out)
                out += offset == items.count - 1 ? "\n" : ",\n"
            }
            out += String(repeating: " ", count: indent) + "]"
        case .string(let text): out += quote(text)
        case .number(let text): out += text
        case .bool(let flag): out += flag ? "true" : "false"
        case .null: out += "null"
        }
    }

    /// The string as a JSON string literal.
    public static func quote(_ text: String) -> String {
        var bytes: [UInt8] = []
        JSONWriter.appendQuoted(text, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}
