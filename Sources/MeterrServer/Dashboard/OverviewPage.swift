import Foundation
import Hummingbird
import MeterrCore
import MeterrPricing
import MeterrStore

/// The overview's numbers, all read from the rollups: a fixed number of small queries whatever
/// the size of the ledger.
struct Overview: Sendable {
    enum Grain: String, Sendable {
        case hour, day
    }

    var now: Timestamp
    /// The organisation's calendar: today, this month and the chart's days are its own.
    var calendar: LocalCalendar
    /// The period shown: this month so far, or the range chosen (`chosen`).
    var from: Timestamp
    var to: Timestamp
    var chosen: Bool
    var today: UsageTotals
    var month: UsageSummary
    var projected: Money?
    /// What the projection rests on (`the pace of the 3.5 days since 2026-12-01`), or why there is none yet.
    var projectionBasis: String
    /// Models past their end-of-life date in the catalog that the period's calls still use, by
    /// `provider/model`, with the date.
    var endOfLife: [String: String] = [:]
    var byModel: [SummaryGroup]
    var teams: [SummaryGroup]
    var users: [SummaryGroup]
    var projects: [SummaryGroup]
    var keys: [SummaryGroup]
    var grain: Grain
    var series: [SummaryGroup]
    /// What cache reads saved against the full input price, and over how many cached tokens.
    var cacheSavings: Money
    var cachedTokens: Int

    /// The period in words: `this month` or `2026-11-01 to 2026-11-30`.
    var periodName: String {
        chosen ? "\(calendar.date(from)) to \(calendar.date(to.adding(milliseconds: -1)))" : "this month"
    }

    /// The overview of this month so far, or of `range` (whole days of `calendar`, the end exclusive).
    static func load(
        ledger: any UsageLedger, engine: CostEngine, org: String, now: Timestamp, grain: Grain,
        calendar: LocalCalendar = .utc, range: (from: Timestamp, to: Timestamp)? = nil
    ) async throws -> Overview {
        let monthStart = calendar.monthStart(now)
        let from = range?.from ?? monthStart
        let to = min(range?.to ?? now, now)
        func summary(_ grouping: SummaryGrouping, from: Timestamp = from) async throws -> UsageSummary {
            try await ledger.summary(org: org, groupBy: grouping, from: from, to: to, calendar: calendar)
        }
        async let today = ledger.summary(org: org, groupBy: .none, from: calendar.dayStart(now), to: now)
        async let month = summary(.provider)
        async let models = summary(.model)
        async let teams = summary(.team)
        async let users = summary(.user)
        async let projects = summary(.project)
        async let keys = summary(.key)
        let seriesFrom = grain == .hour ? to.hourStart.adding(milliseconds: -47 * 3_600_000) : from
        async let series = summary(grain == .hour ? .hour : .day, from: seriesFrom)
        let monthSummary = try await month
        // A projection from minutes of calls says nothing: it waits for a day of them, and rests on the
        // pace since the first call of the month, not since the month began. A chosen range has none.
        var projected: Money?
        var basis = "from a day of calls this month"
        if range == nil {
            let days = grain == .day ? try await series.groups : try await summary(.day).groups
            let firstDay = days.first { $0.totals.requests > 0 }.flatMap {
                $0.value.flatMap(Timestamp.init(rfc3339:))
            }
            if let firstDay, now.milliseconds - firstDay.milliseconds >= 86_400_000 {
                projected =
                    BudgetGuard.forecast(
                        spent: monthSummary.totals.pricedCost.nanos, limit: .max, periodStart: firstDay,
                        periodEnd: calendar.nextMonthStart(now), now: now)?.projected
                let elapsed = Double(now.milliseconds - firstDay.milliseconds) / 86_400_000
                basis = "at the pace of the \(String(format: "%.1f", elapsed)) days since \(calendar.date(firstDay))"
            }
        } else {
            basis = "only for the current month"
        }
        let modelGroups = try await models.groups
        var endOfLife: [String: String] = [:]
        let todayDate = calendar.date(now)
        for group in modelGroups {
            guard let model = group.value, let provider = group.provider.flatMap(Provider.init(rawValue:)),
                let date = engine.resolve(model: model, provider: provider)?.deprecationDate, date <= todayDate
            else { continue }
            endOfLife[provider.rawValue + "/" + model] = date
        }
        var savings = Money.zero
        var cached = 0
        for group in modelGroups where group.totals.usage.cacheReadTokens > 0 {
            let tokens = group.totals.usage.cacheReadTokens
            let provider = group.provider.flatMap(Provider.init(rawValue:))
            // Only models the catalog knows: asking about others would count as unpriced calls.
            guard let model = group.value, engine.resolve(model: model, provider: provider) != nil,
                let full = try? engine.cost(
                    model: model, provider: provider, usage: Usage(inputTokens: tokens), at: now, org: org),
                let read = try? engine.cost(
                    model: model, provider: provider, usage: Usage(inputTokens: tokens, cacheReadTokens: tokens),
                    at: now, org: org)
            else { continue }
            savings += Money(nanos: full.cost.nanos - read.cost.nanos)
            cached += tokens
        }
        // Every bucket of the range, empty ones included, so the chart's time axis is even.
        let found = Dictionary(
            try await series.groups.map { ($0.value ?? "", $0) }, uniquingKeysWith: { first, _ in first })
        var buckets: [SummaryGroup] = []
        var start = grain == .hour ? seriesFrom : calendar.dayStart(from)
        while start <= to, range.map({ start < $0.to }) ?? true {
            let value = start.rfc3339
            buckets.append(found[value] ?? SummaryGroup(value: value, totals: UsageTotals()))
            start = grain == .hour ? start.adding(milliseconds: 3_600_000) : calendar.nextDayStart(start)
        }
        return Overview(
            now: now, calendar: calendar, from: from, to: to, chosen: range != nil, today: try await today.totals,
            month: monthSummary, projected: projected, projectionBasis: basis, endOfLife: endOfLife,
            byModel: modelGroups, teams: try await teams.groups, users: try await users.groups,
            projects: try await projects.groups, keys: try await keys.groups, grain: grain, series: buckets,
            cacheSavings: savings, cachedTokens: cached)
    }
}

extension DashboardRoutes {
    @Sendable func overview(_ request: Request, context: DashboardContext) async throws -> Response {
        let query = request.uri.queryParameters
        let grain = Overview.Grain(rawValue: query.get("chart") ?? "day") ?? .day
        let calendar = try await calendar(context)
        let now = clock.now()
        // A chosen range (whole days, `to` inclusive) replaces this month; the live numbers are this
        // month's, so a range is shown still.
        var range = DayRange(from: query.get("from"), to: query.get("to"), calendar: calendar)
        if let from = range.from, from >= now {
            range.problems.append("From must not be after today.")
            range.from = nil
        }
        let period = range.from.map { (from: $0, to: range.end ?? now) }
        let data = try await Overview.load(
            ledger: ledger, engine: engine, org: context.orgId, now: now, grain: grain, calendar: calendar,
            range: period)
        // Key names only for those who may list keys, as with the API.
        let keyNames = context.session.canManage ? try await keyNames(org: context.orgId) : [:]
        let health = try await health?.modelHealth(org: context.orgId, from: data.from, to: data.to) ?? []
        async let teams = breakdowns.dailyCost(
            org: context.orgId, by: .team, from: data.from, to: data.to, calendar: calendar)
        async let models = breakdowns.dailyCost(
            org: context.orgId, by: .model, from: data.from, to: data.to, calendar: calendar)
        let stacked = Self.stackedPanel(
            teams: try await teams, models: try await models, from: data.from, to: data.to, calendar: calendar,
            period: data.periodName)
        let form: HTML = """
            <form class="row" method="get" action="/" id="overview-range">\
            <label for="ov-from">From<input id="ov-from" name="from" type="date" value="\(range.fromText)"></label>\
            <label for="ov-to">To (inclusive)<input id="ov-to" name="to" type="date" value="\(range.toText)"></label>\
            <input type="hidden" name="chart" value="\(grain.rawValue)"><button type="submit">Show</button>\
            \(data.chosen ? "<a href=\"/?chart=\(grain.rawValue)\">This month</a>" as HTML : "")</form>\
            \(range.problems.isEmpty ? "" : problemsHTML(range.problems))
            """
        return page(
            "Overview", context, current: "/", live: !data.chosen,
            overviewBody(data, keyNames: keyNames, form: form) + stacked
                + healthTable(health, period: data.periodName))
    }

    /// Cost per day of the period, stacked by team and by model: the five largest, the rest as "other".
    static func stackedPanel(
        teams: [(day: Timestamp, value: String, cost: Money)], models: [(day: Timestamp, value: String, cost: Money)],
        from: Timestamp, to: Timestamp, calendar: LocalCalendar = .utc, period: String = "this month"
    ) -> HTML {
        var days: [Int64] = []
        var day = calendar.dayStart(from)
        while day < to {
            days.append(day.milliseconds)
            day = calendar.nextDayStart(day)
        }
        let index = Dictionary(uniqueKeysWithValues: days.enumerated().map { ($1, $0) })
        let labels = days.map { calendar.date(Timestamp(milliseconds: $0)) }
        func series(_ rows: [(day: Timestamp, value: String, cost: Money)], unnamed: String) -> [(String, [Int64])] {
            var totals: [String: Int64] = [:]
            for row in rows { totals[row.value, default: 0] += row.cost.nanos }
            let top = totals.filter { $0.value > 0 }.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(5)
                .map(\.key)
            var lines = top.map { (name: $0, values: [Int64](repeating: 0, count: days.count)) }
            var other = [Int64](repeating: 0, count: days.count)
            for row in rows {
                guard let at = index[calendar.dayStart(row.day).milliseconds] else { continue }
                if let line = top.firstIndex(of: row.value) {
                    lines[line].values[at] += row.cost.nanos
                } else {
                    other[at] += row.cost.nanos
                }
            }
            var named = lines.map { ($0.name.isEmpty ? unnamed : $0.name, $0.values) }
            if other.contains(where: { $0 > 0 }) { named.append(("other", other)) }
            return named
        }
        let byTeam = series(teams, unnamed: "(no team)")
        let byModel = series(models, unnamed: "(unknown)")
        guard !byTeam.isEmpty || !byModel.isEmpty else { return "" }
        let usd = { (nanos: Int64) in Format.usd(Money(nanos: nanos)) }
        return """
            <section class="panel" aria-labelledby="stacked-heading">
            <h2 id="stacked-heading">Cost \(period) by day (\(calendar.identifier)), by team and by model</h2>
            \(Chart.stacked(
                id: "chart-teams", title: "Cost by team, \(period) by day",
                description: "Stacked bars: each day's cost split by the five teams that cost most in the period, the rest as other.",
                labels: labels, series: byTeam.map { (name: $0.0, values: $0.1) }, display: usd))
            \(Chart.stacked(
                id: "chart-models", title: "Cost by model, \(period) by day",
                description: "Stacked bars: each day's cost split by the five models that cost most in the period, the rest as other.",
                labels: labels, series: byModel.map { (name: $0.0, values: $0.1) }, display: usd))
            </section>
            """
    }

    /// Each model's calls in the period: failures, refusals, latency and time to first token.
    func healthTable(_ models: [ModelHealth], period: String = "this month") -> HTML {
        guard !models.isEmpty else { return "" }
        func ms(_ value: Int?) -> String { value.map { "≤ \(Format.count($0)) ms" } ?? "—" }
        let rows = models.prefix(20).html { model in
            let rate = model.errorRate * 100
            let level = rate >= 5 ? "bad" : rate >= 1 ? "warn" : ""
            return """
                <tr><th scope="row">\(model.provider.rawValue)/\(model.model)</th>\
                <td class="num" data-count="\(model.calls)">\(Format.count(model.calls))</td>\
                <td class="num \(level)" data-count="\(model.errors)">\(Format.count(model.errors)) \
                (\(String(format: "%.1f", rate)) %)</td>\
                <td class="num" data-count="\(model.refusals)">\(Format.count(model.refusals))</td>\
                <td class="num">\(ms(model.latencyP50))</td><td class="num">\(ms(model.latencyP95))</td>\
                <td class="num">\(ms(model.ttftP50))</td><td class="num">\(ms(model.ttftP95))</td></tr>
                """
        }
        return """
            <section class="panel"><table id="health"><caption>Calls by model \(period) (whole UTC days): failures, \
            meterr's refusals, latency and time to first token (streams)</caption><thead><tr>\
            <th scope="col">Model</th><th scope="col" class="num">Calls</th>\
            <th scope="col" class="num">Failed (rate)</th><th scope="col" class="num">Refused</th>\
            <th scope="col" class="num">Latency p50</th><th scope="col" class="num">p95</th>\
            <th scope="col" class="num">TTFT p50</th><th scope="col" class="num">p95</th></tr></thead>\
            <tbody>\(rows)</tbody></table><p class="muted">Failed: status 400 or more from the provider or on the way \
            to it; the rate leaves meterr's refusals out. Percentiles are upper bounds of buckets 20 % wide.</p></section>
            """
    }

    func keyNames(org: String) async throws -> [String: String] {
        Dictionary(try await accounts.keys(org: org).map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
    }

    func overviewBody(_ data: Overview, keyNames: [String: String], form: HTML = "") -> HTML {
        let month = data.month.totals
        let tokens = month.usage.inputTokens + month.usage.outputTokens
        let unpriced: HTML =
            month.unpricedRequests > 0
            ? """
            <div class="sub bad" id="unpriced-month"><a href="/budgets#unpriced">\(Format.count(month.unpricedRequests)) \
            unpriced call\(month.unpricedRequests == 1 ? "" : "s") (\(Format.count(month.unpricedTokens)) tokens)</a> not counted</div>
            """ : ""
        let projected: HTML =
            data.projected.map {
                "<div class=\"value\" id=\"projected\" data-usd=\"\($0.decimalString)\">\(Format.usd($0))</div>"
            } ?? "<div class=\"value\" id=\"projected\">—</div>"
        let cards: HTML = """
            <div class="cards">
            <div class="card"><div class="label">Spend today (\(data.calendar.identifier))</div>\
            <div class="value" id="spend-today" data-live-usd="today" data-usd="\(data.today.pricedCost.decimalString)">\
            \(Format.usd(data.today.pricedCost))</div><div class="sub"><span id="requests-today" data-live-count="today_requests" \
            data-count="\(data.today.requests)">\(Format.count(data.today.requests))</span> calls</div></div>
            <div class="card"><div class="label">Spend \(data.periodName)</div>\
            <div class="value" id="spend-month" data-live-usd="total" data-usd="\(month.pricedCost.decimalString)">\
            \(Format.usd(month.pricedCost))</div><div class="sub"><span id="requests-month" data-live-count="requests" \
            data-count="\(month.requests)">\(Format.count(month.requests))</span> calls, \
            <span id="tokens-month" data-live-count="tokens" data-count="\(tokens)">\(Format.count(tokens))</span> tokens\
            </div>\(unpriced)</div>
            <div class="card"><div class="label">Projected month-end</div>\(projected)\
            <div class="sub" id="projection-basis">\(data.projectionBasis)</div></div>
            <div class="card"><div class="label">Saved by cached input</div>\
            <div class="value" id="cache-savings" data-usd="\(data.cacheSavings.decimalString)">\
            \(Format.usd(data.cacheSavings))</div><div class="sub">\(Format.count(data.cachedTokens)) cache-read tokens \
            against the full input price</div></div>
            </div>
            """
        let providers = groupTable(
            id: "by-provider", caption: "By provider", column: "Provider", groups: data.month.groups, live: "provider:",
            name: { $0.value ?? "—" })
        let models = groupTable(
            id: "by-model", caption: "By model", column: "Model", groups: Array(data.byModel.prefix(12)),
            live: "model:", liveKey: { ($0.provider ?? "") + "/" + ($0.value ?? "") },
            name: { group in
                let name = (group.provider ?? "") + "/" + (group.value ?? "")
                return data.endOfLife[name].map { "\(name) (past its end of life, \($0))" } ?? name
            })
        let top: HTML = """
            <div class="grid2">
            \(groupTable(id: "top-teams", caption: "Top teams", column: "Team", groups: Array(data.teams.prefix(8)),
                name: { $0.value ?? "(no team)" }))
            \(groupTable(id: "top-users", caption: "Top users", column: "User", groups: Array(data.users.prefix(8)),
                name: { $0.value ?? "(no user)" }))
            \(groupTable(id: "top-projects", caption: "Top projects", column: "Project",
                groups: Array(data.projects.prefix(8)), name: { $0.value ?? "(no project)" }))
            \(groupTable(id: "top-keys", caption: "Top keys", column: "Key", groups: Array(data.keys.prefix(8)),
                name: { group in group.value.map { keyNames[$0].map { "\($0) (\(group.value!))" } ?? $0 } ?? "(no key)" }))
            </div>
            """
        let status: HTML =
            data.chosen
            ? """
            <p class="muted" id="overview-period">From \(data.calendar.time(data.from)) to \(data.calendar.time(data.to)) \
            (\(data.calendar.identifier)): a past range, not live.</p>
            """
            : """
            <p class="live" aria-live="polite"><span class="dot" aria-hidden="true">●</span> \
            <span id="live-status">Live: connecting…</span></p>
            """
        return """
            <h1>Overview</h1>
            \(status)
            \(form)
            \(cards)
            \(timeSeries(data))
            <div class="grid2">\(providers)\(models)</div>
            \(top)
            """
    }

    func timeSeries(_ data: Overview) -> HTML {
        let hourly = data.grain == .hour
        func label(_ group: SummaryGroup) -> String {
            guard let start = group.value.flatMap(Timestamp.init(rfc3339:)) else { return group.value ?? "" }
            return hourly ? String(data.calendar.time(start).dropFirst(5)) : data.calendar.date(start)
        }
        let cost = data.series.map {
            Chart.Point(label: label($0), value: $0.totals.pricedCost.nanos, display: Format.usd($0.totals))
        }
        let tokens = data.series.map {
            let count = $0.totals.usage.inputTokens + $0.totals.usage.outputTokens
            return Chart.Point(label: label($0), value: Int64(count), display: Format.count(count))
        }
        let zone = data.calendar.identifier
        let span =
            hourly
            ? "the last 48 hours\(data.chosen ? " of the range" : ""), by hour (\(zone))"
            : "\(data.periodName), by day (\(zone))"
        let range: HTML =
            data.chosen
            ? "&amp;from=\(data.calendar.date(data.from))&amp;to=\(data.calendar.date(data.to.adding(milliseconds: -1)))"
            : ""
        let switcher: HTML =
            hourly
            ? "<a href=\"/?chart=day\(range)\">By day</a> · <strong>By hour</strong>"
            : "<strong>By day</strong> · <a href=\"/?chart=hour\(range)\">By hour</a>"
        let rows = data.series.html { group in
            """
            <tr><th scope="row">\(label(group))</th><td class="num">\(Format.count(group.totals.requests))</td>\
            <td class="num">\(Format.usd(group.totals))</td>\
            <td class="num">\(Format.count(group.totals.usage.inputTokens))</td>\
            <td class="num">\(Format.count(group.totals.usage.outputTokens))</td></tr>
            """
        }
        return """
            <section class="panel" aria-labelledby="series-heading">
            <h2 id="series-heading">Cost and tokens over \(span)</h2><p>\(switcher)</p>
            \(data.series.allSatisfy { $0.totals.requests == 0 } ? "<p class=\"muted\">No usage in this period yet.</p>" as HTML : "")
            \(Chart.bars(id: "chart-cost", title: "Cost over \(span)",
                description: "Bar chart of the cost of each period; the table below lists the numbers.", points: cost,
                axis: { Format.usd(Money(nanos: $0)) }))
            \(Chart.bars(id: "chart-tokens", title: "Tokens over \(span)",
                description: "Bar chart of input plus output tokens of each period; the table below lists the numbers.",
                points: tokens, axis: Format.compact, alternate: true))
            <details><summary>The numbers of these charts</summary><table id="series-table">\
            <caption>Usage over \(span)</caption><thead><tr><th scope="col">Period start</th>\
            <th scope="col" class="num">Calls</th><th scope="col" class="num">Cost</th>\
            <th scope="col" class="num">Input tokens</th><th scope="col" class="num">Output tokens</th></tr></thead>\
            <tbody>\(rows)</tbody></table></details>
            </section>
            """
    }

    /// A table of summary groups: name, calls, tokens, cost (with the exact cost in `data-usd`).
    func groupTable(
        id: String, caption: String, column: String, groups: [SummaryGroup], live: String? = nil,
        liveKey: ((SummaryGroup) -> String)? = nil, name: (SummaryGroup) -> String
    ) -> HTML {
        let rows = groups.html { group in
            let liveAttribute: HTML =
                live.map { prefix in
                    "data-live-usd=\"\(prefix + (liveKey?(group) ?? group.value ?? ""))\" "
                } ?? ""
            return """
                <tr><th scope="row">\(name(group))</th><td class="num">\(Format.count(group.totals.requests))</td>\
                <td class="num">\(Format.count(group.totals.usage.inputTokens + group.totals.usage.outputTokens))</td>\
                <td class="num" \(liveAttribute)data-usd="\(Format.exact(group.totals))">\(Format.usd(group.totals))\
                </td></tr>
                """
        }
        let empty: HTML = groups.isEmpty ? "<tr><td colspan=\"4\" class=\"muted\">No usage yet.</td></tr>" : ""
        return """
            <section class="panel"><table id="\(id)"><caption>\(caption)</caption><thead><tr>\
            <th scope="col">\(column)</th><th scope="col" class="num">Calls</th><th scope="col" class="num">Tokens</th>\
            <th scope="col" class="num">Cost</th></tr></thead><tbody>\(rows)\(empty)</tbody></table></section>
            """
    }
}
