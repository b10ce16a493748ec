import Hummingbird
import MeterrCore

/// The chargeback statement page: a month (in the organisation's time zone) for the organisation or one team, as a printable page
/// (the navigation and the form are left off paper) and as CSV.
extension DashboardRoutes {
    @Sendable func statementsPage(_ request: Request, context: DashboardContext) async throws -> Response {
        let query = request.uri.queryParameters
        let calendar = try await calendar(context)
        let month =
            query.get("month").flatMap { $0.isEmpty ? nil : $0 } ?? Self.previousMonth(clock.now(), calendar: calendar)
        let team = query.get("team").flatMap { $0.isEmpty ? nil : $0 }
        let statement: UsageStatement
        do {
            statement = try await StatementRoutes.statement(
                org: context.orgId, month: month, team: team, ledger: ledger, breakdowns: breakdowns,
                calendar: calendar, now: clock.now())
        } catch let error as MeterrError {
            return statementsResponse(context, month: month, team: team, statement: nil, problem: error.message)
        }
        return statementsResponse(context, month: month, team: team, statement: statement, problem: nil)
    }

    @Sendable func statementsCSV(_ request: Request, context: DashboardContext) async throws -> Response {
        let query = request.uri.queryParameters
        let calendar = try await calendar(context)
        let month = query.get("month") ?? Self.previousMonth(clock.now(), calendar: calendar)
        let team = query.get("team").flatMap { $0.isEmpty ? nil : $0 }
        let statement = try await StatementRoutes.statement(
            org: context.orgId, month: month, team: team, ledger: ledger, breakdowns: breakdowns,
            calendar: calendar, now: clock.now())
        let name = "meterr-statement-\(month)\(team.map { "-" + StatementRoutes.fileSafe($0) } ?? "").csv"
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"\(name)\"",
                .cacheControl: "no-store",
            ],
            body: .init(byteBuffer: ByteBuffer(string: statement.csv)))
    }

    /// The month before `now`'s (statements are usually for a month that has ended).
    static func previousMonth(_ now: Timestamp, calendar: LocalCalendar = .utc) -> String {
        calendar.month(calendar.monthStart(now).adding(milliseconds: -1))
    }

    func statementsResponse(
        _ context: DashboardContext, month: String, team: String?, statement: UsageStatement?, problem: String?
    ) -> Response {
        let error: HTML = problem.map { "<p class=\"error\" role=\"alert\">\($0)</p>" } ?? ""
        var table: HTML = ""
        if let statement {
            let rows = statement.lines.html { line in
                """
                <tr><td>\(line.team ?? "—")</td><td>\(line.project ?? "—")</td>\
                <td>\(line.provider ?? "—")/\(line.model ?? "—")</td>\
                <td class="num">\(Format.count(line.totals.requests))</td>\
                <td class="num">\(Format.count(line.totals.usage.inputTokens))</td>\
                <td class="num">\(Format.count(line.totals.usage.outputTokens))</td>\
                <td class="num" data-usd="\(line.totals.cost?.decimalString ?? "")">\(Format.usd(line.totals))</td></tr>
                """
            }
            let unpriced: HTML =
                statement.totals.unpricedRequests > 0
                ? "<p class=\"muted\">\(Format.count(statement.totals.unpricedRequests)) calls of models without a price are listed but not in the total.</p>"
                : ""
            let incomplete: HTML =
                statement.complete
                ? ""
                : "<p class=\"notice\">The ledger's rollups hold \(Format.usd(statement.ledgerTotals.pricedCost)) for this month: raw events were removed by retention, so the lines cover less than the month.</p>"
            table = """
                <section class="panel"><table id="statement"><caption>\(statement.month)\
                \(statement.team.map { " · team \($0)" } ?? " · whole organisation") · \(statement.timeZone) · USD</caption>\
                <thead><tr><th scope="col">Team</th><th scope="col">Project</th><th scope="col">Model</th>\
                <th scope="col" class="num">Calls</th><th scope="col" class="num">Input tokens</th>\
                <th scope="col" class="num">Output tokens</th><th scope="col" class="num">Cost</th></tr></thead>\
                <tbody>\(rows)</tbody><tfoot><tr><th scope="row" colspan="3">Total</th>\
                <td class="num">\(Format.count(statement.totals.requests))</td>\
                <td class="num">\(Format.count(statement.totals.usage.inputTokens))</td>\
                <td class="num">\(Format.count(statement.totals.usage.outputTokens))</td>\
                <td class="num" id="statement-total" data-usd="\(statement.totals.pricedCost.decimalString)">\
                \(Format.usd(statement.totals.pricedCost))</td></tr></tfoot></table>\(unpriced)\(incomplete)\
                <p class="no-print"><a class="button" href="/statements.csv?month=\(month)&amp;team=\(team ?? "")">\
                Download CSV</a> · print this page for a paper or PDF copy.</p></section>
                """
        }
        let body: HTML = """
            <h1>Statement</h1>
            \(error)
            <section class="panel no-print"><form class="row" method="get" action="/statements">\
            <label for="s-month">Month<input id="s-month" name="month" type="month" value="\(month)"></label>\
            <label for="s-team">Team (empty: the whole organisation)<input id="s-team" name="team" value="\(team ?? "")"></label>\
            <button type="submit">Show</button></form></section>
            \(table)
            """
        return page("Statement", context, current: "/statements", body)
    }
}
