import Foundation
import MeterrCore

/// Typed calls to meterr's management API (`/api/…`): usage events and summaries, budgets' status,
/// alerts, keys, and direct event submission for tools.
///
/// Every failure is a `MeterrError`: meterr's own code and message for an answered error
/// (`unauthenticated`, `forbidden`, `invalid_request`, …), `unavailable` when meterr could not be
/// reached.
public struct ManagementClient: Sendable {
    /// The meterr called, and the key presented (`read` for reads, `admin` for keys).
    public let connection: MeterrConnection
    /// How long one call may take.
    public var timeout: Duration
    private let transport: any HTTPTransport

    /// Creates a client.
    public init(
        connection: MeterrConnection, transport: any HTTPTransport = AsyncHTTPClientTransport(),
        timeout: Duration = .seconds(30)
    ) {
        self.connection = connection
        self.transport = transport
        self.timeout = timeout
    }

    // MARK: usage

    /// Stores events at once (`POST /api/usage/events`, up to 1,000), answering only when they are
    /// committed. Apps report through a `Reporter` instead, which batches and retries.
    public func submit(_ events: [UsageEvent]) async throws(MeterrError) -> IngestResult {
        var body: [UInt8] = [UInt8(ascii: "[")]
        for (index, event) in events.enumerated() {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            body.append(contentsOf: event.jsonLine)
        }
        body.append(UInt8(ascii: "]"))
        return try await call("POST", "/api/usage/events", body: body)
    }

    /// One page of usage events, newest first (`GET /api/usage/events`).
    public func events(_ query: EventQuery = EventQuery()) async throws(MeterrError) -> EventPage {
        try await call("GET", "/api/usage/events" + query.queryString)
    }

    /// Totals of requests, tokens and cost, per group and overall (`GET /api/usage/summary`).
    /// - Parameters:
    ///   - from: default: the start of this month in the organisation's time zone.
    ///   - to: default: now.
    public func summary(groupBy: SummaryGrouping = .none, from: Timestamp? = nil, to: Timestamp? = nil)
        async throws(MeterrError) -> UsageSummary
    {
        var items = [("group_by", groupBy.rawValue)]
        if let from { items.append(("from", from.rfc3339)) }
        if let to { items.append(("to", to.rfc3339)) }
        return try await call("GET", "/api/usage/summary" + QueryString.encode(items))
    }

    /// A calendar month's chargeback statement (`GET /api/statements/{month}`): line items per team,
    /// project, provider and model, with totals equal to the ledger's.
    /// - Parameters:
    ///   - month: `2026-11`.
    ///   - team: one team's statement; `nil` for the organisation's.
    public func statement(month: String, team: String? = nil) async throws(MeterrError) -> UsageStatement {
        try await call("GET", Self.statementPath(month: month, team: team, csv: false))
    }

    /// The same statement as CSV text, ready for a spreadsheet or an invoicing system.
    public func statementCSV(month: String, team: String? = nil) async throws(MeterrError) -> String {
        String(
            decoding: try await send("GET", Self.statementPath(month: month, team: team, csv: true)).body, as: UTF8.self
        )
    }

    static func statementPath(month: String, team: String?, csv: Bool) -> String {
        var items: [(String, String)] = []
        if let team { items.append(("team", team)) }
        if csv { items.append(("format", "csv")) }
        return "/api/statements/\(QueryString.escape(month))" + QueryString.encode(items)
    }

    /// The savings report (`GET /api/optimize`): where the organisation could spend less over a window
    /// (the last 30 days by default), for the organisation, one team or one model or virtual model.
    public func savings(
        from: Timestamp? = nil, to: Timestamp? = nil, team: String? = nil, route: String? = nil
    ) async throws(MeterrError) -> SavingsReport {
        try await call("GET", Self.savingsPath(from: from, to: to, team: team, route: route))
    }

    /// The report's path and query.
    public static func savingsPath(from: Timestamp?, to: Timestamp?, team: String?, route: String?) -> String {
        var items: [(String, String)] = []
        if let from { items.append(("from", from.rfc3339)) }
        if let to { items.append(("to", to.rfc3339)) }
        if let team { items.append(("team", team)) }
        if let route { items.append(("route", route)) }
        return "/api/optimize" + QueryString.encode(items)
    }

    // MARK: budgets and alerts

    /// Every budget of the organisation with its spend this period and the forecast (`GET /api/budgets`).
    public func budgets() async throws(MeterrError) -> [BudgetStatus] {
        let list: BudgetList = try await call("GET", "/api/budgets")
        return list.budgets
    }

    /// Creates a budget; it counts and, when hard, refuses calls at once (`POST /api/budgets`, admin scope).
    public func createBudget(_ request: NewBudget) async throws(MeterrError) -> BudgetStatus {
        try await call("POST", "/api/budgets", body: try encode(request, "budget"))
    }

    /// Deletes a budget (`DELETE /api/budgets/{id}`, admin scope).
    public func deleteBudget(id: String) async throws(MeterrError) {
        try await send("DELETE", "/api/budgets/\(QueryString.escape(id))")
    }

    /// The organisation's alert webhooks, without their secrets (`GET /api/webhooks`, admin scope).
    public func webhooks() async throws(MeterrError) -> [WebhookInfo] {
        let list: WebhookList = try await call("GET", "/api/webhooks")
        return list.webhooks
    }

    /// Adds a webhook; its signing secret is in the answer, and only there (`POST /api/webhooks`).
    public func createWebhook(_ request: NewWebhook) async throws(MeterrError) -> WebhookInfo {
        try await call("POST", "/api/webhooks", body: try encode(request, "webhook"))
    }

    /// Removes a webhook (`DELETE /api/webhooks/{id}`).
    public func deleteWebhook(id: String) async throws(MeterrError) {
        try await send("DELETE", "/api/webhooks/\(QueryString.escape(id))")
    }

    /// The alert log, newest first (`GET /api/alerts`).
    public func alerts(unacknowledgedOnly: Bool = false, limit: Int = 100) async throws(MeterrError) -> [Alert] {
        var items = [("limit", String(limit))]
        if unacknowledgedOnly { items.append(("unacknowledged", "true")) }
        let list: AlertList = try await call("GET", "/api/alerts" + QueryString.encode(items))
        return list.alerts
    }

    /// Marks an alert as seen (`POST /api/alerts/{id}/acknowledge`).
    public func acknowledgeAlert(id: String) async throws(MeterrError) {
        try await send("POST", "/api/alerts/\(QueryString.escape(id))/acknowledge")
    }

    // MARK: keys

    /// The organisation's keys, without their secrets (`GET /api/keys`, admin scope).
    public func keys() async throws(MeterrError) -> [KeyInfo] {
        let list: KeyList = try await call("GET", "/api/keys")
        return list.keys
    }

    /// Creates a key; its secret is in the answer, and only there (`POST /api/keys`, admin scope).
    public func createKey(_ request: NewKey) async throws(MeterrError) -> KeyInfo {
        let body: [UInt8]
        do {
            body = try WireEncoder().encode(request)
        } catch {
            throw MeterrError(.internal, "the key request could not be encoded")
        }
        return try await call("POST", "/api/keys", body: body)
    }

    /// Replaces a key's secret; the old one keeps working for `graceSeconds` (`POST /api/keys/{id}/rotate`).
    public func rotateKey(id: String, graceSeconds: Int = 86_400) async throws(MeterrError) -> KeyInfo {
        try await call(
            "POST", "/api/keys/\(QueryString.escape(id))/rotate",
            body: Array(#"{"grace_seconds":\#(graceSeconds)}"#.utf8))
    }

    /// Revokes a key at once (`DELETE /api/keys/{id}`).
    public func revokeKey(id: String) async throws(MeterrError) {
        try await send("DELETE", "/api/keys/\(QueryString.escape(id))")
    }

    // MARK: tokens, prices and raw calls

    /// Counts the tokens of text, messages or tools for a model (`POST /api/tokens/count`).
    /// - Parameter request: the body, e.g. `{"model": "gpt-4o", "text": "…"}` or with `messages`.
    public func countTokens(_ request: [UInt8]) async throws(MeterrError) -> TokenCountResult {
        try await call("POST", "/api/tokens/count", body: request)
    }

    /// The JSON text meterr answers to a call this client has no typed method for (the cost
    /// estimate, the price catalog): `{"model": …, "input_tokens": …}` to `POST /api/cost/estimate`,
    /// say. Errors are `MeterrError`s as everywhere else.
    public func json(_ method: String, _ path: String, body: [UInt8] = []) async throws(MeterrError) -> [UInt8] {
        try await send(method, path, body: body).body
    }

    // MARK: plumbing

    private func encode(_ request: some Encodable, _ what: String) throws(MeterrError) -> [UInt8] {
        do {
            return try WireEncoder().encode(request)
        } catch {
            throw MeterrError(.internal, "the \(what) request could not be encoded")
        }
    }

    private func call<Answer: Decodable>(_ method: String, _ path: String, body: [UInt8] = [])
        async throws(MeterrError) -> Answer
    {
        let response = try await send(method, path, body: body)
        do {
            return try JSONDecoder().decode(Answer.self, from: Data(response.body))
        } catch {
            throw MeterrError(.internal, "meterr's answer to \(method) \(path) could not be read", underlying: error)
        }
    }

    @discardableResult
    private func send(_ method: String, _ path: String, body: [UInt8] = []) async throws(MeterrError)
        -> TransportResponse
    {
        let request = TransportRequest(
            method: method, url: connection.baseURL + path, headers: connection.headers, body: body)
        let response: TransportResponse
        do {
            response = try await transport.send(request, timeout: timeout)
        } catch {
            throw MeterrError(.unavailable, "meterr could not be reached at \(connection.baseURL)", underlying: error)
        }
        guard (200..<300).contains(response.status) else { throw Self.error(from: response) }
        return response
    }

    /// meterr's JSON error (`{"error":{"code","message","field"}}`) as a `MeterrError`.
    static func error(from response: TransportResponse) -> MeterrError {
        guard let body = try? JSONDecoder().decode(APIErrorBody.self, from: Data(response.body)) else {
            return MeterrError(
                response.status >= 500 ? .unavailable : .invalidRequest, "meterr answered \(response.status)")
        }
        return MeterrError(.init(rawValue: body.error.code), body.error.message, field: body.error.field)
    }
}
