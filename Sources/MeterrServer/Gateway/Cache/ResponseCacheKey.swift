import Crypto
import MeterrCore
import MeterrProviders

/// The response cache's key: the organisation and the canonical request, hashed.
///
/// Everything that can change the answer is in it: the provider and model as resolved (a routed
/// call's first deployment), the API surface and path (Gemini names the model there), the query
/// (Azure's `api-version`), the headers that select behaviour (`anthropic-version`, `anthropic-beta`,
/// `openai-beta`, `x-meterr-wire`), and the whole body with its keys sorted and its numbers normalised. Only members
/// that cannot change the answer are left out: `stream` and `stream_options` (a cached answer is
/// served in either shape), `user` and `metadata` (labels for the provider's records). Keying on the
/// whole body rather than an allow-list means no field is forgotten: a provider extension, a new
/// sampling parameter, a tool's description all make a different key.
struct ResponseCacheKey: Sendable, Hashable {
    /// The SHA-256 of the canonical request, in hex.
    var hex: String
    /// How many answers the call asks for (`n`, Gemini's `candidateCount`).
    var choices: Int
    /// Whether the call asks the provider to store its answer (OpenAI's `store: true`): a side effect a
    /// cached answer would skip.
    var storesUpstream: Bool

    /// Members that never change the answer.
    static let ignored: Set<String> = ["stream", "stream_options", "user", "metadata"]
    /// Request headers that select the provider's behaviour.
    static let keyedHeaders = ["anthropic-version", "anthropic-beta", "openai-beta", MeterrHeader.wire]

    /// The key of a call, or `nil` when its body is not one JSON object.
    /// - Parameters:
    ///   - route: a routed call's virtual model and first deployment, so that a fallback's answer never
    ///     lands under another deployment's key.
    init?(
        org: String, provider: Provider, format: Provider, endpoint: ProviderEndpoint, path: String, query: String?,
        headers: [(name: String, value: String)], body: [UInt8], route: String? = nil
    ) {
        guard let json = try? OrderedJSONParser.parse(body) else { return nil }
        self.init(
            org: org, provider: provider, format: format, endpoint: endpoint, path: path, query: query,
            headers: headers, parsed: json, bodyBytes: body.count, route: route)
    }

    /// The key of a call whose body (`bodyBytes` long) the caller has already parsed (the savings
    /// report's call shape reads the same body for its prompt), or `nil` when it is not a JSON object.
    init?(
        org: String, provider: Provider, format: Provider, endpoint: ProviderEndpoint, path: String, query: String?,
        headers: [(name: String, value: String)], parsed json: OrderedJSON, bodyBytes: Int, route: String? = nil
    ) {
        guard case .object(let members) = json else { return nil }
        var canonical: [UInt8] = []
        canonical.reserveCapacity(bodyBytes + 128)
        func field(_ text: String) {
            canonical.append(contentsOf: text.utf8)
            canonical.append(0)
        }
        field("meterr-cache-v1")
        field(org)
        field(provider.rawValue)
        field(format.rawValue)
        // Gemini's streamed and whole surfaces answer alike: one key for both.
        field(endpoint == .streamGenerateContent ? ProviderEndpoint.generateContent.rawValue : endpoint.rawValue)
        field(
            path.contains(":streamGenerateContent")
                ? path.replacingOccurrences(of: ":streamGenerateContent", with: ":generateContent") : path)
        field(Self.canonicalQuery(query))
        field(route ?? "")
        for name in Self.keyedHeaders {
            field(headers.filter { $0.name.lowercased() == name }.map(\.value).joined(separator: ","))
        }
        Self.write(.object(members.filter { !Self.ignored.contains($0.key) }), into: &canonical)
        hex = SHA256.hash(data: canonical).withUnsafeBytes(Hex.string(raw:))
        choices =
            json["n"]?.int ?? json[path: "generationConfig", "candidateCount"]?.int
            ?? json[path: "generation_config", "candidate_count"]?.int ?? 1
        // The Responses API stores unless told not to.
        storesUpstream =
            json["store"] == .bool(true) || (endpoint == .responses && json["store"] != .bool(false))
    }

    /// The query without the caller's key (`key=`) and Gemini's stream switch (`alt=sse`), sorted.
    static func canonicalQuery(_ query: String?) -> String {
        guard let query, !query.isEmpty else { return "" }
        return query.split(separator: "&").filter { !$0.hasPrefix("key=") && $0 != "alt=sse" }.sorted()
            .joined(separator: "&")
    }

    /// Writes a value with object keys sorted (recursively) and numbers in one spelling (`0.70` and
    /// `0.7`, `1e2` and `100` alike).
    static func write(_ value: OrderedJSON, into out: inout [UInt8]) {
        switch value {
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, member) in members.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) })
                .enumerated()
            {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.appendQuoted(member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                write(member.value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .string(let text):
            JSONWriter.appendQuoted(text, to: &out)
        case .number(let text):
            out.append(contentsOf: canonicalNumber(text).utf8)
        case .bool(let flag):
            out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .null:
            out.append(contentsOf: "null".utf8)
        }
    }

    static func canonicalNumber(_ text: String) -> String {
        if let integer = Int(text) { return String(integer) }
        if let number = Double(text), number.isFinite {
            if number == number.rounded(), abs(number) < 9e15 { return String(Int(number)) }
            return String(number)
        }
        return text
    }
}
