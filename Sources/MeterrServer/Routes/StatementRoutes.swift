import Hummingbird
import MeterrCore
import MeterrStore

/// `GET /api/statements/{month}`: the chargeback statement of a calendar month in the organisation's
/// time zone (UTC unless its policy names one), for the whole
/// organisation or one team (`?team=`), as JSON or CSV (`?format=csv`). Line items come from the raw
/// events; their totals are checked against the ledger's rollups.
struct StatementRoutes: Sendable {
    let ledger: any UsageLedger
    let breakdowns: any UsageBreakdowns
    let policies: PolicyCache
    let clock: WallClock

    /// Line items one statement may hold.
    static let maxLines = 100_000

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.get("statements/:month", use: statement)
    }

    @Sendable func statement(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.read)
        let month = try context.parameters.require("month")
        let query = request.uri.queryParameters
        let team = query.get("team").flatMap { $0.isEmpty ? nil : $0 }
        let format = query.get("format") ?? "json"
        guard format == "json" || format == "csv" else { throw MeterrError.invalid("format", "must be json or csv") }
        let org = context.principal.orgId
        let statement = try await Self.statement(
            org: org, month: month, team: team, ledger: ledger, breakdowns: breakdowns,
            calendar: try await policies.policy(org: org).calendar, now: clock.now())
        guard format == "csv" else { return try jsonResponse(statement) }
        var headers = HTTPFields()
        headers[.contentType] = "text/csv; charset=utf-8"
        headers[.contentDisposition] =
            "attachment; filename=\"meterr-statement-\(month)\(team.map { "-" + Self.fileSafe($0) } ?? "").csv\""
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: statement.csv)))
    }

    /// A month's bounds in `calendar`: `2026-11` in UTC is `[2026-11-01T00:00Z, 2026-12-01T00:00Z)`.
    ///
    /// The rollups the totals are checked against have one-hour resolution, so in a zone whose offset
    /// is not whole hours the month runs from the UTC hour that holds its local midnight.
    static func bounds(_ month: String, calendar: LocalCalendar = .utc) throws -> (from: Timestamp, to: Timestamp) {
        guard month.count == 7, let year = Int(month.prefix(4)), (1970...9998).contains(year),
            let (from, to) = calendar.month(Substring(month))
        else { throw MeterrError.invalid("month", "must be a month such as 2026-11 (got \(month))") }
        return (from.hourStart, to.hourStart)
    }

    /// Builds a statement: line items from the raw events, totals from the lines, the rollups' totals beside.
    static func statement(
        org: String, month: String, team: String?, ledger: any UsageLedger, breakdowns: any UsageBreakdowns,
        calendar: LocalCalendar = .utc, now: Timestamp
    ) async throws -> UsageStatement {
        let (from, to) = try bounds(month, calendar: calendar)
        let rows = try await breakdowns.breakdown(
            org: org, filter: EventFilter(from: from, to: to, team: team), by: [.team, .project, .provider, .model],
            limit: maxLines)
        var totals = UsageTotals()
        let lines = rows.map { row in
            totals += row.totals
            return UsageStatementLine(
                team: row.values[0], project: row.values[1], provider: row.values[2], model: row.values[3],
                totals: row.totals)
        }
        let summary = try await ledger.summary(org: org, groupBy: team == nil ? .none : .team, from: from, to: to)
        let ledgerTotals =
            team.map { name in summary.groups.first { $0.value == name }?.totals ?? UsageTotals() } ?? summary.totals
        return UsageStatement(
            org: org, team: team, month: month, from: from, to: to, currency: "USD", lines: lines, totals: totals,
            ledgerTotals: ledgerTotals, complete: totals == ledgerTotals, generatedAt: now,
            timeZone: calendar.identifier)
    }

    static func fileSafe(_ text: String) -> String {
        String(text.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" }.prefix(64))
    }
}
