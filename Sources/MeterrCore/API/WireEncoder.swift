/// Encodes the wire types as compact JSON with their members in the order each type encodes them
/// (the contract's order, as the docs print it), where Foundation's `JSONEncoder` orders them by
/// hash or by name. Absent values the types encode as `null` stay `null`; a string-keyed dictionary
/// (an event's `tags`) comes out sorted by key, so the same value is always the same bytes.
public struct WireEncoder: Sendable {
    /// Creates an encoder.
    public init() {}

    /// The value as JSON text.
    public func encode(_ value: some Encodable) throws -> [UInt8] {
        let root = WireNode()
        try WireNode.encode(value, into: root, codingPath: [])
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        root.write(to: &bytes)
        return bytes
    }
}

/// One value being encoded. A reference, because containers handed out earlier keep filling it.
final class WireNode {
    /// A member's or an element's value: text kept as it came (written when the whole is), or a node
    /// still being filled.
    enum Value {
        /// JSON text as it is: a number, `true`, `false`, `null`.
        case literal(String)
        /// A string, quoted and escaped when written.
        case string(String)
        /// JSON text as it is, as bytes (an event's line).
        case bytes([UInt8])
        /// An object or an array (or a value encoded through its own `encode(to:)`).
        case node(WireNode)
    }

    enum Content {
        case empty
        case object([(key: String, value: Value)])
        case array([Value])
        case value(Value)
    }

    var content = Content.empty

    /// Sets the member `key` of this object (a key encoded again keeps its first place and takes the new
    /// value).
    func set(_ key: String, _ value: Value) {
        var members: [(key: String, value: Value)] = []
        if case .object(let existing) = content { members = existing }
        // Emptied first, so the array is this function's alone and grows in place: copied on every
        // member, an object of n members cost n² copies (a page of events, most of its encoding).
        content = .empty
        if let index = members.firstIndex(where: { $0.key == key }) {
            members[index].value = value
        } else {
            members.append((key, value))
        }
        content = .object(members)
    }

    /// The member `key` of this object as a node to fill, made if new.
    func member(_ key: String) -> WireNode {
        if case .object(let existing) = content, let found = existing.first(where: { $0.key == key }),
            case .node(let node) = found.value
        {
            return node
        }
        let node = WireNode()
        set(key, .node(node))
        return node
    }

    /// Appends an element to this array.
    func append(_ value: Value) {
        var items: [Value] = []
        if case .array(let existing) = content { items = existing }
        content = .empty
        items.append(value)
        content = .array(items)
    }

    /// A new last element of this array, as a node to fill.
    func appended() -> WireNode {
        let node = WireNode()
        append(.node(node))
        return node
    }

    func becomeObject() { if case .object = content {} else { content = .object([]) } }
    func becomeArray() { if case .array = content {} else { content = .array([]) } }

    func write(to bytes: inout [UInt8]) {
        switch content {
        case .empty:
            bytes.append(contentsOf: "{}".utf8)
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                JSONWriter.appendQuoted(member.key, to: &bytes)
                bytes.append(UInt8(ascii: ":"))
                Self.write(member.value, to: &bytes)
            }
            bytes.append(UInt8(ascii: "}"))
        case .array(let items):
            bytes.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                Self.write(item, to: &bytes)
            }
            bytes.append(UInt8(ascii: "]"))
        case .value(let value):
            Self.write(value, to: &bytes)
        }
    }

    static func write(_ value: Value, to bytes: inout [UInt8]) {
        switch value {
        case .literal(let text): bytes.append(contentsOf: text.utf8)
        case .string(let text): JSONWriter.appendQuoted(text, to: &bytes)
        case .bytes(let text): bytes.append(contentsOf: text)
        case .node(let node): node.write(to: &bytes)
        }
    }

    /// A value that needs no node of its own: strings, and the core types that encode as one string
    /// (compared by type, not cast: a cast per member of every object was a good part of an answer's
    /// encoding).
    static func scalar<T: Encodable>(_ value: T) -> Value? {
        if T.self == String.self { return .string(unsafeBitCast(value, to: String.self)) }
        if T.self == Money.self { return .string(unsafeBitCast(value, to: Money.self).decimalString) }
        if T.self == Timestamp.self { return .string(unsafeBitCast(value, to: Timestamp.self).rfc3339) }
        return nil
    }

    /// Encodes a value into `node`: strings and the core types directly, string-keyed dictionaries
    /// sorted, everything else through its own `encode(to:)`.
    static func encode<T: Encodable>(_ value: T, into node: WireNode, codingPath: [any CodingKey]) throws {
        if let scalar = scalar(value) {
            node.content = .value(scalar)
        } else if T.self == UsageEvent.self {
            // The event's own writer (exports, SDK batches): the bytes of its Codable form, which a
            // contract test holds equal, without a node and a dynamic cast per member of every event.
            node.content = .value(.bytes(unsafeBitCast(value, to: UsageEvent.self).jsonLine))
        } else if T.self == BudgetStatus.self {
            // The same for a budget's status (pages of budgets).
            node.content = .value(.bytes(unsafeBitCast(value, to: BudgetStatus.self).jsonObject))
        } else if T.self == [String: String].self {
            let map = unsafeBitCast(value, to: [String: String].self)
            node.content = .object(map.keys.sorted().map { ($0, .string(map[$0]!)) })
        } else if T.self == [String: Int].self {
            let map = unsafeBitCast(value, to: [String: Int].self)
            node.content = .object(map.keys.sorted().map { ($0, .literal(String(map[$0]!))) })
        } else {
            try value.encode(to: WireNodeEncoder(node: node, codingPath: codingPath))
        }
    }

    static func number(_ value: some BinaryFloatingPoint & LosslessStringConvertible, _ path: [any CodingKey]) throws
        -> Value
    {
        guard value.isFinite else {
            throw EncodingError.invalidValue(
                value, .init(codingPath: path, debugDescription: "JSON has no non-finite numbers"))
        }
        return .literal(String(value))
    }
}

/// The `Encoder` over one node.
struct WireNodeEncoder: Encoder {
    let node: WireNode
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(node: WireNode, codingPath: [any CodingKey]) {
        self.node = node
        self.codingPath = codingPath
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        node.becomeObject()
        return KeyedEncodingContainer(WireKeyedContainer<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        node.becomeArray()
        return WireUnkeyedContainer(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        WireSingleValueContainer(node: node, codingPath: codingPath)
    }
}

struct WireKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: WireNode
    var codingPath: [any CodingKey]

    private func set(_ value: WireNode.Value, _ key: Key) { node.set(key.stringValue, value) }

    mutating func encodeNil(forKey key: Key) throws { set(.literal("null"), key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { set(.literal(value ? "true" : "false"), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { set(.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        set(try WireNode.number(value, codingPath + [key]), key)
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        set(try WireNode.number(value, codingPath + [key]), key)
    }
    mutating func encode(_ value: Int, forKey key: Key) throws { set(.literal(String(value)), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { set(.literal(String(value)), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { set(.literal(String(value)), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { set(.literal(String(value)), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { set(.literal(String(value)), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { set(.literal(String(value)), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { set(.literal(String(value)), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { set(.literal(String(value)), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { set(.literal(String(value)), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { set(.literal(String(value)), key) }

    mutating func encode(_ value: some Encodable, forKey key: Key) throws {
        if let scalar = WireNode.scalar(value) { return set(scalar, key) }
        try WireNode.encode(value, into: node.member(key.stringValue), codingPath: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        let child = node.member(key.stringValue)
        child.becomeObject()
        return KeyedEncodingContainer(WireKeyedContainer<NestedKey>(node: child, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = node.member(key.stringValue)
        child.becomeArray()
        return WireUnkeyedContainer(node: child, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder {
        WireNodeEncoder(node: node.member("super"), codingPath: codingPath)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        WireNodeEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key])
    }
}

struct WireUnkeyedContainer: UnkeyedEncodingContainer {
    let node: WireNode
    var codingPath: [any CodingKey]
    var count: Int {
        if case .array(let items) = node.content { return items.count }
        return 0
    }

    private func append(_ value: WireNode.Value) { node.append(value) }

    mutating func encodeNil() throws { append(.literal("null")) }
    mutating func encode(_ value: Bool) throws { append(.literal(value ? "true" : "false")) }
    mutating func encode(_ value: String) throws { append(.string(value)) }
    mutating func encode(_ value: Double) throws { append(try WireNode.number(value, codingPath)) }
    mutating func encode(_ value: Float) throws { append(try WireNode.number(value, codingPath)) }
    mutating func encode(_ value: Int) throws { append(.literal(String(value))) }
    mutating func encode(_ value: Int8) throws { append(.literal(String(value))) }
    mutating func encode(_ value: Int16) throws { append(.literal(String(value))) }
    mutating func encode(_ value: Int32) throws { append(.literal(String(value))) }
    mutating func encode(_ value: Int64) throws { append(.literal(String(value))) }
    mutating func encode(_ value: UInt) throws { append(.literal(String(value))) }
    mutating func encode(_ value: UInt8) throws { append(.literal(String(value))) }
    mutating func encode(_ value: UInt16) throws { append(.literal(String(value))) }
    mutating func encode(_ value: UInt32) throws { append(.literal(String(value))) }
    mutating func encode(_ value: UInt64) throws { append(.literal(String(value))) }

    mutating func encode(_ value: some Encodable) throws {
        if let scalar = WireNode.scalar(value) { return append(scalar) }
        try WireNode.encode(value, into: node.appended(), codingPath: codingPath)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        let child = node.appended()
        child.becomeObject()
        return KeyedEncodingContainer(WireKeyedContainer<NestedKey>(node: child, codingPath: codingPath))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let child = node.appended()
        child.becomeArray()
        return WireUnkeyedContainer(node: child, codingPath: codingPath)
    }

    mutating func superEncoder() -> any Encoder { WireNodeEncoder(node: node.appended(), codingPath: codingPath) }
}

struct WireSingleValueContainer: SingleValueEncodingContainer {
    let node: WireNode
    var codingPath: [any CodingKey]

    private func set(_ value: WireNode.Value) { node.content = .value(value) }

    mutating func encodeNil() throws { set(.literal("null")) }
    mutating func encode(_ value: Bool) throws { set(.literal(value ? "true" : "false")) }
    mutating func encode(_ value: String) throws { set(.string(value)) }
    mutating func encode(_ value: Double) throws { set(try WireNode.number(value, codingPath)) }
    mutating func encode(_ value: Float) throws { set(try WireNode.number(value, codingPath)) }
    mutating func encode(_ value: Int) throws { set(.literal(String(value))) }
    mutating func encode(_ value: Int8) throws { set(.literal(String(value))) }
    mutating func encode(_ value: Int16) throws { set(.literal(String(value))) }
    mutating func encode(_ value: Int32) throws { set(.literal(String(value))) }
    mutating func encode(_ value: Int64) throws { set(.literal(String(value))) }
    mutating func encode(_ value: UInt) throws { set(.literal(String(value))) }
    mutating func encode(_ value: UInt8) throws { set(.literal(String(value))) }
    mutating func encode(_ value: UInt16) throws { set(.literal(String(value))) }
    mutating func encode(_ value: UInt32) throws { set(.literal(String(value))) }
    mutating func encode(_ value: UInt64) throws { set(.literal(String(value))) }

    mutating func encode(_ value: some Encodable) throws {
        try WireNode.encode(value, into: node, codingPath: codingPath)
    }
}
