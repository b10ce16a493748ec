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
    enum Content {
        case empty
        case object([(key: String, node: WireNode)])
        case array([WireNode])
        /// A scalar's JSON text.
        case scalar([UInt8])
    }

    var content = Content.empty

    /// The member `key` of this object, made if new (a key encoded again keeps its first place and
    /// takes the new value).
    func member(_ key: String) -> WireNode {
        var members: [(key: String, node: WireNode)] = []
        if case .object(let existing) = content {
            if let found = existing.first(where: { $0.key == key }) { return found.node }
            members = existing
        }
        // Emptied first, so the array is this function's alone and grows in place: copied on every
        // member, an object of n members cost n² copies (a page of events, most of its encoding).
        content = .empty
        let node = WireNode()
        members.append((key, node))
        content = .object(members)
        return node
    }

    /// A new last element of this array.
    func appended() -> WireNode {
        var items: [WireNode] = []
        if case .array(let existing) = content { items = existing }
        content = .empty
        let node = WireNode()
        items.append(node)
        content = .array(items)
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
                member.node.write(to: &bytes)
            }
            bytes.append(UInt8(ascii: "}"))
        case .array(let items):
            bytes.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                item.write(to: &bytes)
            }
            bytes.append(UInt8(ascii: "]"))
        case .scalar(let text):
            bytes.append(contentsOf: text)
        }
    }

    /// Encodes a value into `node`: strings and numbers directly, string-keyed dictionaries sorted,
    /// everything else through its own `encode(to:)`.
    static func encode(_ value: some Encodable, into node: WireNode, codingPath: [any CodingKey]) throws {
        switch value {
        case let text as String:
            node.content = .scalar(quoted(text))
        case let event as UsageEvent:
            // The event's own writer (exports, SDK batches): the bytes of its Codable form, which a
            // contract test holds equal, without a node and a dynamic cast per member of every event.
            node.content = .scalar(event.jsonLine)
        case let map as [String: String]:
            node.content = .object(map.keys.sorted().map { ($0, WireNode(scalar: quoted(map[$0]!))) })
        case let map as [String: Int]:
            node.content = .object(map.keys.sorted().map { ($0, WireNode(scalar: Array(String(map[$0]!).utf8))) })
        default:
            try value.encode(to: WireNodeEncoder(node: node, codingPath: codingPath))
        }
    }

    convenience init(scalar: [UInt8]) {
        self.init()
        content = .scalar(scalar)
    }

    static func quoted(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        JSONWriter.appendQuoted(text, to: &bytes)
        return bytes
    }

    static func number(_ value: some BinaryFloatingPoint & LosslessStringConvertible, _ path: [any CodingKey]) throws
        -> [UInt8]
    {
        guard value.isFinite else {
            throw EncodingError.invalidValue(
                value, .init(codingPath: path, debugDescription: "JSON has no non-finite numbers"))
        }
        return Array(String(value).utf8)
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

    private func set(_ text: [UInt8], _ key: Key) { node.member(key.stringValue).content = .scalar(text) }

    mutating func encodeNil(forKey key: Key) throws { set(Array("null".utf8), key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { set(Array((value ? "true" : "false").utf8), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { set(WireNode.quoted(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        set(try WireNode.number(value, codingPath + [key]), key)
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        set(try WireNode.number(value, codingPath + [key]), key)
    }
    mutating func encode(_ value: Int, forKey key: Key) throws { set(Array(String(value).utf8), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { set(Array(String(value).utf8), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { set(Array(String(value).utf8), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { set(Array(String(value).utf8), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { set(Array(String(value).utf8), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { set(Array(String(value).utf8), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { set(Array(String(value).utf8), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { set(Array(String(value).utf8), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { set(Array(String(value).utf8), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { set(Array(String(value).utf8), key) }

    mutating func encode(_ value: some Encodable, forKey key: Key) throws {
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

    private func append(_ text: [UInt8]) { node.appended().content = .scalar(text) }

    mutating func encodeNil() throws { append(Array("null".utf8)) }
    mutating func encode(_ value: Bool) throws { append(Array((value ? "true" : "false").utf8)) }
    mutating func encode(_ value: String) throws { append(WireNode.quoted(value)) }
    mutating func encode(_ value: Double) throws { append(try WireNode.number(value, codingPath)) }
    mutating func encode(_ value: Float) throws { append(try WireNode.number(value, codingPath)) }
    mutating func encode(_ value: Int) throws { append(Array(String(value).utf8)) }
    mutating func encode(_ value: Int8) throws { append(Array(String(value).utf8)) }
    mutating func encode(_ value: Int16) throws { append(Array(String(value).utf8)) }
    mutating func encode(_ value: Int32) throws { append(Array(String(value).utf8)) }
    mutating func encode(_ value: Int64) throws { append(Array(String(value).utf8)) }
    mutating func encode(_ value: UInt) throws { append(Array(String(value).utf8)) }
    mutating func encode(_ value: UInt8) throws { append(Array(String(value).utf8)) }
    mutating func encode(_ value: UInt16) throws { append(Array(String(value).utf8)) }
    mutating func encode(_ value: UInt32) throws { append(Array(String(value).utf8)) }
    mutating func encode(_ value: UInt64) throws { append(Array(String(value).utf8)) }

    mutating func encode(_ value: some Encodable) throws {
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

    private func set(_ text: [UInt8]) { node.content = .scalar(text) }

    mutating func encodeNil() throws { set(Array("null".utf8)) }
    mutating func encode(_ value: Bool) throws { set(Array((value ? "true" : "false").utf8)) }
    mutating func encode(_ value: String) throws { set(WireNode.quoted(value)) }
    mutating func encode(_ value: Double) throws { set(try WireNode.number(value, codingPath)) }
    mutating func encode(_ value: Float) throws { set(try WireNode.number(value, codingPath)) }
    mutating func encode(_ value: Int) throws { set(Array(String(value).utf8)) }
    mutating func encode(_ value: Int8) throws { set(Array(String(value).utf8)) }
    mutating func encode(_ value: Int16) throws { set(Array(String(value).utf8)) }
    mutating func encode(_ value: Int32) throws { set(Array(String(value).utf8)) }
    mutating func encode(_ value: Int64) throws { set(Array(String(value).utf8)) }
    mutating func encode(_ value: UInt) throws { set(Array(String(value).utf8)) }
    mutating func encode(_ value: UInt8) throws { set(Array(String(value).utf8)) }
    mutating func encode(_ value: UInt16) throws { set(Array(String(value).utf8)) }
    mutating func encode(_ value: UInt32) throws { set(Array(String(value).utf8)) }
    mutating func encode(_ value: UInt64) throws { set(Array(String(value).utf8)) }

    mutating func encode(_ value: some Encodable) throws {
        try WireNode.encode(value, into: node, codingPath: codingPath)
    }
}
