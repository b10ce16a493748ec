import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import Testing
import Yams

@testable import MeterrServer

/// The `/api` contract is written once, as the `Codable` types in `MeterrCore/API`: the server
/// encodes them, the SDK decodes the same types, and these tests hold the OpenAPI document to them.
@Suite("The wire contract")
struct WireContractTests {
    static let moment = Timestamp(rfc3339: "2026-12-15T12:00:00Z")!
    static let totals = UsageTotals(
        requests: 3,
        usage: Usage(
            inputTokens: 1000, cacheReadTokens: 400, cacheWriteTokens: 10, cacheWrite1hTokens: 5, outputTokens: 200,
            reasoningTokens: 50),
        pricedCost: Money(decimalString: "0.004000000")!, unpricedRequests: 1, unpricedTokens: 120)
    static let sampleEvent = UsageEvent(
        id: "evt_1", ts: moment, org: "org_1", team: "ml", user: "ana", project: "search", keyId: "key_1",
        tags: ["env": "prod"], provider: .openai, model: "gpt-4o-2024-08-06", modelRequested: "gpt-4o",
        endpoint: "chat", usage: totals.usage, cost: Money(decimalString: "0.001000000"), priceId: "openai/gpt-4o",
        usageSource: .reported, stream: true, status: 200, latencyMs: 900, ttftMs: 120, requestId: "req_1",
        upstreamRequestId: "chatcmpl-1", route: "/openai/v1/chat/completions")

    /// Every response type with every field set, and the documented operation that answers it.
    static let samples: [(operation: String, status: String, value: any WireSample)] = [
        ("POST /api/usage/events", "200", IngestResult(received: 3, inserted: 2, duplicates: 1)),
        ("GET /api/usage/events", "200", EventPage(events: [sampleEvent], nextCursor: EventCursor(ts: 1, sequence: 2))),
        ("GET /api/usage/events", "200", EventPage(events: [], nextCursor: nil)),
        (
            "GET /api/usage/summary", "200",
            UsageSummary(
                from: moment, to: moment, groupBy: .model,
                groups: [SummaryGroup(value: "gpt-4o", provider: "openai", totals: totals)], totals: totals)
        ),
        (
            "GET /api/usage/summary", "200",
            UsageSummary(
                from: moment, to: moment, groupBy: .key, groups: [SummaryGroup(value: nil, totals: totals)],
                totals: UsageTotals(requests: 1, unpricedRequests: 1))
        ),
        ("GET /api/budgets", "200", BudgetList(budgets: [budget])),
        ("POST /api/budgets", "201", budget),
        ("PATCH /api/budgets/{id}", "200", budget),
        (
            "GET /api/budgets/{id}/history", "200",
            BudgetHistory(
                budgetId: "bud_1",
                periods: [
                    .init(
                        period: "rolling", windowHours: 24, start: moment, end: moment, limit: Money(nanos: 5),
                        spent: Money(nanos: 6), percentUsed: 120, exceeded: true, reason: "period_end")
                ])
        ),
        (
            "GET /api/alerts", "200",
            AlertList(alerts: [
                Alert(
                    id: "alr_1", kind: "budget.threshold", subject: "bud_1", severity: "warning", message: "80%",
                    createdAt: moment, acknowledgedAt: moment, acknowledgedBy: "key_1")
            ])
        ),
        ("GET /api/keys", "200", KeyList(keys: [key(secret: nil)])),
        ("POST /api/keys", "201", key(secret: "mk_secret")),
        ("POST /api/keys/{id}/rotate", "201", key(secret: "mk_secret")),
        ("GET /api/orgs", "200", OrganisationList(orgs: [Organisation(id: "org_1", name: "Acme")])),
        ("POST /api/orgs", "201", CreatedOrganisation(id: "org_2", name: "Beta", adminKey: "mk_admin")),
        ("PUT /api/orgs/{id}/tier", "200", OrganisationTier(id: "org_1", tier: "pro")),
        ("GET /api/teams", "200", TeamList(teams: [Team(id: "team_1", name: "ml", createdAt: moment)])),
        ("POST /api/teams", "201", Team(id: "team_1", name: "ml", createdAt: moment)),
        (
            "GET /api/projects", "200",
            ProjectList(projects: [Project(id: "proj_1", name: "search", team: "ml", createdAt: moment)])
        ),
        ("POST /api/projects", "201", Project(id: "proj_1", name: "search", team: nil, createdAt: moment)),
        (
            "GET /api/audit", "200",
            AuditLog(entries: [
                AuditEntry(at: moment, actor: "key_1", action: "key.create", target: "key_2", detail: "name=ci")
            ])
        ),
        (
            "GET /api/credentials", "200",
            CredentialList(credentials: [
                Credential(
                    provider: .anthropic, team: "ml", key: "sk-…x7Qa", baseURL: "https://llm.example.com",
                    updatedAt: moment)
            ])
        ),
        (
            "PUT /api/credentials/{provider}", "200",
            Credential(provider: .openai, team: nil, key: "sk-…x7Qa", baseURL: nil, updatedAt: moment)
        ),
        ("GET /api/users", "200", UserList(users: [person])),
        ("POST /api/users", "201", person),
        ("PUT /api/users/{id}/role", "200", person),
        (
            "GET /api/webhooks", "200",
            WebhookList(webhooks: [
                WebhookInfo(id: "whk_1", url: "https://h.example", format: "json", createdAt: moment)
            ])
        ),
        (
            "POST /api/webhooks", "201",
            WebhookInfo(id: "whk_1", url: "https://h.example", format: "slack", secret: "whsec_1", createdAt: moment)
        ),
        (
            "GET /api/anomalies/baselines", "200",
            BaselineList(entities: [
                EntityBaseline(
                    entity: "team:ml", hoursObserved: 30, warmedUp: true, hour: moment, cost: Money(nanos: 9),
                    baselineCost: Money(nanos: 4), baselineCostDeviation: Money(nanos: 1), tokens: 900,
                    baselineTokens: 400, requests: 9, baselineRequests: 4, rateLimited: false)
            ])
        ),
        ("GET /api/anomalies/blocks", "200", AnomalyBlockList(blocks: [block])),
        ("POST /api/anomalies/blocks/{id}/lift", "200", block),
        ("POST /api/tokens/count", "200", TokenCountResult(tokens: 12, exact: true, encoding: "o200k_base")),
        ("POST /api/tokens/count", "200", TokenCountResult(tokens: 12, exact: false, encoding: nil)),
        ("GET /api/prices/unpriced", "200", UnpricedCalls(unpricedCalls: 3, models: ["my-model": 3])),
        (
            "GET /api/statements/{month}", "200",
            UsageStatement(
                org: "org_1", team: "ml", month: "2026-12", from: moment, to: moment, currency: "USD",
                lines: [
                    UsageStatementLine(team: "ml", project: nil, provider: "openai", model: "gpt-4o", totals: totals)
                ], totals: totals, ledgerTotals: totals, complete: true, generatedAt: moment)
        ),
        (
            "GET /api/routes", "200",
            RouteList(
                routes: [
                    VirtualModelInfo(
                        name: "fast", policy: "cheapest",
                        deployments: [
                            DeploymentInfo(
                                id: "openai/gpt-4.1-mini@eu", provider: "openai", model: "gpt-4.1-mini", weight: 1,
                                priority: 0, region: "eu", surface: "native")
                        ], source: "config")
                ], autoTiers: ["simple": "fast"])
        ),
        (
            "POST /api/route/explain", "200",
            RouteExplanation(
                requested: "meterr/auto", route: "fast", policy: "cheapest", tier: "simple", complexityScore: 0.1,
                signals: ["tools"], inputTokens: 12,
                candidates: [
                    RouteCandidateInfo(
                        deployment: "openai/gpt-4.1-mini", eligible: false, excluded: "takes no images",
                        expectedCostUSD: Money(nanos: 5), expectedOutputTokens: 256, ttftMs: 300, inFlight: 1)
                ], chosen: "openai/gpt-4.1-mini")
        ),
        (
            "GET /api/routes/health", "200",
            RouteHealth(deployments: [
                DeploymentHealthInfo(
                    id: "openai/gpt-4.1-mini", state: "open", openUntil: moment, consecutiveFailures: 3,
                    lastFailure: "rate_limited", lastFailureAt: moment, calls: 9, failures: 3, inFlight: 0, ttftMs: 250,
                    lacks: ["tools"])
            ])
        ),
    ]

    static let person = User(
        id: "usr_1", email: "ana@example.com", name: "Ana", role: "admin", team: "ml", canSignIn: true,
        createdAt: moment)
    static let block = AnomalyBlockInfo(
        id: "blk_1", entity: "key:key_1", level: "block", reason: "spend 10x", status: "lifted", createdAt: moment,
        until: moment, liftedAt: moment, liftedBy: "key_1")

    static let budget = BudgetStatus(
        id: "bud_1", name: "ML", scope: "team", value: "ml", period: "rolling", windowHours: 24, timeZone: "UTC",
        limit: Money(decimalString: "250")!, hard: true, thresholds: [50, 80, 100], spent: Money(nanos: 1),
        reserved: Money(nanos: 2), percentUsed: 0, projected: Money(nanos: 3), projectedToExceedAt: moment,
        periodStart: moment, resetsAt: moment, unpricedRequests: 1, unpricedTokens: 7)

    static func key(secret: String?) -> KeyInfo {
        KeyInfo(
            id: "key_1", name: "ci", key: secret, prefix: "mk_ab…", scopes: ["gateway", "read"], team: "ml",
            user: "ana", project: "search", tier: "pro", rpm: 60, tpm: 1000, status: "active", createdAt: moment,
            expiresAt: moment, lastUsedAt: moment, revokedAt: moment)
    }

    @Test("Every response type encodes to exactly what the OpenAPI document describes, and decodes back unchanged")
    func samplesMatchTheDocument() throws {
        let document = try OpenAPIDocument()
        for (operation, status, value) in Self.samples {
            let schema = try #require(document.responseSchema(operation, status), "\(operation) \(status) has a schema")
            let bytes = Data(try WireEncoder().encode(value))
            let json = try JSONSerialization.jsonObject(with: bytes, options: [.fragmentsAllowed])
            let problems = document.check(json, against: schema, at: operation)
            #expect(problems.isEmpty, "\(operation): \(problems.joined(separator: "; "))")
            #expect(try value.decodesBack(from: bytes), "\(operation): the SDK reads back what the server wrote")
        }
    }

    @Test("What the running server answers matches the document too")
    func liveAnswersMatchTheDocument() async throws {
        try await withApp { client in
            let document = try OpenAPIDocument()
            var answers: [(String, String, TestResponse)] = []
            answers.append(
                ("POST /api/usage/events", "200", try await client.post("/api/usage/events", event("live-1"))))
            _ = try await client.post("/api/usage/events", event("live-2", model: "no-such-model", cost: nil))
            answers.append(("GET /api/usage/events", "200", try await client.get("/api/usage/events?limit=1")))
            for grouping in SummaryGrouping.allCases {
                answers.append(
                    (
                        "GET /api/usage/summary", "200",
                        try await client.get(
                            "/api/usage/summary?group_by=\(grouping.rawValue)&from=2026-11-01T00:00:00Z")
                    ))
            }
            answers.append(("POST /api/teams", "201", try await client.post("/api/teams", #"{"name":"ml"}"#)))
            answers.append(
                ("POST /api/projects", "201", try await client.post("/api/projects", #"{"name":"s","team":"ml"}"#)))
            answers.append(("GET /api/teams", "200", try await client.get("/api/teams")))
            answers.append(("GET /api/projects", "200", try await client.get("/api/projects")))
            let created = try await client.post("/api/keys", #"{"name":"ci","scopes":["read"],"rpm":5}"#)
            answers.append(("POST /api/keys", "201", created))
            answers.append(("GET /api/keys", "200", try await client.get("/api/keys")))
            let budget = try await client.post(
                "/api/budgets", #"{"name":"b","scope":"team","value":"ml","limit_usd":"1.5","hard":true}"#)
            answers.append(("POST /api/budgets", "201", budget))
            answers.append(("GET /api/budgets", "200", try await client.get("/api/budgets")))
            let budgetId = try #require(budget.json["id"] as? String)
            answers.append(
                ("GET /api/budgets/{id}/history", "200", try await client.get("/api/budgets/\(budgetId)/history")))
            answers.append(("GET /api/alerts", "200", try await client.get("/api/alerts")))
            answers.append(("GET /api/orgs", "200", try await client.get("/api/orgs")))
            answers.append(("GET /api/audit", "200", try await client.get("/api/audit")))
            answers.append(
                (
                    "PUT /api/credentials/{provider}", "200",
                    try await client.execute(
                        uri: "/api/credentials/openai", method: .put,
                        headers: [.authorization: "Bearer \(adminKey)", .contentType: "application/json"],
                        body: ByteBuffer(string: #"{"key":"sk-live-0000000000001","team":"ml"}"#))
                ))
            answers.append(("GET /api/credentials", "200", try await client.get("/api/credentials")))
            answers.append(
                ("POST /api/users", "201", try await client.post("/api/users", #"{"email":"a@example.com"}"#)))
            answers.append(("GET /api/users", "200", try await client.get("/api/users")))
            answers.append(
                (
                    "POST /api/webhooks", "201",
                    try await client.post("/api/webhooks", #"{"url":"https://93.184.216.34/hook"}"#)
                ))
            answers.append(("GET /api/webhooks", "200", try await client.get("/api/webhooks")))
            answers.append(("GET /api/anomalies/baselines", "200", try await client.get("/api/anomalies/baselines")))
            answers.append(("GET /api/anomalies/blocks", "200", try await client.get("/api/anomalies/blocks")))
            answers.append(
                (
                    "POST /api/tokens/count", "200",
                    try await client.post("/api/tokens/count", #"{"model":"gpt-4o","text":"hi"}"#)
                ))
            answers.append(("GET /api/prices/unpriced", "200", try await client.get("/api/prices/unpriced")))
            for (operation, status, response) in answers {
                #expect("\(response.status.code)" == status, "\(operation): \(String(buffer: response.body))")
                let schema = try #require(document.responseSchema(operation, status))
                let json = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))
                let problems = document.check(json, against: schema, at: operation)
                #expect(problems.isEmpty, "\(operation): \(problems.joined(separator: "; "))")
            }
        }
    }

    @Test("The usage event's fast writer (SDK batches, exports, API pages) and its Codable form say the same")
    func usageEventWritersAgree() throws {
        let plain = UsageEvent(id: "e", ts: Self.moment, org: "o", provider: .cohere, model: "m", usage: Usage())
        var escaped = Self.sampleEvent
        escaped.tags = ["z": "last", "a": "first \"quoted\" / ü", "m": "\n"]
        for event in [Self.sampleEvent, plain, escaped] {
            // The wire encoder writes events with the fast writer: its Codable form, read back, must
            // say the same.
            let codable = try JSONSerialization.jsonObject(with: JSONEncoder().encode(event)) as? NSDictionary
            let fast = try JSONSerialization.jsonObject(with: Data(event.jsonLine)) as? NSDictionary
            #expect(codable != nil && codable == fast)
            #expect(try WireEncoder().encode(event) == event.jsonLine)
            #expect(
                try WireEncoder().encode([event, plain]) == Array("[".utf8) + event.jsonLine + Array(",".utf8)
                    + plain.jsonLine + Array("]".utf8))
        }
    }

    @Test("The budget status's fast writer (pages of budgets) and its Codable form write the same bytes")
    func budgetStatusWritersAgree() throws {
        /// Encodes a status through its own `encode(to:)`, which the wire encoder no longer calls for it.
        struct ViaCodable: Encodable {
            let status: BudgetStatus
            func encode(to encoder: any Encoder) throws { try status.encode(to: encoder) }
        }
        var bare = Self.budget
        (bare.value, bare.windowHours, bare.projected, bare.projectedToExceedAt) = (nil, nil, nil, nil)
        (bare.thresholds, bare.hard, bare.spent) = ([], false, Money(nanos: -1_500_000_000))
        var escaped = Self.budget
        escaped.name = "Ana's \"team\" / ü \n\t\u{1}"
        escaped.value = "env=prod"
        escaped.periodStart = Timestamp(milliseconds: -1)
        func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
        for status in [Self.budget, bare, escaped] {
            #expect(text(status.jsonObject) == text(try WireEncoder().encode(ViaCodable(status: status))))
            #expect(try WireEncoder().encode(status) == status.jsonObject)
            #expect(try JSONDecoder().decode(BudgetStatus.self, from: Data(status.jsonObject)) == status)
            #expect(
                try WireEncoder().encode(BudgetList(budgets: [status, bare]))
                    == Array(#"{"budgets":["#.utf8) + status.jsonObject + Array(",".utf8) + bare.jsonObject
                    + Array("]}".utf8))
        }
    }

    @Test("Answers keep the contract's member order, null for absent values, and sorted tags")
    func wireEncoderOrder() throws {
        let text = String(decoding: try WireEncoder().encode(Self.budget), as: UTF8.self)
        #expect(text.hasPrefix(#"{"id":"bud_1","name":"ML","scope":"team","value":"ml","period":"rolling""#))
        let alert = Alert(id: "a", kind: "k", subject: nil, severity: "info", message: "m", createdAt: Self.moment)
        #expect(
            String(decoding: try WireEncoder().encode(alert), as: UTF8.self)
                == #"{"id":"a","kind":"k","subject":null,"severity":"info","message":"m","#
                + #""created_at":"2026-12-15T12:00:00.000Z","acknowledged_at":null,"acknowledged_by":null}"#)
        #expect(throws: EncodingError.self) { try WireEncoder().encode([Double.nan]) }
    }

    @Test("A bad document fails the check: an undocumented member, a missing one, a wrong type")
    func theCheckCanFail() throws {
        let document = try OpenAPIDocument()
        let schema = try #require(document.responseSchema("POST /api/usage/events", "200"))
        #expect(document.check(["received": 1, "inserted": 1, "duplicates": 0], against: schema, at: "ok").isEmpty)
        #expect(!document.check(["received": 1, "inserted": 1], against: schema, at: "missing").isEmpty)
        #expect(
            !document.check(["received": 1, "inserted": 1, "duplicates": 0, "x": 1], against: schema, at: "extra")
                .isEmpty)
        #expect(
            !document.check(["received": "1", "inserted": 1, "duplicates": 0], against: schema, at: "type").isEmpty)
    }

    @Test("The events query string the SDK writes is the query the server reads")
    func eventQueryRoundTrips() throws {
        let query = EventQuery(
            from: Self.moment, to: Self.moment, team: "ml & co", user: "ana", project: "p", keyId: "key_1",
            provider: .anthropic, model: "claude", tags: ["env": "prod", "app": "a=b"], limit: 7,
            cursor: EventCursor(ts: 5, sequence: 6))
        #expect(try EventQuery(parameters: query.queryItems) == query)
        #expect(query.team == "ml & co", "the filter's fields read as the query's own")
        let error = #expect(throws: MeterrError.self) { try EventQuery(parameters: [("limit", "0")]) }
        #expect(error?.field == "limit")
    }
}

/// A response type: encodable for the server, and decodable back to an equal value for the SDK.
protocol WireSample: Encodable, Sendable {
    func decodesBack(from bytes: Data) throws -> Bool
}

extension WireSample where Self: Decodable & Equatable {
    func decodesBack(from bytes: Data) throws -> Bool { try JSONDecoder().decode(Self.self, from: bytes) == self }
}

extension IngestResult: WireSample {}
extension RouteList: WireSample {}
extension UsageStatement: WireSample {}
extension RouteExplanation: WireSample {}
extension RouteHealth: WireSample {}
extension EventPage: WireSample {}
extension UsageSummary: WireSample {}
extension BudgetList: WireSample {}
extension BudgetStatus: WireSample {}
extension BudgetHistory: WireSample {}
extension AlertList: WireSample {}
extension KeyList: WireSample {}
extension KeyInfo: WireSample {}
extension OrganisationList: WireSample {}
extension CreatedOrganisation: WireSample {}
extension OrganisationTier: WireSample {}
extension TeamList: WireSample {}
extension Team: WireSample {}
extension ProjectList: WireSample {}
extension Project: WireSample {}
extension AuditLog: WireSample {}
extension CredentialList: WireSample {}
extension Credential: WireSample {}
extension UserList: WireSample {}
extension User: WireSample {}
extension WebhookList: WireSample {}
extension WebhookInfo: WireSample {}
extension BaselineList: WireSample {}
extension AnomalyBlockList: WireSample {}
extension AnomalyBlockInfo: WireSample {}
extension TokenCountResult: WireSample {}
extension UnpricedCalls: WireSample {}

/// The served OpenAPI document, and a strict check of JSON against its schemas: every member the
/// JSON has is documented, every required one is there, and every value has a documented type.
struct OpenAPIDocument {
    let root: [String: Any]

    init() throws {
        let text = try #require(OpenAPIRoute.document)
        root = try #require(try Yams.load(yaml: text) as? [String: Any])
    }

    /// The schema of an operation's answer (`"GET /api/keys"`, `"200"`).
    func responseSchema(_ operation: String, _ status: String) -> [String: Any]? {
        let parts = operation.split(separator: " ", maxSplits: 1).map(String.init)
        let paths = root["paths"] as? [String: Any]
        let item = paths?[parts[1]] as? [String: Any]
        let method = item?[parts[0].lowercased()] as? [String: Any]
        let responses = method?["responses"] as? [String: Any]
        let response = responses?[status] as? [String: Any]
        let content = response?["content"] as? [String: Any]
        let json = content?["application/json"] as? [String: Any]
        return json?["schema"] as? [String: Any]
    }

    func resolve(_ schema: [String: Any]) -> [String: Any] {
        guard let reference = schema["$ref"] as? String else { return schema }
        var node: Any? = root
        for part in reference.dropFirst(2).split(separator: "/") { node = (node as? [String: Any])?[String(part)] }
        return resolve(node as? [String: Any] ?? [:])
    }

    /// The problems of `value` against `schema`, each with its JSON path.
    func check(_ value: Any, against given: [String: Any], at path: String) -> [String] {
        let schema = resolve(given)
        if let parts = schema["allOf"] as? [[String: Any]] {
            // The parts' members together make up the object.
            var merged: [String: Any] = ["type": "object"]
            var properties: [String: Any] = [:]
            var required: [String] = []
            for part in parts.map(resolve) {
                properties.merge(part["properties"] as? [String: Any] ?? [:]) { $1 }
                required += part["required"] as? [String] ?? []
                if let extra = part["additionalProperties"] { merged["additionalProperties"] = extra }
            }
            merged["properties"] = properties
            merged["required"] = required
            return check(value, against: merged, at: path)
        }
        var problems: [String] = []
        let types: [String] = (schema["type"] as? [String]) ?? (schema["type"] as? String).map { [$0] } ?? []
        if !types.isEmpty, !types.contains(where: { Self.matches(value, type: $0) }) {
            return ["\(path): \(value) is not \(types.joined(separator: " or "))"]
        }
        if let allowed = schema["enum"] as? [Any], !(value is NSNull) {
            if !allowed.contains(where: { "\($0)" == "\(value)" }) {
                problems.append("\(path): \(value) is not listed")
            }
        }
        if let pattern = schema["pattern"] as? String, let text = value as? String,
            text.range(of: pattern, options: .regularExpression) == nil
        {
            problems.append("\(path): \(text) does not match \(pattern)")
        }
        if let object = value as? [String: Any], let properties = schema["properties"] as? [String: Any] {
            for name in schema["required"] as? [String] ?? [] where object[name] == nil {
                problems.append("\(path).\(name) is required but missing")
            }
            for (name, member) in object {
                if let property = properties[name] as? [String: Any] {
                    problems += check(member, against: property, at: "\(path).\(name)")
                } else if let extra = schema["additionalProperties"] as? [String: Any] {
                    problems += check(member, against: extra, at: "\(path).\(name)")
                } else {
                    problems.append("\(path).\(name) is not documented")
                }
            }
        }
        if let array = value as? [Any], let items = schema["items"] as? [String: Any] {
            for (index, member) in array.enumerated() {
                problems += check(member, against: items, at: "\(path)[\(index)]")
            }
        }
        return problems
    }

    static func matches(_ value: Any, type: String) -> Bool {
        switch type {
        case "null": return value is NSNull
        case "string": return value is String
        case "object": return value is [String: Any]
        case "array": return value is [Any]
        case "boolean": return (value as? NSNumber).map(Self.isBoolean) ?? false
        case "integer":
            guard let number = value as? NSNumber, !isBoolean(number) else { return false }
            return number.doubleValue == number.doubleValue.rounded()
        case "number": return (value as? NSNumber).map { !isBoolean($0) } ?? false
        default: return false
        }
    }

    /// JSON's `true` and `false` come back as Foundation's boolean number class, on Linux as on Darwin.
    static func isBoolean(_ number: NSNumber) -> Bool { String(describing: type(of: number)).contains("Boolean") }
}
