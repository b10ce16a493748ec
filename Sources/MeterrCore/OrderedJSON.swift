/// Order-preserving JSON: the price files, and request bodies translated between providers' formats.
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

extension JSONWriter {
    /// Writes a parsed value compactly, members in their order.
    public mutating func value(_ key: String?, _ value: OrderedJSON) {
        switch value {
        case .object(let members):
            beginObject(key)
            for member in members { self.value(member.key, member.value) }
            endObject()
        case .array(let items):
            beginArray(key)
            for item in items { self.value(nil, item) }
            endArray()
        case .string(let text): string(key, text)
        case .number(let text): raw(key, text.utf8)
        case .bool(let flag): bool(key, flag)
        case .null: raw(key, "null".utf8)
        }
    }
}

extension OrderedJSON {
    /// The value as compact JSON bytes.
    public var compactBytes: [UInt8] {
        var json = JSONWriter(capacity: 256)
        json.value(nil, self)
        return json.bytes
    }
}

extension OrderedJSON {
    /// The value at a path of object keys, or `nil`.
    public subscript(path path: String...) -> OrderedJSON? {
        var value: OrderedJSON? = self
        for key in path { value = value?[key] }
        return value
    }

    /// The value as a whole number, or `nil`.
    public var int: Int? {
        if case .number(let text) = self { return Int(text) }
        return nil
    }

    /// The elements of an array, or `nil`.
    public var array: [OrderedJSON]? {
        if case .array(let items) = self { return items }
        return nil
    }
}
