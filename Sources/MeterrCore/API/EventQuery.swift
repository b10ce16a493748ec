/// `GET /api/usage/events`: a filter and a page. Its query string is written (by the SDK) and read
/// (by the server) here, so both sides agree on every parameter.
@dynamicMemberLookup
public struct EventQuery: Sendable, Hashable {
    /// Which events.
    public var filter: EventFilter
    /// Events per page (1 to 1,000).
    public var limit: Int
    /// The `next_cursor` of the previous page.
    public var cursor: EventCursor?

    /// The largest page.
    public static let maxLimit = 1000

    /// Creates a query; with no arguments, the newest 100 events.
    public init(
        from: Timestamp? = nil, to: Timestamp? = nil, team: String? = nil, user: String? = nil,
        project: String? = nil, keyId: String? = nil, provider: Provider? = nil, model: String? = nil,
        tags: [String: String] = [:], limit: Int = 100, cursor: EventCursor? = nil
    ) {
        filter = EventFilter(
            from: from, to: to, team: team, user: user, project: project, keyId: keyId, provider: provider,
            model: model, tags: tags)
        self.limit = limit
        self.cursor = cursor
    }

    /// The filter's fields, read and written as the query's own (`query.team`).
    public subscript<Value>(dynamicMember keyPath: WritableKeyPath<EventFilter, Value>) -> Value {
        get { filter[keyPath: keyPath] }
        set { filter[keyPath: keyPath] = newValue }
    }

    /// The query's parameters, in a stable order (`tag=key=value` once per tag, sorted).
    public var queryItems: [(String, String)] {
        var items: [(String, String?)] = [
            ("from", filter.from?.rfc3339), ("to", filter.to?.rfc3339), ("team", filter.team),
            ("user", filter.user), ("project", filter.project), ("key_id", filter.keyId),
            ("provider", filter.provider?.rawValue), ("model", filter.model), ("limit", String(limit)),
            ("cursor", cursor?.token),
        ]
        for key in filter.tags.keys.sorted() { items.append(("tag", "\(key)=\(filter.tags[key] ?? "")")) }
        return items.compactMap { name, value in value.map { (name, $0) } }
    }

    /// `?from=…&limit=…`, escaped.
    public var queryString: String { QueryString.encode(queryItems) }

    /// Reads a query from its parameters (`key` is accepted for `key_id`, `tag` may repeat and take
    /// `key:value`); a bad value is an `invalid_request` naming the parameter.
    public init(parameters: some Sequence<(String, String)>) throws(MeterrError) {
        self.init()
        for (name, value) in parameters {
            switch name {
            case "from": filter.from = try Self.time(value, name)
            case "to": filter.to = try Self.time(value, name)
            case "team": filter.team = value
            case "user": filter.user = value
            case "project": filter.project = value
            case "key_id": filter.keyId = value
            case "key": filter.keyId = filter.keyId ?? value
            case "model": filter.model = value
            case "provider":
                guard let provider = Provider(rawValue: value) else {
                    throw .invalid("provider", "unknown provider \"\(value)\"")
                }
                filter.provider = provider
            case "tag":
                guard let separator = value.firstIndex(where: { $0 == "=" || $0 == ":" }),
                    separator != value.startIndex
                else { throw .invalid("tag", "must be key=value") }
                filter.tags[String(value[..<separator])] = String(value[value.index(after: separator)...])
            case "limit":
                guard let count = Int(value), (1...Self.maxLimit).contains(count) else {
                    throw .invalid("limit", "must be an integer from 1 to \(Self.maxLimit)")
                }
                limit = count
            case "cursor":
                guard let position = EventCursor(token: value) else { throw .invalid("cursor", "is not a cursor") }
                cursor = position
            default: continue
            }
        }
    }

    private static func time(_ text: String, _ name: String) throws(MeterrError) -> Timestamp {
        guard let value = Timestamp(rfc3339: text) else {
            throw .invalid(name, "must be an RFC 3339 time such as 2026-11-01T00:00:00Z")
        }
        return value
    }
}
