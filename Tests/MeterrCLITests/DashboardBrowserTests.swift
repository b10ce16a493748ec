import Foundation
import MeterrCore
import MeterrTestSupport
import Testing

/// Where browser screenshots go: `.build/artifacts/dashboard/` of this package (not committed).
let artifactsDirectory: String = {
    var root = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { root.deleteLastPathComponent() }
    return root.appendingPathComponent(".build/artifacts/dashboard").path
}()

@Suite("The dashboard in a real headless Chromium")
struct DashboardBrowserTests {
    static let password = "correct horse battery"

    /// An event of now, as JSON, for `POST /api/usage/events`.
    static func event(
        _ id: String, provider: String = "openai", model: String = "gpt-4o-2024-08-06", input: Int = 1200,
        cacheRead: Int = 0, output: Int = 300, team: String = "search", user: String = "ana",
        tags: String = #"{"env":"prod"}"#
    ) -> String {
        """
        {"id":"\(id)","provider":"\(provider)","model":"\(model)","input_tokens":\(input),\
        "cache_read_tokens":\(cacheRead),"output_tokens":\(output),"team":"\(team)","user":"\(user)","tags":\(tags)}
        """
    }

    func json(_ data: Data) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }

    func summary(_ server: ServerProcess, _ query: String) async throws -> [String: Any] {
        let (status, data) = try await server.get("/api/usage/summary?\(query)")
        #expect(status == 200)
        return json(data)
    }

    func signIn(_ browser: Browser, _ server: ServerProcess, email: String) async throws {
        try await browser.open("http://127.0.0.1:\(server.port)/")
        // Not signed in: the dashboard sends the browser to its sign-in page.
        try await browser.wait("return location.pathname === '/login' && !!document.getElementById('email')")
        try await browser.type("#email", email)
        try await browser.type("#password", Self.password)
        try await browser.click("#signin button[type=submit]")
        try await browser.wait("return location.pathname === '/' && !!document.getElementById('spend-month')")
    }

    @Test(
        "Sign in, see the API's numbers on every page, watch a call arrive live, and no script runs from a tag",
        .enabled(if: Browser.unavailableReason == nil, "\(Browser.unavailableReason ?? "")"))
    func dashboard() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Stopped at the end; on a failure its deinit ends it.
        // A provider key (never used: the one gateway call is refused by a budget before it leaves).
        let server = try await ServerProcess.start(
            dataDirectory: directory,
            environment: ["OPENAI_API_KEY": "sk-browser-test-0000", "METERR_OPENAI_BASE_URL": "http://127.0.0.1:9"])
        for (email, role) in [("ana@example.com", "admin"), ("vic@example.com", "viewer")] {
            let (status, _) = try await server.post(
                "/api/users", Data(#"{"email":"\#(email)","role":"\#(role)","password":"\#(Self.password)"}"#.utf8))
            #expect(status == 201)
        }
        let hostile = #"<script>window.__xss=1</script><img src=x onerror=\"window.__xss=2\">"#
        let events = [
            Self.event("b1", cacheRead: 1024),
            Self.event("b2", provider: "anthropic", model: "claude-sonnet-4-5", input: 5000, output: 700, team: "ml"),
            Self.event("b3", model: "gpt-4o-mini", input: 800, output: 90, team: "ml", user: "bo"),
            Self.event("b4", team: "search", user: "cy", tags: #"{"env":"\#(hostile)"}"#),
        ]
        let (ingested, _) = try await server.post(
            "/api/usage/events", Data(("[" + events.joined(separator: ",") + "]").utf8))
        #expect(ingested == 200)
        let (budgetStatus, _) = try await server.post(
            "/api/budgets", Data(#"{"name":"Search monthly","scope":"team","value":"search","limit_usd":"0.02"}"#.utf8))
        #expect(budgetStatus == 201)

        try await Browser.session { browser in try await drive(browser, server) }
        await server.stop()
    }

    func drive(_ browser: Browser, _ server: ServerProcess) async throws {
        let base = "http://127.0.0.1:\(server.port)"
        try await signIn(browser, server, email: "ana@example.com")

        // Overview: the month's and today's totals and each provider's cost are the API's.
        let month = try await summary(server, "group_by=provider")
        let monthTotals = try #require(month["totals"] as? [String: Any])
        #expect(try await browser.attribute("#spend-month", "data-usd") == monthTotals["cost_usd"] as? String)
        #expect(try await browser.attribute("#requests-month", "data-count") == "\(monthTotals["requests"] ?? "")")
        let dayStart = String(Timestamp.now().dayStart.rfc3339)
        let today = try #require(try await summary(server, "from=\(dayStart)")["totals"] as? [String: Any])
        #expect(try await browser.attribute("#spend-today", "data-usd") == today["cost_usd"] as? String)
        for group in month["groups"] as? [[String: Any]] ?? [] {
            let provider = try #require(group["provider"] as? String)
            let cell = try await browser.attribute("[data-live-usd='provider:\(provider)']", "data-usd")
            #expect(cell == group["cost_usd"] as? String, "provider \(provider)")
        }
        #expect(try await browser.find("#chart-cost title") != nil)
        let paint =
            try await browser.run(
                "return (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || -1") as? NSNumber
        let paintReport = String(format: "overview first contentful paint: %.0f ms", paint?.doubleValue ?? -1)
        try await browser.screenshot(to: artifactsDirectory + "/overview.png")

        // Live: a committed call shows on the open overview without a reload; the time is measured.
        try await browser.wait("return document.getElementById('live-status').textContent === 'Live: connected'")
        var latencies: [Double] = []
        for round in 1...5 {
            let sent = Date().timeIntervalSince1970 * 1000
            let (status, _) = try await server.post(
                "/api/usage/events", Data(Self.event("live-\(round)", input: 2000, output: 500).utf8))
            #expect(status == 200)
            try await browser.wait("return document.body.dataset.updates === '\(round)'")
            let shown = try #require(
                Double(try await browser.run("return document.body.dataset.lastUpdateAt") as? String ?? ""))
            latencies.append(shown - sent)
        }
        let after = try #require(try await summary(server, "group_by=none")["totals"] as? [String: Any])
        #expect(try await browser.attribute("#spend-month", "data-usd") == after["cost_usd"] as? String)
        #expect(try await browser.attribute("#requests-month", "data-count") == "\(after["requests"] ?? "")")
        #expect(
            try await browser.run("return location.pathname + performance.getEntriesByType('navigation').length")
                as? String == "/1")
        let sorted = latencies.sorted()
        let report = String(
            format: "live update latency over %d calls: median %.1f ms, max %.1f ms", sorted.count,
            sorted[sorted.count / 2],
            sorted.last ?? 0)
        print(paintReport + "\n" + report)
        try? (paintReport + "\n" + report + "\n").write(
            toFile: artifactsDirectory + "/timings.txt", atomically: true, encoding: .utf8)

        // Usage explorer: the hostile tag is shown as text, and no script of it ran.
        try await browser.open(base + "/usage?team=search")
        try await browser.wait("return !!document.getElementById('events')")
        #expect(try await browser.run("return window.__xss === undefined") as? Bool == true)
        #expect(try await browser.run("return document.querySelectorAll('script').length") as? Int == 1)
        #expect(try await browser.run("return document.querySelectorAll('#events img').length") as? Int == 0)
        let tagTexts =
            try await browser.run(
                "return Array.from(document.querySelectorAll('#events .tag')).map(e => e.textContent).join('|')")
            as? String
        #expect(tagTexts?.contains("<script>window.__xss=1</script>") == true)
        let (_, listed) = try await server.get("/api/usage/events?team=search&limit=1000")
        let searchEvents = json(listed)["events"] as? [[String: Any]] ?? []
        #expect(try await browser.attribute("#usage-totals strong", "data-count") == "\(searchEvents.count)")
        #expect(
            try await browser.run("return document.querySelectorAll('#events tbody tr').length") as? Int
                == searchEvents.count)
        try await browser.screenshot(to: artifactsDirectory + "/usage.png")
        // Sorting by cost (twice: descending) puts the dearest call first; the table exports as CSV.
        try await browser.click("#events thead th:nth-child(14)")
        try await browser.click("#events thead th:nth-child(14)")
        let dearest = searchEvents.compactMap { ($0["cost_usd"] as? String).flatMap(Double.init) }.max()
        let firstCost =
            try await browser.run(
                "return document.querySelector('#events tbody tr td[data-usd]').dataset.usd") as? String
        #expect(firstCost.flatMap(Double.init) == dearest)
        #expect(try await browser.attribute("#events thead th:nth-child(14)", "aria-sort") == "descending")
        let csv = try await browser.run("return meterrTableCSV(document.getElementById('events'))") as? String ?? ""
        #expect(csv.hasPrefix("Time (UTC),Team,User,Project,Key,Provider,Model,Status,"))
        #expect(csv.split(separator: "\n").count == searchEvents.count + 1)
        #expect(try await browser.find("#events + button.table-export") != nil)

        // The overview over a range chosen in its form (today alone): the API's numbers for it, not live.
        let todayDate = String(dayStart.prefix(10))
        try await browser.open(base + "/")
        _ = try await browser.run(
            "document.getElementById('ov-from').value = '\(todayDate)'; "
                + "document.getElementById('ov-to').value = '\(todayDate)'; "
                + "document.getElementById('overview-range').submit(); return true")
        try await browser.wait("return !!document.getElementById('overview-period')")
        let chosen = try #require(try await summary(server, "from=\(dayStart)")["totals"] as? [String: Any])
        #expect(try await browser.attribute("#spend-month", "data-usd") == chosen["cost_usd"] as? String)
        #expect(try await browser.attribute("#ov-to", "value") == todayDate)
        #expect(try await browser.find("#live-status") == nil)

        // Teams: each team's cost is the API's.
        try await browser.open(base + "/teams")
        try await browser.wait("return !!document.getElementById('teams')")
        let teams = try await summary(server, "group_by=team")
        let teamCells =
            try await browser.run(
                "return Array.from(document.querySelectorAll('#teams tbody tr')).map(r => r.querySelector('th').textContent.replace(/ \\(not created[^)]*\\)$/, '') + '=' + r.querySelector('[data-usd]').dataset.usd).join('|')"
            )
            as? String ?? ""
        for group in teams["groups"] as? [[String: Any]] ?? [] {
            #expect(
                teamCells.contains("\(group["team"] as? String ?? "(no team)")=\(group["cost_usd"] as? String ?? "")"))
        }
        try await browser.click("#teams tbody tr a")
        try await browser.wait("return !!document.getElementById('team-keys')")
        try await browser.screenshot(to: artifactsDirectory + "/teams.png")

        // Budgets: spend and limit are the API's.
        let (_, budgetData) = try await server.get("/api/budgets")
        let budget = try #require((json(budgetData)["budgets"] as? [[String: Any]])?.first)
        try await browser.open(base + "/budgets")
        try await browser.wait("return !!document.getElementById('budgets')")
        let budgetRow = "#budget-\(budget["id"] as? String ?? "")"
        #expect(
            try await browser.attribute("\(budgetRow) td:nth-of-type(3)", "data-usd") == budget["spent_usd"] as? String)
        #expect(
            try await browser.run("return document.querySelector('\(budgetRow) progress').value") as? Int
                == min(budget["percent_used"] as? Int ?? -1, 100))
        try await browser.screenshot(to: artifactsDirectory + "/budgets.png")

        // Alerts: the budget's thresholds raised alerts; acknowledging one from the page reaches the API.
        let (_, alertData) = try await server.get("/api/alerts")
        let alerts = json(alertData)["alerts"] as? [[String: Any]] ?? []
        try await browser.open(base + "/alerts")
        try await browser.wait("return !!document.getElementById('alerts')")
        #expect(
            try await browser.run("return document.querySelectorAll('#alerts tbody tr[id]').length") as? Int
                == alerts.count)
        if let first = alerts.first, let id = first["id"] as? String {
            try await browser.click("#alert-\(id) button")
            try await browser.wait(
                "return location.pathname === '/alerts' && !document.querySelector('#alert-\(id) button')")
            let (_, again) = try await server.get("/api/alerts")
            let acknowledged = (json(again)["alerts"] as? [[String: Any]])?.first { $0["id"] as? String == id }
            #expect(acknowledged?["acknowledged_at"] is String)
        }
        try await browser.screenshot(to: artifactsDirectory + "/alerts.png")

        // Keys: create one (shown once), then revoke it; the API agrees.
        try await browser.open(base + "/keys")
        try await browser.type("#k-name", "browser test key")
        try await browser.click("form[action='/keys'] button[type=submit]")
        try await browser.wait("return !!document.getElementById('new-key')")
        let secret = try await browser.text("#new-key")
        #expect(secret.hasPrefix("mk_"))
        try await browser.screenshot(to: artifactsDirectory + "/keys.png")
        let (_, keyData) = try await server.get("/api/keys")
        let created = (json(keyData)["keys"] as? [[String: Any]])?.first { $0["name"] as? String == "browser test key" }
        let keyId = try #require(created?["id"] as? String)
        try await browser.open(base + "/keys")
        #expect(try await browser.run("return document.body.textContent.includes('\(secret)')") as? Bool == false)
        try await browser.click("#key-\(keyId) button")
        // A confirmation page first.
        try await browser.wait("return document.body.textContent.includes('Revoke the key browser test key?')")
        try await browser.click("form[action='/keys/\(keyId)/revoke'] button[type=submit]")
        try await browser.wait(
            "return location.pathname === '/keys' && !document.querySelector('#key-\(keyId) button')")
        let (_, revokedData) = try await server.get("/api/keys")
        let revoked = (json(revokedData)["keys"] as? [[String: Any]])?.first { $0["id"] as? String == keyId }
        #expect(revoked?["status"] as? String == "revoked")

        // Prices: each model in effect, with the input price the API lists.
        let (_, priceData) = try await server.get("/api/prices")
        let date = String(Timestamp.now().rfc3339.prefix(10))
        var expected: [String: String] = [:]
        for model in json(priceData)["models"] as? [[String: Any]] ?? [] {
            let versions = (model["versions"] as? [[String: Any]] ?? []).filter {
                ($0["effective_from"] as? String ?? "9999") <= date
            }
            guard let input = versions.last?["input"] as? String else { continue }
            expected["\(model["provider"] as? String ?? "")/\(model["model"] as? String ?? "")"] = "$" + input
        }
        try await browser.open(base + "/prices")
        try await browser.wait("return !!document.getElementById('catalog')")
        let shown =
            try await browser.run(
                """
                return Object.fromEntries(Array.from(document.querySelectorAll('#catalog tbody tr'))
                  .map(r => [r.querySelector('th').textContent, r.querySelectorAll('td')[1].textContent]))
                """) as? [String: String]
        #expect(expected.count > 50)
        #expect(shown == expected)
        try await browser.screenshot(to: artifactsDirectory + "/prices.png")

        // Token calculator: the count for gpt-4o is the API's.
        try await browser.open(base + "/tokens")
        try await browser.type("#t-input", "Where does the money go? Every call, counted exactly.")
        try await browser.click("form[action='/tokens'] button[type=submit]")
        try await browser.wait("return !!document.getElementById('token-results')")
        let (_, countData) = try await server.post(
            "/api/tokens/count",
            Data(#"{"model":"gpt-4o","text":"Where does the money go? Every call, counted exactly."}"#.utf8))
        let apiCount = json(countData)["tokens"] as? Int ?? -1
        let row =
            try await browser.run(
                "return Array.from(document.querySelectorAll('#token-results tbody tr')).find(r => r.querySelector('th').textContent === 'gpt-4o').querySelector('td').textContent"
            ) as? String
        #expect(row?.hasPrefix("\(apiCount) exact") == true)
        try await browser.screenshot(to: artifactsDirectory + "/tokens.png")

        // A browser that prefers a dark scheme gets the dark theme.
        try await browser.open(base + "/")
        _ = try await browser.sessionCommand(
            "POST", "/goog/cdp/execute",
            [
                "cmd": "Emulation.setEmulatedMedia",
                "params": ["features": [["name": "prefers-color-scheme", "value": "dark"]]],
            ])
        #expect(
            try await browser.run("return getComputedStyle(document.body).backgroundColor") as? String
                == "rgb(13, 17, 23)")
        try await browser.screenshot(to: artifactsDirectory + "/overview-dark.png")
        _ = try await browser.sessionCommand(
            "POST", "/goog/cdp/execute",
            [
                "cmd": "Emulation.setEmulatedMedia",
                "params": ["features": [["name": "prefers-color-scheme", "value": "light"]]],
            ])

        // A hard budget made in the dashboard's form refuses the next gateway call, naming itself.
        try await browser.open(base + "/budgets")
        try await browser.type("#b-name", "Browser hard cap")
        try await browser.type("#b-limit", "0.0001")
        _ = try await browser.run(
            "document.querySelector('form[action=\"/budgets\"] input[name=hard]').checked = true; return true")
        try await browser.click("form[action='/budgets'] button[type=submit]")
        try await browser.wait(
            "return location.pathname === '/budgets' && document.getElementById('budgets').textContent.includes('Browser hard cap')"
        )
        let (refused, refusal) = try await server.post(
            "/openai/v1/chat/completions",
            Data(#"{"model":"gpt-4.1","max_tokens":1000,"messages":[{"role":"user","content":"hi"}]}"#.utf8))
        #expect(refused == 429)
        #expect(String(decoding: refusal, as: UTF8.self).contains("Browser hard cap"))

        // A viewer sees the numbers but no admin action.
        try await browser.click("header form button")
        try await browser.wait("return location.pathname === '/login'")
        try await signIn(browser, server, email: "vic@example.com")
        #expect(try await browser.attribute("#spend-month", "data-usd") == after["cost_usd"] as? String)
        try await browser.open(base + "/keys")
        #expect(try await browser.find("form[action='/keys']") == nil)
        try await browser.open(base + "/alerts")
        #expect(try await browser.find("#alerts form") != nil)  // viewers may acknowledge, as with a read key

        // "Acknowledge all" on the alerts page (a viewer may) leaves no alert open in the API.
        try await browser.open(base + "/alerts")
        try await browser.click("form[action='/alerts/acknowledge'] button")
        try await browser.wait(
            "return location.pathname === '/alerts' && !document.querySelector('form[action=\"/alerts/acknowledge\"]')")
        let (_, openAlerts) = try await server.get("/api/alerts")
        let alertList = json(openAlerts)["alerts"] as? [[String: Any]] ?? []
        #expect(!alertList.isEmpty && alertList.allSatisfy { $0["acknowledged_at"] is String })

        // Savings: a billed attempt that failed is a finding; the page's monthly figure is the API's.
        let (failed, _) = try await server.post(
            "/api/usage/events",
            Data(
                #"[{"id":"b9","provider":"openai","model":"gpt-4o","input_tokens":1000,"output_tokens":0,"status":500,"route":"fast:openai/gpt-4o policy=cheapest attempt=1","team":"ml"}]"#
                    .utf8))
        #expect(failed == 200)
        let (_, reportData) = try await server.get("/api/optimize")
        let savings = json(reportData)
        try await browser.open(base + "/savings")
        try await browser.wait("return !!document.getElementById('savings-monthly')")
        #expect(try await browser.attribute("#savings-monthly", "data-usd") == savings["monthly_saving_usd"] as? String)
        #expect((savings["monthly_saving_usd"] as? String).map { $0 != "0.000000000" } == true)
        #expect(try await browser.find("#findings tr[data-kind='retry_spend']") != nil)
        try await browser.screenshot(to: artifactsDirectory + "/savings.png")
    }
}
