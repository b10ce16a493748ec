/// A parsed JSON value, for the small objects meterr reads out of provider responses (usage blocks,
/// error bodies). Numbers keep their text, so nothing passes through a binary float unasked.
public enum JSONValue: Sendable, Hashable {
    case object([String: JSONValue])
    case array([JSONValue])
    case string(String)
    /// A number as written, e.g. `"12"` or `"0.5"`.
    case number(String)
    case bool(Bool)
    case null

    /// Parses JSON bytes; `nil` if they are not one valid JSON value.
    public init?(parsing bytes: some Collection<UInt8>) {
        let array = Array(bytes)
        let parsed: JSONValue? = array.withUnsafeBufferPointer { buffer in
            var parser = JSONParser(buffer)
            guard let value = try? parser.readValue(depth: 0) else { return nil }
            parser.skipWhitespace()
            return parser.atEnd ? value : nil
        }
        guard let parsed else { return nil }
        self = parsed
    }

    /// The member `key` of an object, or `nil`.
    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    /// The value at a path of object keys, or `nil`.
    public subscript(path path: String...) -> JSONValue? {
        var value: JSONValue? = self
        for key in path { value = value?[key] }
        return value
    }

    /// The value as a whole number: integers, and numbers with a zero fraction (`21.0`, as some
    /// providers send token counts). `nil` for anything else.
    public var int: Int? {
        guard case .number(let text) = self else { return nil }
        if let value = Int(text) { return value }
        guard let point = text.firstIndex(of: "."), !text.contains(where: { $0 == "e" || $0 == "E" }),
            text[text.index(after: point)...].allSatisfy({ $0 == "0" })
        else { return nil }
        return Int(text[..<point])
    }

    /// The value as a string, or `nil`.
    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The value as an array, or `nil`.
    public var array: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// Whether the value is JSON `null`.
    public var isNull: Bool { self == .null }
}

/// A value a JSON document can be read into: meterr's `JSONValue`, and the price files' ordered
/// form. The parser walks the bytes once and builds whichever is asked for.
package protocol JSONTree {
    /// How the members of an object are gathered while they are read.
    associatedtype Members
    /// How deep objects and arrays may nest.
    static var nestingLimit: Int { get }
    static var noMembers: Members { get }
    static func adding(_ key: String, _ value: Self, to members: inout Members)
    static func object(members: Members) -> Self
    static func array(_ items: [Self]) -> Self
    static func string(_ text: String) -> Self
    static func number(_ text: String) -> Self
    static func bool(_ flag: Bool) -> Self
    static var null: Self { get }
}

extension JSONValue: JSONTree {
    package static let nestingLimit = 64
    /// Room for a usual small object's members at once: growing from empty rehashed it two or three
    /// times (a usage object, 4 % of the gateway's CPU was in hashing and dictionary growth).
    package static var noMembers: [String: JSONValue] { Dictionary(minimumCapacity: 8) }

    package static func adding(_ key: String, _ value: JSONValue, to members: inout [String: JSONValue]) {
        members[key] = value
    }

    package static func object(members: [String: JSONValue]) -> JSONValue { .object(members) }
}

extension JSONParser {
    /// Reads the value at the current position into a tree of the caller's kind.
    package mutating func readTree<Tree: JSONTree>(depth: Int) throws(MeterrError) -> Tree {
        guard depth < Tree.nestingLimit else { throw malformed("is nested too deeply") }
        skipWhitespace()
        switch peek() {
        case UInt8(ascii: "\""): return .string(try readString("body"))
        case UInt8(ascii: "{"):
            var members = Tree.noMembers
            try forEachMember("body") { (parser, key) throws(MeterrError) in
                Tree.adding(key, try parser.readTree(depth: depth + 1), to: &members)
            }
            return .object(members: members)
        case UInt8(ascii: "["):
            var elements: [Tree] = []
            try forEachElement("body") { (parser, _) throws(MeterrError) in
                elements.append(try parser.readTree(depth: depth + 1))
            }
            return .array(elements)
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool(try readBool("body"))
        case UInt8(ascii: "n"):
            guard consumeNull() else { throw malformed() }
            return .null
        default:
            guard let text = readNumberText() else { throw malformed() }
            return .number(String(text))
        }
    }

    /// Reads the value at the current position as a `JSONValue`.
    package mutating func readValue(depth: Int) throws(MeterrError) -> JSONValue { try readTree(depth: depth) }
}

/// Finds members of a JSON object without parsing the rest: the gateway reads `usage` out of a
/// response whose other members (embeddings, long texts) it never needs to build.
public enum JSONMemberScanner {
    /// The value of the member at `path` (object keys from the top), parsed; `nil` if absent or
    /// the bytes are not a JSON object.
    public static func value(at path: [String], in bytes: UnsafeBufferPointer<UInt8>) -> JSONValue? {
        var parser = JSONParser(bytes)
        return try? parser.valueAt(path[...])
    }

    /// The value of the member at `path`, from any contiguous bytes.
    public static func value(at path: [String], in bytes: some Collection<UInt8>) -> JSONValue? {
        if let found = bytes.withContiguousStorageIfAvailable({ value(at: path, in: $0) }) { return found }
        return Array(bytes).withUnsafeBufferPointer { value(at: path, in: $0) }
    }
}

extension JSONParser {
    /// Walks into objects along `path`, skipping other members without building them.
    mutating func valueAt(_ path: ArraySlice<String>) throws(MeterrError) -> JSONValue? {
        guard let key = path.first else { return try readValue(depth: 0) }
        skipWhitespace()
        guard peek() == UInt8(ascii: "{") else { return nil }
        var found: JSONValue?
        var done = false
        try forEachMemberKey("body") { (parser, name) throws(MeterrError) in
            if !done, name.matches(key) {
                found = try parser.valueAt(path.dropFirst())
                done = true
            } else {
                try parser.skipValue()
            }
        }
        return found
    }
}

extension JSONMemberScanner {
    /// The members of the top-level object named in `keys`, parsed; other members are skipped
    /// unbuilt (their grammar checked). `nil` if the bytes do not start with a JSON object, or, with
    /// `wholeBody`, if anything but whitespace follows it.
    public static func topLevel(
        keys: Set<String>, in bytes: UnsafeBufferPointer<UInt8>, wholeBody: Bool = false
    ) -> JSONValue? {
        var parser = JSONParser(bytes)
        var members = [String: JSONValue](minimumCapacity: keys.count)
        do {
            try parser.forEachMemberKey("body") { (parser, key) throws(MeterrError) in
                // Compared as bytes: the members skipped build no key.
                if let name = keys.first(where: key.matches) {
                    members[name] = try parser.readValue(depth: 1)
                } else {
                    try parser.skipValue()
                }
            }
        } catch {
            return nil
        }
        if wholeBody {
            parser.skipWhitespace()
            guard parser.index == bytes.count else { return nil }
        }
        return .object(members)
    }

    /// The same, from an array of bytes.
    public static func topLevel(keys: Set<String>, in bytes: [UInt8]) -> JSONValue? {
        bytes.withUnsafeBufferPointer { topLevel(keys: keys, in: $0) }
    }
}

extension JSONMemberScanner {
    /// The byte range of the value of the top-level member `key` (for a string, quotes included), or
    /// `nil` if absent or the bytes are not a JSON object.
    public static func topLevelValueRange(key: String, in bytes: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        var parser = JSONParser(bytes)
        var range: Range<Int>?
        do {
            try parser.forEachMemberKey("body") { (parser, name) throws(MeterrError) in
                parser.skipWhitespace()
                let start = parser.index
                try parser.skipValue()
                if name.matches(key) { range = start..<parser.index }
            }
        } catch {
            return nil
        }
        return range
    }
}
