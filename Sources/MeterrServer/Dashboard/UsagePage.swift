import Foundation
import Hummingbird
import MeterrCore
import MeterrStore
import NIOCore

/// The usage explorer's filters, read from the query string; the same filter drives the table,
/// its totals and the CSV export, so the export holds exactly what is shown.
struct UsageQuery: Sendable {
    var filter = EventFilter()
    var fields: [(String, String)] = []
    var limit = 50
    var cursor: EventCursor?
    /// Whether to count the matching calls even when only the raw events can tell.
    var countAll = false
    var problems: [String] = []

    static let textFields = ["team", "user", "project", "key_id", "model"]

    /// Reads the filters; plain dates are whole days of the organisation's `calendar`.
    init(_ query: FormData, calendar: LocalCalendar = .utc) {
        func time(_ name: String, endOfDay: Bool) -> Timestamp? {
            guard let text = query.nonEmpty(name) else { return nil }
            fields.append((name, text))
            // A plain date from the form's date picker: the whole day.
            if let day = calendar.day(Substring(text)) { return endOfDay ? calendar.nextDayStart(day) : day }
            if let value = Timestamp(rfc3339: text) { return value }
            problems.append("\(name) must be a date (2026-11-01) or an RFC 3339 time")
            return nil
        }
        filter.from = time("from", endOfDay: false)
        filter.to = time("to", endOfDay: true)
        for name in Self.textFields {
            guard let value = query.nonEmpty(name) else { continue }
            fields.append((name, value))
            switch name {
            case "team": filter.team = value
            case "user": filter.user = value
            case "project": filter.project = value
            case "key_id": filter.keyId = value
            default: filter.model = value
            }
        }
        if let name = query.nonEmpty("provider") {
            fields.append(("provider", name))
            if let provider = Provider(rawValue: name) {
                filter.provider = provider
            } else {
                problems.append("unknown provider \(name)")
            }
        }
        for tag in query.all("tag").flatMap({ $0.split(separator: ",") }) {
            let text = tag.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            fields.append(("tag", text))
            guard let separator = text.firstIndex(of: "="), separator != text.startIndex else {
                problems.append("a tag filter must be key=value")
                continue
            }
            filter.tags[String(text[..<separator])] = String(text[text.index(after: separator)...])
        }
        if let text = query.nonEmpty("limit"), let value = Int(text), (1...1000).contains(value) { limit = value }
        cursor = query.nonEmpty("cursor").flatMap(EventCursor.init(token:))
        countAll = query["totals"] == "1"
    }

    /// The filters as a query string, for links (next page, CSV).
    var queryString: String {
        fields.map { name, value in
            name + "=" + (value.addingPercentEncoding(withAllowedCharacters: .urlQueryValueAllowed) ?? "")
        }.joined(separator: "&")
    }

    func value(_ name: String) -> String { fields.first { $0.0 == name }?.1 ?? "" }
}

extension CharacterSet {
    /// Characters left as they are in a query value.
    static let urlQueryValueAllowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
}

extension DashboardRoutes {
    /// A call's status: its HTTP status, marked when it failed, with meterr's reason when meterr
    /// refused it (`429 refused: budget pilot`).
    static func statusCell(_ event: UsageEvent) -> HTML {
        guard let status = event.status else { return "<td></td>" }
        let failed = status >= 400
        var text = String(status)
        if let route = event.route, route.hasPrefix("refused:") {
            let reason = route.dropFirst("refused:".count).replacing("_", with: " ").replacing(":", with: " ")
            text += " refused: \(reason)"
        }
        return "<td class=\"\(failed ? "status-failed" : "status-ok")\">\(text)</td>"
    }

    @Sendable func usage(_ request: Request, context: DashboardContext) async throws -> Response {
        let calendar = try await calendar(context)
        let query = UsageQuery(FormData(request.uri.query ?? ""), calendar: calendar)
        if !query.problems.isEmpty {
            return page("Usage", context, current: "/usage", usageForm(query) + problemsHTML(query.problems))
        }
        async let page = ledger.events(
            org: context.orgId, filter: query.filter, limit: query.limit, cursor: query.cursor)
        async let totals = totals(org: context.orgId, filter: query.filter, scan: query.countAll)
        let events = try await page
        let total = try await totals
        let rows = events.events.html { event in
            let tags = event.tags.sorted { $0.key < $1.key }.html { "<span class=\"tag\">\($0.key)=\($0.value)</span>" }
            return """
                <tr><td class="nowrap">\(calendar.time(event.ts))</td><td>\(event.team)</td><td>\(event.user)</td>\
                <td>\(event.project)</td><td><code>\(event.keyId)</code></td><td>\(event.provider.rawValue)</td>\
                <td>\(event.model)</td>\(Self.statusCell(event))\
                <td class="num">\(event.latencyMs.map { "\($0) ms" } ?? "")</td>\
                <td class="num">\(event.ttftMs.map { "\($0) ms" } ?? "")</td>\
                <td class="num">\(Format.count(event.usage.inputTokens))</td>\
                <td class="num">\(Format.count(event.usage.cacheReadTokens))</td>\
                <td class="num">\(Format.count(event.usage.outputTokens))</td>\
                <td class="num" data-usd="\(event.cost?.decimalString)">\(event.cost.map(Format.usd) ?? "unpriced")</td>\
                <td>\(tags)</td><td>\(event.usageSource.rawValue)</td></tr>
                """
        }
        let link = query.queryString
        let next: HTML =
            events.nextCursor.map { cursor in
                let separator = link.isEmpty ? "" : "&"
                return
                    "<a rel=\"next\" href=\"/usage?\(link)\(separator)limit=\(query.limit)&cursor=\(cursor.token)\">Next page →</a>"
            } ?? "<span class=\"muted\">Last page</span>"
        let first: HTML = query.cursor == nil ? "" : "<a href=\"/usage?\(link)\">← First page</a>"
        let body: HTML = """
            <h1>Usage explorer</h1>
            \(usageForm(query))
            \(totalsHTML(total, link: link))
            <section class="panel"><table id="events"><caption>Calls, newest first</caption><thead><tr>\
            <th scope="col">Time (\(calendar.identifier))</th><th scope="col">Team</th><th scope="col">User</th><th scope="col">Project</th>\
            <th scope="col">Key</th><th scope="col">Provider</th><th scope="col">Model</th><th scope="col">Status</th>\
            <th scope="col" class="num">Latency</th><th scope="col" class="num" title="Time to first token (streams)">TTFT</th>\
            <th scope="col" class="num">Input</th><th scope="col" class="num">Cache read</th>\
            <th scope="col" class="num">Output</th><th scope="col" class="num">Cost</th><th scope="col">Tags</th>\
            <th scope="col">Usage</th></tr></thead><tbody>\(rows)\
            \(events.events.isEmpty ? "<tr><td colspan=\"16\" class=\"muted\">No calls match.</td></tr>" as HTML : "")\
            </tbody></table>
            <nav class="pager" aria-label="Pages">\(first)\(next)</nav></section>
            """
        return self.page("Usage", context, current: "/usage", body)
    }

    /// The line above the table: how many calls match and their cost, and the export.
    func totalsHTML(_ total: UsageTotals?, link: String) -> HTML {
        let separator = link.isEmpty ? "" : "&"
        guard let total else {
            return """
                <p id="usage-totals">The rollups do not hold this filter, so its totals read every matching call: \
                <a href="/usage?\(link)\(separator)totals=1">count them</a>. \
                <a class="button quiet" href="/usage.csv?\(link)" download>Export the matching calls as CSV</a></p>
                """
        }
        return """
            <p id="usage-totals"><strong data-count="\(total.requests)">\(Format.count(total.requests))</strong> calls match, \
            costing <strong data-usd="\(Format.exact(total))">\(Format.usd(total))</strong>\
            \(total.unpricedRequests > 0 ? " (\(Format.count(total.unpricedRequests)) unpriced)" : ""). \
            <a class="button quiet" href="/usage.csv?\(link)" download>Export these \(Format.count(total.requests)) \
            calls as CSV</a></p>
            """
    }

    /// The totals of the calls a filter selects: from the rollups when they hold exactly that (whole
    /// hours, at most one attribute, no tags); else from the raw events if `scan`, else `nil`.
    func totals(org: String, filter: EventFilter, scan: Bool) async throws -> UsageTotals? {
        let attributes: [(SummaryGrouping, String?)] = [
            (.team, filter.team), (.user, filter.user), (.project, filter.project), (.key, filter.keyId),
            (.provider, filter.provider?.rawValue), (.model, filter.model),
        ]
        let set = attributes.filter { $0.1 != nil }
        let from = filter.from ?? Timestamp(milliseconds: 0)
        // No end: up to the year 10000, so calls reported with future times count as in the list.
        let to = filter.to ?? Timestamp(milliseconds: 253_402_300_800_000)
        guard filter.tags.isEmpty, set.count <= 1, from.hourStart == from, to.hourStart == to, from <= to else {
            guard scan else { return nil }
            return try await breakdowns.breakdown(org: org, filter: filter, by: [], limit: 1).first?.totals
                ?? UsageTotals()
        }
        let (grouping, value) = set.first ?? (.none, nil)
        let summary = try await ledger.summary(org: org, groupBy: grouping, from: from, to: to)
        guard let value else { return summary.totals }
        var totals = UsageTotals()
        // A model filter takes the model's snapshots too (the rollups keep `provider/model`).
        for group in summary.groups
        where group.value == value
            || (grouping == .model && group.value.map { ModelFamily.matches(value, model: $0) } == true)
        {
            totals += group.totals
        }
        return totals
    }

    func problemsHTML(_ problems: [String]) -> HTML {
        "<div class=\"error\" role=\"alert\">\(problems.html { "<p>\($0)</p>" })</div>"
    }

    func usageForm(_ query: UsageQuery) -> HTML {
        func field(_ name: String, _ label: String, type: String = "text") -> HTML {
            """
            <label for="f-\(name)">\(label)<input id="f-\(name)" name="\(name)" type="\(type)" \
            value="\(query.value(name))"></label>
            """
        }
        let providers = Provider.allCases.html { provider in
            let selected: HTML = query.value("provider") == provider.rawValue ? " selected" : ""
            return "<option\(selected)>\(provider.rawValue)</option>"
        }
        let tags = query.fields.filter { $0.0 == "tag" }.map(\.1).joined(separator: ",")
        return """
            <form class="filters" method="get" action="/usage" aria-label="Filter calls">
            \(field("from", "From", type: "date"))\(field("to", "To (inclusive)", type: "date"))\
            \(field("team", "Team"))\(field("user", "User"))\(field("project", "Project"))\
            \(field("key_id", "Key id"))<label for="f-provider">Provider<select id="f-provider" name="provider">\
            <option value="">any</option>\(providers)</select></label>\(field("model", "Model"))\
            <label for="f-tag">Tags (k=v, comma-separated)<input id="f-tag" name="tag" value="\(tags)"></label>\
            <button type="submit">Filter</button> <a href="/usage">Clear</a></form>
            """
    }

    /// `GET /usage.csv`: every call the explorer's filter selects, streamed page by page.
    @Sendable func usageCSV(_ request: Request, context: DashboardContext) async throws -> Response {
        let query = UsageQuery(FormData(request.uri.query ?? ""), calendar: try await calendar(context))
        if let problem = query.problems.first { throw MeterrError.invalid("filter", problem) }
        let ledger = self.ledger
        let org = context.orgId
        let body = ResponseBody { writer in
            try await writer.write(ByteBuffer(string: UsageEventCSV.header + "\n"))
            var cursor: EventCursor?
            repeat {
                let page = try await ledger.events(org: org, filter: query.filter, limit: 1000, cursor: cursor)
                var buffer = ByteBuffer()
                for event in page.events { buffer.writeString(UsageEventCSV.row(event) + "\n") }
                try await writer.write(buffer)
                cursor = page.nextCursor
            } while cursor != nil
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/csv; charset=utf-8", .cacheControl: "no-store",
                .contentDisposition: "attachment; filename=\"meterr-usage.csv\"",
            ], body: body)
    }
}
