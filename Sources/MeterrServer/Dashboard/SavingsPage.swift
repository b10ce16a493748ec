import Hummingbird
import MeterrCore

/// The savings page: the savings report of `GET /api/optimize` for a window (the last 30 days by
/// default), the organisation, one team or one model, with each finding's evidence and arithmetic.
extension DashboardRoutes {
    @Sendable func savingsPage(_ request: Request, context: DashboardContext) async throws -> Response {
        let query = request.uri.queryParameters
        func given(_ name: String) -> String? { query.get(name).flatMap { $0.isEmpty ? nil : $0 } }
        let now = clock.now()
        let calendar = try await calendar(context)
        let chosen = DayRange(from: given("from"), to: given("to"), calendar: calendar)
        var problems = chosen.problems
        let to = chosen.end ?? now
        let from = chosen.from ?? to.adding(milliseconds: -30 * 86_400_000)
        let (team, route) = (given("team"), given("route"))
        var report: SavingsReport?
        if from >= to {
            problems.append("From must be before To.")
        } else if problems.isEmpty, let shapes {
            report = try await OptimizeRoutes.report(
                org: context.orgId, from: from, to: to, team: team, route: route, shapes: shapes, prices: prices,
                cacheTTL: cacheTTL, now: now)
        }
        let error: HTML = problems.isEmpty ? "" : problemsHTML(problems)
        var results: HTML = ""
        if let report {
            let rows = report.findings.html { finding in
                let evidence = finding.evidence.keys.sorted().html { name in
                    "<li>\(name.replacingOccurrences(of: "_", with: " ")): \(finding.evidence[name] ?? "")</li>"
                }
                let teams = finding.teams.prefix(5).html { share in
                    "<li>\(share.team.isEmpty ? "no team" : share.team): \(Format.usd(share.savingUSD)) (\(Format.count(share.calls)) calls)</li>"
                }
                return """
                    <tr data-kind="\(finding.kind.rawValue)"><td>\(finding.kind.rawValue.replacingOccurrences(of: "_", with: " "))\
                    <br><span class="muted">\(finding.confidence.rawValue)</span></td>\
                    <td>\(finding.provider.rawValue)/\(finding.model)</td>\
                    <td class="num">\(Format.count(finding.calls))</td>\
                    <td class="num" data-usd="\(finding.savingUSD.decimalString)">\(Format.usd(finding.savingUSD))</td>\
                    <td class="num" data-usd="\(finding.monthlySavingUSD.decimalString)">\(Format.usd(finding.monthlySavingUSD))</td>\
                    <td><strong>\(finding.title)</strong><details><summary>Evidence and calculation</summary>\
                    <p>\(finding.calculation)</p><ul>\(evidence)</ul><p>By team:</p><ul>\(teams)</ul>\
                    <p class="muted">Calls: \(finding.examples.joined(separator: ", "))</p></details>\
                    <p>\(finding.action)</p></td></tr>
                    """
            }
            let table: HTML =
                report.findings.isEmpty
                ? "<p id=\"no-findings\">No findings in this window: nothing to save that meterr can prove from its ledger.</p>"
                : """
                <table id="findings"><caption>Findings, largest monthly saving first · USD</caption>\
                <thead><tr><th scope="col">Kind</th><th scope="col">Model</th><th scope="col" class="num">Calls</th>\
                <th scope="col" class="num">Saving in window</th><th scope="col" class="num">Per month at this pace</th>\
                <th scope="col">Finding</th></tr></thead><tbody>\(rows)</tbody></table>
                """
            let truncated: HTML =
                report.truncated
                ? "<p class=\"notice\">The window holds more calls than one report reads: the findings cover its first \(Format.count(OptimizeRoutes.maxCalls)).</p>"
                : ""
            results = """
                <div class="cards">\
                <div class="card"><div class="label">Could save per month</div><div class="value" id="savings-monthly" \
                data-usd="\(report.monthlySavingUSD.decimalString)">\(Format.usd(report.monthlySavingUSD))</div>\
                <div class="sub">at this window's pace</div></div>\
                <div class="card"><div class="label">Spent in the window</div><div class="value" \
                data-usd="\(report.spendUSD.decimalString)">\(Format.usd(report.spendUSD))</div>\
                <div class="sub">\(Format.count(report.calls)) calls, \(Format.count(report.analysedCalls)) analysed</div></div>\
                <div class="card"><div class="label">Saved by the response cache</div><div class="value" id="cache-saved" \
                data-usd="\(report.cacheSavedUSD.decimalString)">\(Format.usd(report.cacheSavedUSD))</div>\
                <div class="sub">\(Format.count(report.cacheHits)) answers from the cache</div></div>\
                </div><section class="panel">\(truncated)\(table)</section>
                """
        }
        let fromDay = calendar.date(from)
        let toDay = calendar.date(to.adding(milliseconds: -1))
        let body: HTML = """
            <h1>Savings</h1>
            \(error)
            <section class="panel"><form class="row" method="get" action="/savings">\
            <label for="o-from">From<input id="o-from" name="from" type="date" value="\(fromDay)"></label>\
            <label for="o-to">To (inclusive)<input id="o-to" name="to" type="date" value="\(toDay)"></label>\
            <label for="o-team">Team<input id="o-team" name="team" value="\(team ?? "")"></label>\
            <label for="o-route">Model or virtual model<input id="o-route" name="route" value="\(route ?? "")"></label>\
            <button type="submit">Show</button></form></section>
            \(results)
            """
        return page("Savings", context, current: "/savings", body)
    }
}
