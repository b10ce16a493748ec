import Foundation
import Hummingbird
import MeterrCore
import MeterrPricing
import MeterrStore

extension DashboardRoutes {
    // MARK: budgets

    @Sendable func budgetsPage(_ request: Request, context: DashboardContext) async throws -> Response {
        try await budgetsResponse(context)
    }

    func budgetsResponse(_ context: DashboardContext, problem: String? = nil, budgetProblem: String? = nil)
        async throws -> Response
    {
        let now = clock.now()
        var rows = HTML.empty
        let all = try await budgets.budgets(org: context.orgId)
        let statuses = try await guardian.statuses(all, unpricedFrom: budgets, now: now)
        for (budget, (state, unpricedUsage)) in zip(all, statuses) {
            let uncounted: HTML =
                unpricedUsage.requests == 0
                ? "<span class=\"muted\">none</span>"
                : "<span class=\"bad\">\(Format.count(unpricedUsage.requests)) call\(unpricedUsage.requests == 1 ? "" : "s"), \(Format.count(unpricedUsage.tokens)) tokens</span>"
            let percent = budget.limit.nanos > 0 ? Int(state.spent * 100 / budget.limit.nanos) : 0
            // A rolling window has no period end to project to.
            let forecast =
                budget.period.isRolling
                ? nil
                : BudgetGuard.forecast(
                    spent: state.spent, limit: budget.limit.nanos, periodStart: state.periodStart,
                    periodEnd: state.periodEnd, now: now)
            let scope = budget.scope.value.isEmpty ? budget.scope.kind : "\(budget.scope.kind) \(budget.scope.value)"
            let outlook: HTML =
                if let forecast {
                    if let at = forecast.exceedsAt {
                        "<span class=\"bad\">\(Format.usd(forecast.projected)): over the limit from \(Format.time(at))</span>"
                    } else {
                        "<span class=\"good\">\(Format.usd(forecast.projected))</span>"
                    }
                } else { "<span class=\"muted\">after the first hour</span>" }
            let tone = percent >= 100 ? "bad" : percent >= 80 ? "warn" : ""
            let (spentText, limitText) = Format.usdPair(Money(nanos: state.spent), budget.limit)
            rows += """
                <tr id="budget-\(budget.id)"><th scope="row">\(budget.name)</th><td>\(scope)</td>\
                <td>\(budget.period.label)\(budget.hard ? ", hard" : "")</td>\
                <td class="num" data-usd="\(Money(nanos: state.spent).decimalString)">\(spentText)</td>\
                <td class="num" data-usd="\(budget.limit.decimalString)">\(limitText)</td>\
                <td><label class="sr-only" for="progress-\(budget.id)">\(budget.name): \(percent)% used</label>\
                <progress id="progress-\(budget.id)" class="\(tone)" max="100" value="\(min(percent, 100))">\(percent)%</progress>\
                <span class="\(tone)">\(percent)%</span></td><td>\(outlook)</td>\
                <td>\(uncounted)</td><td>\(Format.time(BudgetGuard.resetsAt(budget, state), in: budget.zone))</td>\
                \(context.session.canManage ? deleteBudgetCell(budget, csrf: context.session.csrf) : .empty)</tr>
                """
        }
        let body: HTML = """
            <h1>Budgets</h1>
            <section class="panel"><table id="budgets"><caption>Budgets this period</caption><thead><tr>\
            <th scope="col">Budget</th><th scope="col">Covers</th><th scope="col">Period</th>\
            <th scope="col" class="num">Spent</th><th scope="col" class="num">Limit</th><th scope="col">Used</th>\
            <th scope="col">Projected at period end</th><th scope="col">Unpriced calls (not counted)</th>\
            <th scope="col">Resets (in the budget's time zone)</th>\
            \(context.session.canManage ? "<th scope=\"col\"><span class=\"sr-only\">Actions</span></th>" as HTML : .empty)</tr></thead>\
            <tbody>\(rows.text.isEmpty ? "<tr><td colspan=\"10\" class=\"muted\">No budgets yet.</td></tr>" as HTML : rows)</tbody></table></section>
            \(context.session.canManage ? newBudgetForm(context, problem: budgetProblem) : .empty)
            \(try await unpricedPanel(context, problem: problem))
            \(try await timeZonePanel(context))
            """
        return page(
            "Budgets", context, current: "/budgets", body,
            status: problem == nil && budgetProblem == nil ? .ok : .badRequest)
    }

    func deleteBudgetCell(_ budget: Budget, csrf: String) -> HTML {
        """
        <td class="nowrap"><a class="button quiet" href="/budgets/\(budget.id)/edit" aria-label="Edit budget \(budget.name)">\
        Edit</a> <form class="inline" method="post" action="/budgets/\(budget.id)/delete">\
        <input type="hidden" name="csrf" value="\(csrf)">\
        <button class="danger" type="submit" aria-label="Delete budget \(budget.name)">Delete</button></form></td>
        """
    }

    /// A budget form's fields as the API's JSON members, so the dashboard validates as the API does.
    static func budgetMembers(_ form: FormData) -> [String: JSONValue] {
        var members: [String: JSONValue] = ["hard": .bool(form.nonEmpty("hard") == "true")]
        for name in ["name", "scope", "value", "period", "limit_usd", "time_zone"] {
            if let value = form.nonEmpty(name) { members[name] = .string(value) }
        }
        if let hours = form.nonEmpty("window_hours") { members["window_hours"] = .number(hours) }
        if let list = form.nonEmpty("thresholds") {
            members["thresholds"] = .array(
                list.split(separator: ",").map { .number($0.trimmingCharacters(in: .whitespaces)) })
        }
        return members
    }

    @Sendable func editBudgetPage(_ request: Request, context: DashboardContext) async throws -> Response {
        try context.require(.admin)
        let id = try context.parameters.require("id")
        guard let budget = try await budgets.budgets(org: context.orgId).first(where: { $0.id == id }) else {
            throw MeterrError(.notFound, "no such budget")
        }
        return page("Edit budget", context, current: "/budgets", editBudgetForm(budget, context, problem: nil))
    }

    func editBudgetForm(_ budget: Budget, _ context: DashboardContext, problem: String?) -> HTML {
        func options(_ values: [String], selected: String) -> HTML {
            values.html { "<option value=\"\($0)\"\($0 == selected ? " selected" : "")>\($0)</option>" }
        }
        let hard: HTML = budget.hard ? " checked" : ""
        return """
            <h1>Edit budget \(budget.name)</h1>\(problem.map { problemsHTML([$0]) } ?? .empty)
            <p class="muted">A new period or time zone starts a new baseline: the spend so far goes into the budget's history.</p>
            <section class="panel"><form class="filters" method="post" action="/budgets/\(budget.id)">\
            <input type="hidden" name="csrf" value="\(context.session.csrf)">\
            <label for="e-name">Name<input id="e-name" name="name" value="\(budget.name)" required></label>\
            <label for="e-period">Period<select id="e-period" name="period">\
            \(options(["month", "week", "day", "rolling"], selected: budget.period.name))</select></label>\
            <label for="e-window">Rolling window (hours)<input id="e-window" name="window_hours" type="number" min="1" \
            value="\(budget.period.windowHours.map(String.init) ?? "")"></label>\
            <label for="e-limit">Limit (USD)<input id="e-limit" name="limit_usd" value="\(budget.limit.decimalString)" required></label>\
            <label for="e-zone">Time zone<input id="e-zone" name="time_zone" value="\(budget.timeZone)"></label>\
            <label for="e-thresholds">Alert at (% of the limit)<input id="e-thresholds" name="thresholds" \
            value="\(budget.thresholds.map(String.init).joined(separator: ", "))"></label>\
            <label><span><input type="checkbox" name="hard" value="true"\(hard)> hard: refuse calls that would cross it</span></label>\
            <button type="submit">Save</button> <a href="/budgets">Cancel</a></form></section>
            """
    }

    @Sendable func updateBudget(_ request: Request, context: DashboardContext) async throws -> Response {
        let form = try await FormData.read(request)
        try context.checkCSRF(form)
        try context.require(.admin)
        let id = try context.parameters.require("id")
        guard let old = try await budgets.budgets(org: context.orgId).first(where: { $0.id == id }) else {
            throw MeterrError(.notFound, "no such budget")
        }
        do {
            _ = try await BudgetRoutes.change(
                old, members: Self.budgetMembers(form), store: budgets, guardian: guardian, now: clock.now(),
                actor: context.session.principal.keyId)
        } catch let error as MeterrError where error.code == .invalidRequest {
            return page(
                "Edit budget", context, current: "/budgets",
                editBudgetForm(old, context, problem: (error.field.map { "\($0): " } ?? "") + error.message),
                status: .badRequest)
        }
        return redirect("/budgets")
    }

    /// The new-budget form (owners and admins), with the API's fields and validation.
    func newBudgetForm(_ context: DashboardContext, problem: String?) -> HTML {
        func options(_ values: [String], selected: String) -> HTML {
            values.html { "<option value=\"\($0)\"\($0 == selected ? " selected" : "")>\($0)</option>" }
        }
        return """
            <section class="panel" id="new-budget"><h2 id="new-budget-heading">New budget</h2>\
            \(problem.map { problemsHTML([$0]) } ?? .empty)\
            <form class="filters" method="post" action="/budgets" aria-labelledby="new-budget-heading">\
            <input type="hidden" name="csrf" value="\(context.session.csrf)">\
            <label for="b-name">Name<input id="b-name" name="name" required></label>\
            <label for="b-scope">Covers<select id="b-scope" name="scope">\
            \(options(["org", "team", "user", "project", "key", "tag"], selected: "org"))</select></label>\
            <label for="b-value">Which (team, user, key id, key=value)<input id="b-value" name="value"></label>\
            <label for="b-period">Period<select id="b-period" name="period">\
            \(options(["month", "week", "day", "rolling"], selected: "month"))</select></label>\
            <label for="b-window">Rolling window (hours)<input id="b-window" name="window_hours" type="number" min="1"></label>\
            <label for="b-limit">Limit (USD)<input id="b-limit" name="limit_usd" required inputmode="decimal"></label>\
            <label for="b-zone">Time zone<input id="b-zone" name="time_zone" value="UTC"></label>\
            <label for="b-thresholds">Alert at (% of the limit)<input id="b-thresholds" name="thresholds" value="50, 80, 100"></label>\
            <label><span><input type="checkbox" name="hard" value="true"> hard: refuse calls that would cross it</span></label>\
            <button type="submit">Create budget</button></form></section>
            """
    }

    @Sendable func createBudget(_ request: Request, context: DashboardContext) async throws -> Response {
        let form = try await FormData.read(request)
        try context.checkCSRF(form)
        try context.require(.admin)
        // The form's fields as the API's JSON members, so both validate alike.
        let members = Self.budgetMembers(form)
        do {
            guard members["name"] != nil else { throw MeterrError.invalid("name", "is required") }
            guard members["limit_usd"] != nil else {
                throw MeterrError.invalid("limit_usd", "must be a positive amount such as \"250.00\"")
            }
            let blank = Budget(
                id: Identifier.make("bud", length: 16), orgId: context.orgId, name: "", scope: .organisation,
                period: .month, timeZone: "UTC", limit: .zero, hard: false, thresholds: [50, 80, 100],
                createdAt: clock.now())
            _ = try await budgets.createBudget(
                try BudgetRoutes.apply(members, to: blank), actor: context.session.principal.keyId)
        } catch let error as MeterrError where error.code == .invalidRequest || error.code == .conflict {
            return try await budgetsResponse(
                context, budgetProblem: (error.field.map { "\($0): " } ?? "") + error.message)
        }
        try await guardian.reload()
        return redirect("/budgets")
    }

    @Sendable func deleteBudget(_ request: Request, context: DashboardContext) async throws -> Response {
        try context.checkCSRF(try await FormData.read(request))
        try context.require(.admin)
        let id = try context.parameters.require("id")
        guard try await budgets.deleteBudget(org: context.orgId, id: id, actor: context.session.principal.keyId) else {
            throw MeterrError(.notFound, "no such budget")
        }
        try await guardian.reload()
        guardian.forget(id)
        return redirect("/budgets")
    }

    /// What happens to calls of models without a price, and (for admins) the form that changes it.
    func unpricedPanel(_ context: DashboardContext, problem: String?) async throws -> HTML {
        let policy = try await unpriced.policy(org: context.orgId)
        let explained: HTML =
            switch policy {
            case .refuse:
                "refused under a hard budget (which cannot bound what it cannot price), let through unpriced otherwise"
            case .fallback(let model?): "priced as \(model)"
            case .fallback(nil): "priced as the provider's most expensive model"
            case .allow: "let through unpriced: their cost stays unknown and no budget counts them"
            }
        let heading: HTML = """
            <section class="panel" id="unpriced"><h2 id="unpriced-heading">Calls of models without a price</h2>\
            <p>Now: <strong id="unpriced-policy" data-policy="\(policy.name)">\(policy.name)</strong>, \(explained).</p>
            """
        guard context.session.canManage else { return heading + "</section>" }
        func option(_ name: String) -> HTML {
            "<option value=\"\(name)\"\(policy.name == name ? " selected" : "")>\(name)</option>"
        }
        return heading + """
            \(problem.map { problemsHTML([$0]) } ?? .empty)\
            <form class="filters" method="post" action="/budgets/unpriced" aria-labelledby="unpriced-heading">\
            <input type="hidden" name="csrf" value="\(context.session.csrf)">\
            <label for="u-policy">Policy<select id="u-policy" name="policy">\(option("refuse"))\(option("fallback"))\
            \(option("allow"))</select></label>\
            <label for="u-model">Fallback model (optional)<input id="u-model" name="model" \
            value="\(policy.fallbackModel ?? "")" placeholder="the provider's most expensive"></label>\
            <button type="submit">Save</button></form></section>
            """
    }

    @Sendable func setUnpricedPolicy(_ request: Request, context: DashboardContext) async throws -> Response {
        let form = try await FormData.read(request)
        try context.checkCSRF(form)
        try context.require(.admin)
        let model = form.nonEmpty("model")
        let policy: UnpricedPolicy
        do {
            policy = try UnpricedPolicy(name: form.nonEmpty("policy") ?? "", fallbackModel: model)
        } catch {
            return try await budgetsResponse(context, problem: error.message)
        }
        if let model, engine.resolve(model: model, provider: nil) == nil {
            return try await budgetsResponse(context, problem: "The price catalog has no model \"\(model)\".")
        }
        var current = try await unpriced.policies.policy(org: context.orgId)
        current.unpriced = policy
        try await unpriced.policies.set(org: context.orgId, current, actor: context.session.principal.keyId)
        return redirect("/budgets#unpriced")
    }

    /// The time zone the organisation counts its days and months in, and (for admins) the form that
    /// changes it.
    func timeZonePanel(_ context: DashboardContext) async throws -> HTML {
        let zone = try await calendar(context).identifier
        let heading: HTML = """
            <section class="panel" id="time-zone"><h2 id="time-zone-heading">Days and months</h2>\
            <p>Counted in <strong id="org-time-zone">\(zone)</strong>: today and this month on the overview, \
            the days of charts and date ranges, and chargeback statements.</p>
            """
        guard context.session.canManage else { return heading + "</section>" }
        return heading + """
            <form class="filters" method="post" action="/budgets/time-zone" aria-labelledby="time-zone-heading">\
            <input type="hidden" name="csrf" value="\(context.session.csrf)">\
            <label for="tz-zone">Time zone (IANA)<input id="tz-zone" name="time_zone" value="\(zone)" \
            placeholder="Europe/Berlin"></label><button type="submit">Save</button></form></section>
            """
    }

    @Sendable func setTimeZone(_ request: Request, context: DashboardContext) async throws -> Response {
        let form = try await FormData.read(request)
        try context.checkCSRF(form)
        try context.require(.admin)
        let name = form.nonEmpty("time_zone") ?? "UTC"
        guard let calendar = LocalCalendar(identifier: name) else {
            return try await budgetsResponse(
                context, problem: "\"\(name)\" is not an IANA time zone such as Europe/Berlin.")
        }
        var current = try await unpriced.policies.policy(org: context.orgId)
        current.calendar = calendar
        try await unpriced.policies.set(org: context.orgId, current, actor: context.session.principal.keyId)
        return redirect("/budgets#time-zone")
    }

    // MARK: alerts

    @Sendable func alertsPage(_ request: Request, context: DashboardContext) async throws -> Response {
        let query = request.uri.queryParameters
        let kind = query.get("kind").flatMap { $0.isEmpty ? nil : $0 }
        let severity = query.get("severity").flatMap { $0.isEmpty ? nil : $0 }
        let all = try await alerts.alerts(org: context.orgId, limit: 500, unacknowledgedOnly: false)
        let list = all.filter { (kind == nil || $0.kind == kind) && (severity == nil || $0.severity == severity) }
            .prefix(200)
        // Subjects and messages name keys and budgets by their names, not their ids.
        let keyNames = try await keyNames(org: context.orgId)
        let budgetNames = Dictionary(
            try await budgets.budgets(org: context.orgId).map { ($0.id, $0.name) },
            uniquingKeysWith: { first, _ in first })
        func named(_ text: String) -> String {
            var text = text
            for (id, name) in keyNames where text.contains(id) {
                text = text.replacing(id, with: "\"\(name)\" (\(id))")
            }
            return text
        }
        func subject(_ alert: AlertRecord) -> String {
            guard let subject = alert.subject else { return "" }
            if let name = budgetNames[subject] { return "budget \(name)" }
            if subject.hasPrefix("key:"), let name = keyNames[String(subject.dropFirst(4))] { return "key \(name)" }
            if subject == AnomalyEntity.organisation { return "the organisation" }
            return subject.replacing(":", with: " ")
        }
        let rows = list.html { alert in
            let state: HTML =
                if let at = alert.acknowledgedAt {
                    "acknowledged \(Format.time(at))"
                } else {
                    """
                    <form method="post" action="/alerts/\(alert.id)/acknowledge">\
                    <input type="hidden" name="csrf" value="\(context.session.csrf)">\
                    <button type="submit" aria-label="Acknowledge: \(alert.message)">Acknowledge</button></form>
                    """
                }
            let tone = alert.severity == "critical" ? "bad" : alert.severity == "warning" ? "warn" : ""
            return """
                <tr id="alert-\(alert.id)"><td class="nowrap">\(Format.time(alert.createdAt))</td>\
                <td class="\(tone)">\(alert.severity)</td><td>\(alert.kind)</td><td>\(subject(alert))</td>\
                <td>\(named(alert.message))</td><td>\(state)</td></tr>
                """
        }
        let open = list.count { $0.acknowledgedAt == nil }
        let kinds = Set(all.map(\.kind)).sorted().html { option in
            "<option value=\"\(option)\"\(option == kind ? " selected" : "")>\(option)</option>"
        }
        let severities = ["critical", "warning", "info"].html { option in
            "<option value=\"\(option)\"\(option == severity ? " selected" : "")>\(option)</option>"
        }
        let acknowledgeAll: HTML =
            open > 0
            ? """
            <form method="post" action="/alerts/acknowledge"><input type="hidden" name="csrf" \
            value="\(context.session.csrf)"><input type="hidden" name="kind" value="\(kind ?? "")">\
            <input type="hidden" name="severity" value="\(severity ?? "")">\
            <button type="submit" class="quiet">Acknowledge all \(Format.count(open)) shown</button></form>
            """ : ""
        let hooks = context.session.canManage ? try await webhooksPanel(context, created: nil, problem: nil) : .empty
        let body: HTML = """
            <h1>Alerts</h1><p>\(Format.count(open)) not acknowledged.</p>
            <form class="filters" method="get" action="/alerts">\
            <label for="a-kind">Kind<select id="a-kind" name="kind"><option value="">every kind</option>\(kinds)</select></label>\
            <label for="a-severity">Severity<select id="a-severity" name="severity"><option value="">every severity</option>\
            \(severities)</select></label><button type="submit">Filter</button></form>
            \(acknowledgeAll)
            <section class="panel"><table id="alerts"><caption>Alerts, newest first</caption><thead><tr>\
            <th scope="col">Raised (UTC)</th><th scope="col">Severity</th><th scope="col">Kind</th>\
            <th scope="col">Subject</th><th scope="col">Message</th><th scope="col">State</th></tr></thead>\
            <tbody>\(rows)\(list.isEmpty ? "<tr><td colspan=\"6\" class=\"muted\">No alerts.</td></tr>" as HTML : "")\
            </tbody></table></section>
            \(hooks)
            """
        return page("Alerts", context, current: "/alerts", body)
    }

    /// The organisation's webhooks with a form to add one (owners and admins); a new one's secret once.
    func webhooksPanel(_ context: DashboardContext, created: (Webhook, String)?, problem: String?) async throws -> HTML
    {
        guard let webhooks else { return .empty }
        let rows = try await webhooks.store.webhooks(org: context.orgId).html { hook in
            """
            <tr id="webhook-\(hook.id)"><td>\(hook.url)</td><td>\(hook.format)</td><td>\(Format.time(hook.createdAt))</td>\
            <td><form method="post" action="/webhooks/\(hook.id)/delete"><input type="hidden" name="csrf" \
            value="\(context.session.csrf)"><button class="danger" type="submit" aria-label="Remove webhook \(hook.url)">\
            Remove</button></form></td></tr>
            """
        }
        let shown: HTML =
            created.map { hook, secret in
                """
                <div class="notice" role="status"><strong>Webhook added for \(hook.url).</strong> Its signing secret, \
                shown only this once:<code class="secret" id="new-webhook-secret">\(secret)</code></div>
                """
            } ?? ""
        return """
            <section class="panel" id="webhooks"><h2 id="webhooks-heading">Webhooks</h2>\(shown)\
            \(problem.map { problemsHTML([$0]) } ?? .empty)\
            <table><caption>Where alerts are posted</caption><thead><tr><th scope="col">URL</th>\
            <th scope="col">Format</th><th scope="col">Added</th><th scope="col"><span class="sr-only">Actions</span></th>\
            </tr></thead><tbody>\(rows)</tbody></table>\
            <form class="filters" method="post" action="/webhooks" aria-labelledby="webhooks-heading">\
            <input type="hidden" name="csrf" value="\(context.session.csrf)">\
            <label for="w-url">URL<input id="w-url" name="url" required placeholder="https://hooks.example.com/meterr"></label>\
            <label for="w-format">Format<select id="w-format" name="format"><option value="json">json (signed)</option>\
            <option value="slack">slack</option></select></label><button type="submit">Add webhook</button></form></section>
            """
    }

    @Sendable func addWebhook(_ request: Request, context: DashboardContext) async throws -> Response {
        let form = try await FormData.read(request)
        try context.checkCSRF(form)
        try context.require(.admin)
        guard let webhooks else { throw MeterrError(.notFound, "no such page") }
        do {
            let created = try await webhooks.add(
                org: context.orgId, url: form.nonEmpty("url") ?? "", format: form.nonEmpty("format") ?? "json",
                actor: context.session.principal.keyId)
            let panel = try await webhooksPanel(context, created: created, problem: nil)
            return page("Webhooks", context, current: "/alerts", "<h1>Webhooks</h1>" + panel)
        } catch let error as MeterrError where error.code == .invalidRequest {
            let panel = try await webhooksPanel(
                context, created: nil, problem: (error.field.map { "\($0): " } ?? "") + error.message)
            return page("Webhooks", context, current: "/alerts", "<h1>Webhooks</h1>" + panel, status: .badRequest)
        }
    }

    @Sendable func removeWebhook(_ request: Request, context: DashboardContext) async throws -> Response {
        try context.checkCSRF(try await FormData.read(request))
        try context.require(.admin)
        let id = try context.parameters.require("id")
        guard let webhooks,
            try await webhooks.store.deleteWebhook(org: context.orgId, id: id, actor: context.session.principal.keyId)
        else { throw MeterrError(.notFound, "no such webhook") }
        return redirect("/alerts#webhooks")
    }

    @Sendable func acknowledgeAllAlerts(_ request: Request, context: DashboardContext) async throws -> Response {
        let form = try await FormData.read(request)
        try context.checkCSRF(form)
        try context.require(.read)
        let kind = form.nonEmpty("kind")
        let severity = form.nonEmpty("severity")
        _ = try await alerts.acknowledgeAll(
            org: context.orgId, kind: kind, severity: severity, actor: context.session.principal.keyId)
        var query: [String] = []
        if let kind {
            query.append("kind=" + (kind.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""))
        }
        if let severity { query.append("severity=" + severity) }
        return redirect("/alerts" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
    }

    @Sendable func acknowledgeAlert(_ request: Request, context: DashboardContext) async throws -> Response {
        try context.checkCSRF(try await FormData.read(request))
        try context.require(.read)
        let id = try context.parameters.require("id")
        guard try await alerts.acknowledge(org: context.orgId, id: id, actor: context.session.principal.keyId) else {
            throw MeterrError(.notFound, "no such alert")
        }
        return redirect("/alerts")
    }

    // MARK: keys

    @Sendable func keysPage(_ request: Request, context: DashboardContext) async throws -> Response {
        try await keysResponse(context)
    }

    func keysResponse(_ context: DashboardContext, created: (KeyRecord, String)? = nil, problem: String? = nil)
        async throws -> Response
    {
        guard context.session.canManage else {
            return page(
                "Keys", context, current: "/keys",
                "<h1>Keys</h1><p>Keys and provider credentials are managed by the organisation's owners and admins.</p>",
                status: .forbidden)
        }
        let csrf = context.session.csrf
        let now = clock.now()
        let rows = try await accounts.keys(org: context.orgId).html { key in
            let status =
                key.revokedAt != nil ? "revoked" : key.expiresAt.map { $0 <= now } == true ? "expired" : "active"
            let bound = [
                key.team.map { "team \($0)" }, key.user.map { "user \($0)" }, key.project.map { "project \($0)" },
            ]
            .compactMap { $0 }.joined(separator: ", ")
            let operatorKey = key.scopes.contains(.operator) && !context.session.principal.scopes.contains(.operator)
            let action: HTML =
                operatorKey && status == "active"
                ? "<span class=\"muted\">operator key</span>"
                : status == "active"
                    ? """
                    <form method="post" action="/keys/\(key.id)/revoke"><input type="hidden" name="csrf" value="\(csrf)">\
                    <button class="danger" type="submit" aria-label="Revoke key \(key.name)">Revoke</button></form>
                    """ : ""
            return """
                <tr id="key-\(key.id)"><th scope="row">\(key.name)</th><td><code>\(key.displayPrefix)…</code></td>\
                <td>\(key.scopes.nameList.joined(separator: ", "))</td><td>\(bound)</td><td>\(status)</td>\
                <td>\(Format.time(key.createdAt))</td><td>\(key.lastUsedAt.map(Format.time) ?? "never")</td>\
                <td>\(key.expiresAt.map(Format.time) ?? "—")</td><td>\(action)</td></tr>
                """
        }
        let stored = try await credentials.credentials(org: context.orgId)
        var secrets = stored.html { credential in
            """
            <tr><td>\(credential.provider.rawValue)</td><td>\(credential.team ?? "whole organisation")</td>\
            <td><code>\(credential.masked)</code></td><td>\(credential.baseURL ?? "provider default")</td>\
            <td>\(Format.time(credential.updatedAt))</td></tr>
            """
        }
        // The server's own keys serve every call an organisation's stored credential does not.
        secrets += serverCredentials.html { credential in
            let shadowed = stored.contains { $0.provider == credential.provider && $0.team == nil }
            return """
                <tr class="from-environment"><td>\(credential.provider.rawValue)</td>\
                <td>\(shadowed ? "unused here: the organisation's own key comes first" : "whole organisation, from the server")</td>\
                <td><code>\(credential.masked)</code></td><td>\(credential.baseURL)</td><td>from environment</td></tr>
                """
        }
        let shown: HTML =
            created.map { record, secret in
                """
                <div class="notice" role="status"><strong>Key "\(record.name)" created.</strong> Copy it now: \
                it is shown only this once.<code class="secret" id="new-key">\(secret)</code></div>
                """
            } ?? ""
        let scopeBoxes = KeyScopes.names.filter { $0.1 != .operator }.html { name, _ in
            let checked: HTML = name == "gateway" ? " checked" : ""
            return
                "<label><span><input type=\"checkbox\" name=\"scope\" value=\"\(name)\"\(checked)> \(name)</span></label>"
        }
        let body: HTML = """
            <h1>Keys</h1>\(shown)\(problem.map { problemsHTML([$0]) } ?? .empty)
            <section class="panel"><table id="keys"><caption>meterr keys (the secrets are never stored)</caption>\
            <thead><tr><th scope="col">Name</th><th scope="col">Prefix</th><th scope="col">Scopes</th>\
            <th scope="col">Bound to</th><th scope="col">Status</th><th scope="col">Created</th>\
            <th scope="col">Last used</th><th scope="col">Expires</th><th scope="col"><span class="sr-only">Actions</span>\
            </th></tr></thead><tbody>\(rows)</tbody></table></section>
            <section class="panel"><h2 id="new-key-heading">New key</h2>
            <form class="filters" method="post" action="/keys" aria-labelledby="new-key-heading">\
            <input type="hidden" name="csrf" value="\(csrf)">\
            <label for="k-name">Name<input id="k-name" name="name" required></label>\
            <fieldset><legend>Scopes</legend>\(scopeBoxes)</fieldset>\
            <label for="k-team">Team (optional)<input id="k-team" name="team"></label>\
            <label for="k-user">User (optional)<input id="k-user" name="user"></label>\
            <label for="k-project">Project (optional)<input id="k-project" name="project"></label>\
            <label for="k-expires">Expires (optional)<input id="k-expires" name="expires" type="date"></label>\
            <button type="submit">Create key</button></form></section>
            <section class="panel"><table id="credentials"><caption>Provider credentials (shown masked)</caption>\
            <thead><tr><th scope="col">Provider</th><th scope="col">For</th><th scope="col">Key</th>\
            <th scope="col">Upstream</th><th scope="col">Updated</th></tr></thead><tbody>\(secrets)</tbody></table>\
            <p class="muted">Set them with PUT /api/credentials/{provider}; they are sealed at rest and never shown whole.</p>\
            </section>
            """
        return page("Keys", context, current: "/keys", body)
    }

    @Sendable func createKey(_ request: Request, context: DashboardContext) async throws -> Response {
        let form = try await FormData.read(request)
        try context.checkCSRF(form)
        try context.require(.admin)
        guard let name = form.nonEmpty("name") else { return try await keysResponse(context, problem: "Name a key.") }
        guard let scopes = KeyScopes(names: form.all("scope")), !scopes.isEmpty,
            context.session.principal.scopes.isSuperset(of: scopes)
        else { return try await keysResponse(context, problem: "Choose the key's scopes.") }
        var expiresAt: Timestamp?
        if let day = form.nonEmpty("expires") {
            guard let time = Timestamp(rfc3339: day + "T00:00:00Z") else {
                return try await keysResponse(context, problem: "The expiry must be a date.")
            }
            expiresAt = time
        }
        do {
            let created = try await accounts.createKey(
                org: context.orgId,
                KeyRequest(
                    name: name, scopes: scopes, team: form.nonEmpty("team"), user: form.nonEmpty("user"),
                    project: form.nonEmpty("project"), expiresAt: expiresAt),
                actor: context.session.principal.keyId)
            return try await keysResponse(context, created: created)
        } catch let error as MeterrError where error.code == .invalidRequest || error.code == .notFound {
            return try await keysResponse(context, problem: error.message)
        }
    }

    /// Revoking asks first: the first post shows what it would stop, the second (`confirm=yes`) does it.
    @Sendable func revokeKey(_ request: Request, context: DashboardContext) async throws -> Response {
        let form = try await FormData.read(request)
        try context.checkCSRF(form)
        try context.require(.admin)
        let id = try context.parameters.require("id")
        guard form["confirm"] == "yes" else {
            guard let key = try await accounts.keys(org: context.orgId).first(where: { $0.id == id }) else {
                throw MeterrError(.notFound, "no such key")
            }
            return page(
                "Revoke key", context, current: "/keys",
                """
                <h1>Revoke the key \(key.name)?</h1>
                <p>Every app that uses <code>\(key.displayPrefix)…</code> is refused from its next call. This cannot be \
                undone; to replace a key without an outage, rotate it (<code>POST /api/keys/\(key.id)/rotate</code>), \
                which keeps the old one working for a grace period.</p>
                <form method="post" action="/keys/\(key.id)/revoke"><input type="hidden" name="csrf" \
                value="\(context.session.csrf)"><input type="hidden" name="confirm" value="yes">\
                <button class="danger" type="submit">Revoke \(key.name)</button> <a href="/keys">Cancel</a></form>
                """)
        }
        let hash: String?
        do {
            hash = try await accounts.revokeKey(
                org: context.orgId, id: id, actor: context.session.principal.keyId,
                actorScopes: context.session.principal.scopes)
        } catch let error as MeterrError where error.code == .forbidden {
            return page(
                "Revoke key", context, current: "/keys",
                "<h1>Not revoked</h1><p class=\"error\" role=\"alert\">\(error.message)</p><p><a href=\"/keys\">Back to the keys</a></p>",
                status: .forbidden)
        }
        guard let hash else { throw MeterrError(.notFound, "no such key") }
        principals.evict(hash: hash)
        return redirect("/keys")
    }

    // MARK: prices

    /// The cell saying since when a price applies: its date, or for a price the catalog gives from the
    /// model's release without recording that date (`PriceCatalog.sinceRelease`), "since release".
    static func since(_ effectiveFrom: String) -> HTML {
        guard effectiveFrom == PriceCatalog.sinceRelease else { return "<td>\(effectiveFrom)</td>" }
        return """
            <td class="muted" title="The price applies from the model's release; the catalog's source \
            (LiteLLM's price list) does not record that date, so calls of any date are priced with it.">since release</td>
            """
    }

    @Sendable func pricesPage(_ request: Request, context: DashboardContext) async throws -> Response {
        let search = request.uri.queryParameters.get("q")?.lowercased() ?? ""
        let now = clock.now()
        let entries = engine.catalog.entries.filter { search.isEmpty || $0.id.lowercased().contains(search) }
        func price(_ value: TokenPrice?) -> HTML {
            value.map { "<td class=\"num\">$\($0.perMillionText)</td>" } ?? "<td class=\"num muted\">—</td>"
        }
        let rows = entries.html { entry in
            guard let version = entry.version(at: now) else { return .empty }
            return """
                <tr><th scope="row">\(entry.id)</th><td>\(entry.mode)</td>\(price(version.prices.input))\
                \(price(version.prices.cacheRead))\(price(version.prices.cacheWrite5m))\(price(version.prices.output))\
                \(Self.since(version.effectiveFrom))</tr>
                """
        }
        let mine = overrides.filter { $0.org == context.orgId }
        let overrideRows = mine.html { override in
            let scope: String =
                switch override.scope {
                case .all: "every model"
                case .provider(let provider): "provider \(provider.rawValue)"
                case .model(let id): id
                }
            let change: String =
                switch override.adjustment {
                case .discount(let percent, _): "\(percent)% off"
                case .prices(let prices):
                    "input $\(prices.input.perMillionText)/M, output $\(prices.output.perMillionText)/M"
                }
            return "<tr><td>\(scope)</td><td>\(change)</td><td>\(override.effectiveFrom ?? "always")</td></tr>"
        }
        let body: HTML = """
            <h1>Prices</h1>
            <section class="panel"><table id="overrides"><caption>This organisation's negotiated prices \
            (applied before the catalog)</caption><thead><tr><th scope="col">Covers</th><th scope="col">Price</th>\
            <th scope="col">From</th></tr></thead><tbody>\(overrideRows)\
            \(mine.isEmpty ? "<tr><td colspan=\"3\" class=\"muted\">None: the catalog's list prices apply. Set them under price_overrides in meterr.yaml.</td></tr>" as HTML : "")\
            </tbody></table></section>
            <form class="filters" method="get" action="/prices" role="search"><label for="q">Find a model\
            <input id="q" name="q" value="\(search)"></label><button type="submit">Find</button></form>
            <section class="panel"><table id="catalog"><caption>The catalog: USD per million tokens, in effect now \
            (\(Format.count(entries.count)) models)</caption><thead><tr><th scope="col">Model</th><th scope="col">Mode</th>\
            <th scope="col" class="num">Input</th><th scope="col" class="num">Cache read</th>\
            <th scope="col" class="num">Cache write</th><th scope="col" class="num">Output</th>\
            <th scope="col">Since</th></tr></thead><tbody>\(rows)</tbody></table></section>
            """
        return page("Prices", context, current: "/prices", body)
    }
}
