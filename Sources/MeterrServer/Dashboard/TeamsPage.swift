import Foundation
import Hummingbird
import MeterrCore
import MeterrStore

/// Team analytics: each department's spend this period beside the same stretch of the previous
/// one, then one team's users and keys.
extension DashboardRoutes {
    enum Period: String, CaseIterable, Sendable {
        case day, week, month

        /// This period so far, and the same length from the start of the previous one, in `calendar`.
        func ranges(now: Timestamp, calendar: LocalCalendar) -> (
            current: (Timestamp, Timestamp), previous: (Timestamp, Timestamp)
        ) {
            let unit: LocalCalendar.Period = self == .day ? .day : self == .week ? .week : .month
            let start = calendar.bounds(of: unit, holding: now).start
            let previousStart = calendar.bounds(of: unit, holding: start.adding(milliseconds: -1)).start
            let elapsed = now.milliseconds - start.milliseconds
            return ((start, now), (previousStart, previousStart.adding(milliseconds: elapsed)))
        }
    }

    @Sendable func teamsPage(_ request: Request, context: DashboardContext) async throws -> Response {
        let query = request.uri.queryParameters
        let period = Period(rawValue: query.get("period") ?? "month") ?? .month
        let team = query.get("team")
        let now = clock.now()
        let calendar = try await calendar(context)
        let zone = calendar.identifier
        var ranges = period.ranges(now: now, calendar: calendar)
        // A chosen range (whole days, `to` inclusive) replaces the period; it is compared with the
        // same length just before it.
        let chosen = DayRange(from: query.get("from"), to: query.get("to"), calendar: calendar)
        var problems = chosen.problems
        var range: (from: Timestamp, to: Timestamp)?
        if let from = chosen.from {
            let end = min(chosen.end ?? now, now)
            if from < end {
                range = (from, end)
                let length = end.milliseconds - from.milliseconds
                ranges = ((from, end), (from.adding(milliseconds: -length), from))
            } else {
                problems.append("From must be before To (and not after today).")
            }
        }
        let (current, previous) = ranges
        let rangePart = range == nil ? "" : "&from=\(chosen.fromText)&to=\(chosen.toText)"
        let periodLinks = Period.allCases.html { option in
            let teamPart =
                team.map {
                    "&team="
                        + ($0.addingPercentEncoding(withAllowedCharacters: CharacterSet.urlQueryValueAllowed) ?? "")
                } ?? ""
            return option == period && range == nil
                ? "<strong>This \(option.rawValue)</strong> "
                : "<a href=\"/teams?period=\(option.rawValue)\(teamPart)\">This \(option.rawValue)</a> "
        }
        let comparison =
            range.map {
                "From \(calendar.time($0.from)) to \(calendar.time($0.to)) (\(zone)) against the same length just before it"
            }
            ?? "This \(period.rawValue) so far (since \(calendar.time(current.0)) \(zone)) against the same stretch of the previous one"
        let rangeForm: HTML = """
            <form class="row" method="get" action="/teams">\
            <label for="t-from">From<input id="t-from" name="from" type="date" value="\(chosen.fromText)"></label>\
            <label for="t-to">To (inclusive)<input id="t-to" name="to" type="date" value="\(chosen.toText)"></label>\
            \(team.map { "<input type=\"hidden\" name=\"team\" value=\"\($0)\">" as HTML } ?? "")\
            <button type="submit">Show</button></form>
            """
        var body: HTML =
            "<h1>Team analytics</h1><p>\(periodLinks)</p>\(rangeForm)\(problems.isEmpty ? "" : problemsHTML(problems))<p class=\"muted\" id=\"teams-range\">\(comparison).</p>"
        if let team {
            // From the rollups (team × user, and the keys bound to the team): as fast at ten million
            // events as at ten.
            func usersIn(_ range: (Timestamp, Timestamp)) async throws -> [BreakdownRow] {
                Array(
                    try await breakdowns.teamUsers(org: context.orgId, team: team, from: range.0, to: range.1).prefix(
                        100))
            }
            let bound = Set(try await accounts.keys(org: context.orgId).filter { $0.team == team }.map(\.id))
            func keysIn(_ range: (Timestamp, Timestamp)) async throws -> [BreakdownRow] {
                try await ledger.summary(org: context.orgId, groupBy: .key, from: range.0, to: range.1).groups
                    .filter { bound.contains($0.value ?? "") }.map {
                        BreakdownRow(values: [$0.value], totals: $0.totals)
                    }
            }
            async let users = usersIn(current)
            async let keys = keysIn(current)
            async let usersBefore = usersIn(previous)
            async let keysBefore = keysIn(previous)
            let names = context.session.canManage ? try await keyNames(org: context.orgId) : [:]
            body += """
                <p><a href="/teams?period=\(period.rawValue)\(rangePart)">← All teams</a></p>
                <h2>Team \(team)</h2>
                \(comparisonTable(
                    id: "team-users", caption: "Users of team \(team)", columns: ["User"], rows: try await users,
                    before: try await usersBefore, name: { [$0[0] ?? "(no user)"] }))
                \(comparisonTable(
                    id: "team-keys", caption: "Keys bound to team \(team)", columns: ["Key"], rows: try await keys,
                    before: try await keysBefore,
                    name: { values in [values[0].map { id in names[id].map { "\($0) (\(id))" } ?? id } ?? "(no key)"] }))
                """
        } else {
            async let teams = ledger.summary(
                org: context.orgId, groupBy: .team, from: current.0, to: current.1)
            async let teamsBefore = ledger.summary(
                org: context.orgId, groupBy: .team, from: previous.0, to: previous.1)
            let rows = try await teams.groups.map { BreakdownRow(values: [$0.value], totals: $0.totals) }
            let before = try await teamsBefore.groups.map { BreakdownRow(values: [$0.value], totals: $0.totals) }
            // Teams that calls named but nobody created (unknown_team: accept) are marked.
            let created = Set(try await accounts.groups(kind: .team, org: context.orgId).map(\.name))
            body += comparisonTable(
                id: "teams", caption: "Spend by team", columns: ["Team"], rows: rows, before: before,
                name: { values in
                    guard let team = values[0] else { return ["(no team)"] }
                    return [created.contains(team) ? team : "\(team) (not created: only calls name it)"]
                },
                link: { values in
                    let team = values[0] ?? ""
                    return "/teams?period=\(period.rawValue)\(rangePart)&team="
                        + (team.addingPercentEncoding(withAllowedCharacters: CharacterSet.urlQueryValueAllowed) ?? "")
                })
        }
        return page("Teams", context, current: "/teams", body)
    }

    /// Groups with their totals now and before, and the change in cost.
    func comparisonTable(
        id: String, caption: String, columns: [String], rows: [BreakdownRow], before: [BreakdownRow],
        name: ([String?]) -> [String], link: (([String?]) -> String)? = nil
    ) -> HTML {
        let previous = Dictionary(before.map { ($0.values, $0.totals) }, uniquingKeysWith: { first, _ in first })
        let shown = rows.map(\.values)
        let gone = before.filter { !shown.contains($0.values) }.map {
            BreakdownRow(values: $0.values, totals: UsageTotals())
        }
        let body = (rows + gone).html { row in
            let then = previous[row.values] ?? UsageTotals()
            let cells = name(row.values)
            let first: HTML = link.map { "<a href=\"\($0(row.values))\">\(cells[0])</a>" } ?? "\(cells[0])"
            let rest = cells.dropFirst().html { "<td>\($0)</td>" }
            let change: HTML
            if then.pricedCost.nanos > 0 {
                let percent = Int(
                    (Int128(row.totals.pricedCost.nanos) - Int128(then.pricedCost.nanos)) * 100
                        / Int128(then.pricedCost.nanos))
                change = "<span class=\"\(percent > 0 ? "warn" : "good")\">\(percent > 0 ? "+" : "")\(percent)%</span>"
            } else {
                change = row.totals.pricedCost.nanos > 0 ? "new" : "—"
            }
            return """
                <tr><th scope="row">\(first)</th>\(rest)<td class="num">\(Format.count(row.totals.requests))</td>\
                <td class="num">\(Format.count(row.totals.usage.inputTokens + row.totals.usage.outputTokens))</td>\
                <td class="num" data-usd="\(Format.exact(row.totals))">\(Format.usd(row.totals))</td>\
                <td class="num">\(Format.usd(then))</td><td class="num">\(change)</td></tr>
                """
        }
        let headers = columns.html { "<th scope=\"col\">\($0)</th>" }
        let empty: HTML =
            rows.isEmpty && gone.isEmpty
            ? "<tr><td colspan=\"\(columns.count + 5)\" class=\"muted\">No usage in either period.</td></tr>" : ""
        return """
            <section class="panel"><table id="\(id)"><caption>\(caption)</caption><thead><tr>\(headers)\
            <th scope="col" class="num">Calls</th><th scope="col" class="num">Tokens</th>\
            <th scope="col" class="num">Cost</th><th scope="col" class="num">Before</th>\
            <th scope="col" class="num">Change</th></tr></thead><tbody>\(body)\(empty)</tbody></table></section>
            """
    }
}
