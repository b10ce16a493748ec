import Foundation
import MCP
import MeterrCore
import MeterrSDK

/// meterr's tools for agents: what a prompt will cost, how many tokens it is, what the organisation
/// spent and on what, and how much budget is left. Each tool is one or two `/api` calls made with the
/// agent's meterr key, so it sees its key's organisation and nothing else.
public struct MeterrTools: Sendable {
    /// The meterr the tools ask, with the agent's key.
    public let client: ManagementClient

    /// Tools over this client.
    public init(client: ManagementClient) {
        self.client = client
    }

    /// The tools, as `tools/list` shows them.
    public static let tools: [Tool] = [
        Tool(
            name: "count_tokens",
            description:
                "Count the tokens of a text, chat messages or tool definitions for a model, with the provider's "
                + "own tokenizer where meterr has it (exact for OpenAI and Mistral models) or an estimate.",
            inputSchema: schema(
                required: ["model"],
                [
                    "model": ["type": "string", "description": "A model name, e.g. gpt-4o or claude-sonnet-4-5."],
                    "text": ["type": "string", "description": "Plain text to count."],
                    "messages": ["type": "array", "description": "Chat messages in the OpenAI format."],
                    "tools": ["type": "array", "description": "Tool definitions in the OpenAI format."],
                ]),
            annotations: .init(readOnlyHint: true, openWorldHint: false)),
        Tool(
            name: "estimate_cost",
            description:
                "The exact cost in USD of a call before it is made: give token counts, or text/messages (counted "
                + "with the tokenizer), or a whole provider request body as `request`; max_tokens prices the worst "
                + "case output. Answers meterr's quote with its breakdown.",
            inputSchema: schema(
                required: [],
                [
                    "model": ["type": "string"],
                    "provider": ["type": "string", "enum": Provider.allCases.map(\.rawValue)],
                    "input_tokens": ["type": "integer", "minimum": 0],
                    "output_tokens": ["type": "integer", "minimum": 0],
                    "max_tokens": ["type": "integer", "minimum": 0],
                    "cache_read_tokens": ["type": "integer", "minimum": 0],
                    "text": ["type": "string"],
                    "messages": ["type": "array"],
                    "tools": ["type": "array"],
                    "request": [
                        "type": "object",
                        "description": "A provider request body (model, messages, max_tokens…) to price as sent.",
                    ],
                ]),
            annotations: .init(readOnlyHint: true, openWorldHint: false)),
        Tool(
            name: "spend_summary",
            description:
                "What the organisation spent over a window (default: this month so far), in total and grouped by "
                + "model, provider, team, user, key, project, day or hour: requests, every token kind, cost in USD.",
            inputSchema: schema(
                required: [],
                [
                    "group_by": ["type": "string", "enum": SummaryGrouping.allCases.map(\.rawValue)],
                    "from": ["type": "string", "description": "RFC 3339 start, e.g. 2026-11-01T00:00:00Z."],
                    "to": ["type": "string", "description": "RFC 3339 end (default: now)."],
                ]),
            annotations: .init(readOnlyHint: true, openWorldHint: false)),
        Tool(
            name: "budget_status",
            description:
                "Every budget of the organisation: its limit, what is spent and held this period, the forecast, "
                + "when it resets, and whether it refuses calls (hard).",
            inputSchema: schema(required: [], [:]),
            annotations: .init(readOnlyHint: true, openWorldHint: false)),
        Tool(
            name: "top_spenders",
            description:
                "The biggest spenders over a window (default: this month so far), by team, user, key, project, "
                + "model or provider, with their cost, share of the total and tokens.",
            inputSchema: schema(
                required: [],
                [
                    "by": ["type": "string", "enum": TopSpenders.groupings.map(\.rawValue)],
                    "limit": ["type": "integer", "minimum": 1, "maximum": 100],
                    "from": ["type": "string"],
                    "to": ["type": "string"],
                ]),
            annotations: .init(readOnlyHint: true, openWorldHint: false)),
        Tool(
            name: "price_lookup",
            description:
                "A model's prices from meterr's catalog (USD per million tokens: input, cached input, cache "
                + "writes, output, long-context tiers), found by name, alias or dated snapshot.",
            inputSchema: schema(
                required: ["model"],
                [
                    "model": ["type": "string"],
                    "provider": ["type": "string", "enum": Provider.allCases.map(\.rawValue)],
                ]),
            annotations: .init(readOnlyHint: true, openWorldHint: false)),
        Tool(
            name: "savings_report",
            description:
                "Where the organisation could spend less over a window (default: the last 30 days): repeated prompt "
                + "prefixes the provider is not caching, duplicate calls a response cache would answer, short calls "
                + "on a model with a cheaper sibling, oversized max_tokens, billed failed attempts; each finding with "
                + "its evidence, exact calculation and monthly saving.",
            inputSchema: schema(
                required: [],
                [
                    "from": ["type": "string", "description": "RFC 3339 start, e.g. 2026-11-01T00:00:00Z."],
                    "to": ["type": "string", "description": "RFC 3339 end (default: now)."],
                    "team": ["type": "string"],
                    "route": ["type": "string", "description": "A model or virtual model, e.g. meterr/fast."],
                ]),
            annotations: .init(readOnlyHint: true, openWorldHint: false)),
    ]

    /// The resources, as `resources/list` shows them.
    public static let resources: [Resource] = [
        Resource(
            name: "Price catalog", uri: pricesURI,
            description: "meterr's versioned price catalog (format meterr.prices.v1), with the operator's overlay.",
            mimeType: "application/json")
    ]

    /// The price catalog's resource address.
    public static let pricesURI = "meterr://prices"

    /// Runs one tool. Bad arguments (and meterr refusing them as bad input) throw `MCPError.invalidParams`;
    /// meterr being unreachable or refusing the key is a result marked as an error, which agents show.
    public func call(_ name: String, _ arguments: [String: Value]) async throws -> CallTool.Result {
        let arguments = Arguments(arguments)
        do {
            let json: [UInt8]
            switch name {
            case "count_tokens": json = try await countTokens(arguments)
            case "estimate_cost": json = try await estimateCost(arguments)
            case "spend_summary": json = try await spendSummary(arguments)
            case "budget_status": json = try WireEncoder().encode(BudgetList(budgets: try await client.budgets()))
            case "top_spenders": json = try await topSpenders(arguments)
            case "price_lookup": json = try await priceLookup(arguments)
            case "savings_report":
                json = try WireEncoder().encode(
                    try await client.savings(
                        from: try arguments.time("from"), to: try arguments.time("to"),
                        team: try arguments.string("team"), route: try arguments.string("route")))
            default: throw MCPError.invalidParams("unknown tool \"\(name)\"")
            }
            return CallTool.Result(
                content: [.text(text: String(decoding: json, as: UTF8.self), annotations: nil, _meta: nil)],
                isError: false)
        } catch let error as MeterrError {
            if error.code == .invalidRequest {
                throw MCPError.invalidParams((error.field.map { "\($0): " } ?? "") + error.message)
            }
            return CallTool.Result(
                content: [.text(text: "meterr: \(error.message)", annotations: nil, _meta: nil)], isError: true)
        }
    }

    /// Reads a resource.
    public func read(_ uri: String) async throws -> ReadResource.Result {
        guard uri == Self.pricesURI else { throw MCPError.invalidParams("unknown resource \(uri)") }
        do {
            let catalog = try await client.json("GET", "/api/prices")
            return ReadResource.Result(contents: [
                .text(String(decoding: catalog, as: UTF8.self), uri: uri, mimeType: "application/json")
            ])
        } catch {
            throw MCPError.internalError("meterr: \(error.message)")
        }
    }

    /// Registers the tools and resources on a server.
    public func register(on server: Server) async {
        await server.withMethodHandler(ListTools.self) { _ in ListTools.Result(tools: Self.tools) }
        await server.withMethodHandler(CallTool.self) { params in
            try await self.call(params.name, params.arguments ?? [:])
        }
        await server.withMethodHandler(ListResources.self) { _ in
            ListResources.Result(resources: Self.resources, nextCursor: nil)
        }
        await server.withMethodHandler(ReadResource.self) { params in try await self.read(params.uri) }
    }

    /// A server with meterr's tools and resources, not started yet.
    public func makeServer(version: String = "1") async -> Server {
        let server = Server(
            name: "meterr", version: version,
            instructions:
                "meterr meters what this organisation spends on AI APIs. Ask it what a prompt will cost before "
                + "sending it, how much budget is left, and who or what spends the most.",
            capabilities: .init(
                resources: .init(subscribe: false, listChanged: false), tools: .init(listChanged: false))
        )
        await register(on: server)
        return server
    }

    // MARK: the tools

    private func countTokens(_ arguments: Arguments) async throws -> [UInt8] {
        var body: [String: Value] = ["model": .string(try arguments.string("model", required: true)!)]
        for key in ["text", "messages", "tools"] { if let value = arguments.values[key] { body[key] = value } }
        guard body.count > 1 else { throw MCPError.invalidParams("give text, messages or tools to count") }
        return try WireEncoder().encode(try await client.countTokens(try Arguments.json(.object(body))))
    }

    private func estimateCost(_ arguments: Arguments) async throws -> [UInt8] {
        var body: [String: Value] = [:]
        if let request = arguments.values["request"] {
            guard case .object(let fields) = request else {
                throw MCPError.invalidParams("request: must be a provider request body (an object)")
            }
            for key in ["model", "messages", "tools"] { if let value = fields[key] { body[key] = value } }
            // The request's own output limit, under whichever name its provider uses.
            for key in ["max_tokens", "max_completion_tokens", "max_output_tokens"] {
                if body["max_tokens"] == nil, let value = fields[key] { body["max_tokens"] = value }
            }
        }
        for key in ["model", "provider", "text", "messages", "tools"] {
            if let value = try arguments.string(key) { body[key] = .string(value) }
        }
        for key in ["messages", "tools"] { if let value = arguments.values[key] { body[key] = value } }
        for key in ["input_tokens", "output_tokens", "max_tokens", "cache_read_tokens"] {
            if let count = try arguments.count(key) { body[key] = .int(count) }
        }
        guard body["model"] != nil else { throw MCPError.invalidParams("model: is required (or give a request)") }
        return try await client.json("POST", "/api/cost/estimate", body: try Arguments.json(.object(body)))
    }

    private func spendSummary(_ arguments: Arguments) async throws -> [UInt8] {
        let name = try arguments.string("group_by") ?? "none"
        guard let grouping = SummaryGrouping(rawValue: name) else {
            throw MCPError.invalidParams(
                "group_by: must be one of \(SummaryGrouping.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let summary = try await client.summary(
            groupBy: grouping, from: try arguments.time("from"), to: try arguments.time("to"))
        return try WireEncoder().encode(summary)
    }

    private func topSpenders(_ arguments: Arguments) async throws -> [UInt8] {
        let name = try arguments.string("by") ?? "team"
        guard let grouping = SummaryGrouping(rawValue: name), TopSpenders.groupings.contains(grouping) else {
            throw MCPError.invalidParams(
                "by: must be one of \(TopSpenders.groupings.map(\.rawValue).joined(separator: ", "))")
        }
        let limit = try arguments.count("limit") ?? 5
        guard (1...100).contains(limit) else { throw MCPError.invalidParams("limit: must be from 1 to 100") }
        let summary = try await client.summary(
            groupBy: grouping, from: try arguments.time("from"), to: try arguments.time("to"))
        return try WireEncoder().encode(TopSpenders(summary, limit: limit))
    }

    private func priceLookup(_ arguments: Arguments) async throws -> [UInt8] {
        let model = try arguments.string("model", required: true)!
        let provider = try arguments.string("provider")
        if let provider, Provider(rawValue: provider) == nil {
            throw MCPError.invalidParams("provider: unknown provider \"\(provider)\"")
        }
        let catalog = try await client.json("GET", "/api/prices")
        guard let root = try? JSONSerialization.jsonObject(with: Data(catalog)) as? [String: Any],
            let entries = root["models"] as? [[String: Any]]
        else { throw MeterrError(.internal, "meterr's price catalog could not be read") }
        func matches(_ entry: [String: Any], _ name: String) -> Bool {
            let names = [entry["model"] as? String] + ((entry["aliases"] as? [String]) ?? []).map { $0 }
            return names.contains { $0?.lowercased() == name.lowercased() }
                && (provider == nil || entry["provider"] as? String == provider)
        }
        var found = entries.filter { matches($0, model) }
        if found.isEmpty {
            // The cost engine's own resolution (dated snapshots, prefixes, -latest) names the entry it prices with.
            var body: [String: Value] = ["model": .string(model), "input_tokens": .int(0), "output_tokens": .int(0)]
            if let provider { body["provider"] = .string(provider) }
            let quote = try? await client.json("POST", "/api/cost/estimate", body: try Arguments.json(.object(body)))
            if let quote, let fields = try? JSONSerialization.jsonObject(with: Data(quote)) as? [String: Any],
                let priceId = fields["price_id"] as? String, let slash = priceId.firstIndex(of: "/")
            {
                let resolved = String(priceId[priceId.index(after: slash)...].prefix { $0 != "@" })
                found = entries.filter {
                    matches($0, resolved) && $0["provider"] as? String == String(priceId[..<slash])
                }
            }
        }
        guard !found.isEmpty else {
            throw MCPError.invalidParams("model: meterr's price catalog has no model \"\(model)\"")
        }
        return Array(
            try JSONSerialization.data(
                withJSONObject: ["models": found], options: [.sortedKeys, .withoutEscapingSlashes]))
    }
}

/// The biggest spenders of a summary, with their share of the total.
struct TopSpenders: Encodable {
    struct Row: Encodable {
        var name: String
        var provider: String?
        var costUSD: Money
        var sharePercent: String
        var requests: Int
        var inputTokens: Int
        var outputTokens: Int

        enum CodingKeys: String, CodingKey {
            case name, provider
            case costUSD = "cost_usd"
            case sharePercent = "share_percent"
            case requests
            case inputTokens = "input_tokens"
            case outputTokens = "output_tokens"
        }
    }

    static let groupings: [SummaryGrouping] = [.team, .user, .key, .project, .model, .provider]

    var by: String
    var from: Timestamp
    var to: Timestamp
    var totalCostUSD: Money
    var top: [Row]

    enum CodingKeys: String, CodingKey {
        case by, from, to
        case totalCostUSD = "total_cost_usd"
        case top
    }

    init(_ summary: UsageSummary, limit: Int) {
        by = summary.groupBy.rawValue
        from = summary.from
        to = summary.to
        totalCostUSD = summary.totals.pricedCost
        let total = summary.totals.pricedCost.nanos
        top = summary.groups.sorted { $0.totals.pricedCost > $1.totals.pricedCost }.prefix(limit).map { group in
            // The share in tenths of a percent, rounded half up, from exact nano-dollars.
            let tenths = total > 0 ? (group.totals.pricedCost.nanos * 2000 / total + 1) / 2 : 0
            return Row(
                name: group.value ?? "(unattributed)", provider: group.provider, costUSD: group.totals.pricedCost,
                sharePercent: "\(tenths / 10).\(tenths % 10)", requests: group.totals.requests,
                inputTokens: group.totals.usage.inputTokens, outputTokens: group.totals.usage.outputTokens)
        }
    }
}

/// A tool call's arguments, read with errors that name the argument.
struct Arguments {
    let values: [String: Value]

    init(_ values: [String: Value]) { self.values = values }

    func string(_ key: String, required: Bool = false) throws -> String? {
        guard let value = values[key], value != .null else {
            if required { throw MCPError.invalidParams("\(key): is required") }
            return nil
        }
        guard let text = value.stringValue else { throw MCPError.invalidParams("\(key): must be a string") }
        return text
    }

    func count(_ key: String) throws -> Int? {
        guard let value = values[key], value != .null else { return nil }
        let number: Int? =
            switch value {
            case .int(let count): count
            case .double(let count) where count == count.rounded() && abs(count) < 1e15: Int(count)
            default: nil
            }
        guard let number, number >= 0 else { throw MCPError.invalidParams("\(key): must be a whole number, 0 or more") }
        return number
    }

    func time(_ key: String) throws -> Timestamp? {
        guard let text = try string(key) else { return nil }
        guard let time = Timestamp(rfc3339: text) else {
            throw MCPError.invalidParams("\(key): must be an RFC 3339 time such as 2026-11-01T00:00:00Z")
        }
        return time
    }

    static func json(_ value: Value) throws -> [UInt8] { Array(try JSONEncoder().encode(value)) }
}

/// A JSON Schema object with these properties.
private func schema(required: [String], _ properties: [String: [String: Any]]) -> Value {
    func value(_ any: Any) -> Value {
        switch any {
        case let text as String: .string(text)
        case let number as Int: .int(number)
        case let list as [String]: .array(list.map(Value.string))
        default: .null
        }
    }
    let fields = properties.mapValues { property in Value.object(property.mapValues(value)) }
    return .object([
        "type": "object", "properties": .object(fields), "required": .array(required.map(Value.string)),
        "additionalProperties": false,
    ])
}
