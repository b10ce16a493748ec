import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import MeterrStore
import MeterrTestSupport
import Testing

@testable import MeterrServer

/// A signed-in browser: its session cookie and CSRF token.
struct DashboardSignIn {
    var cookie: String
    var csrf: String
}

extension TestClientProtocol {
    /// Adds a person with a password (using `key`) and signs them in.
    func signIn(email: String, role: String, key: String = adminKey) async throws -> DashboardSignIn {
        let password = "correct horse battery"
        let created = try await post(
            "/api/users", #"{"email":"\#(email)","role":"\#(role)","password":"\#(password)"}"#, key: key)
        #expect(created.status == .created)
        let login = try await post("/auth/login", #"{"email":"\#(email)","password":"\#(password)"}"#, key: nil)
        let cookie = try #require(login.headers[.setCookie]?.split(separator: ";").first.map(String.init))
        return DashboardSignIn(cookie: cookie, csrf: try #require(login.json["csrf_token"] as? String))
    }

    func page(_ uri: String, _ session: DashboardSignIn?) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let session { headers[.cookie] = session.cookie }
        return try await execute(uri: uri, method: .get, headers: headers)
    }

    func form(_ uri: String, _ session: DashboardSignIn?, _ fields: String) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        if let session { headers[.cookie] = session.cookie }
        return try await execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: fields))
    }
}

/// The `data-usd` value of the element with `id` in a page.
func exactUSD(_ html: String, id: String) -> String? {
    guard let range = html.range(of: "id=\"\(id)\"") else { return nil }
    let rest = html[range.upperBound...]
    guard let start = rest.range(of: "data-usd=\"") else { return nil }
    return String(rest[start.upperBound...].prefix { $0 != "\"" })
}

@Suite("Dashboard pages")
struct DashboardTests {
    static let now = ordinaryMoment

    @Test("The sign-in form works without its script: a plain form post signs in, or comes back saying why")
    func signInWithoutScript() async throws {
        try await withApp { client in
            _ = try await client.post(
                "/api/users", #"{"email":"noscript@example.com","role":"viewer","password":"correct horse battery"}"#)
            let wrong = try await client.form("/auth/login", nil, "email=noscript%40example.com&password=nope")
            #expect(wrong.status == .seeOther)
            #expect(wrong.headers[.location] == "/login?error=failed")
            #expect(wrong.headers[.setCookie] == nil)
            let page = String(buffer: try await client.page("/login?error=failed", nil).body)
            #expect(page.contains("Wrong email or password."))
            let right = try await client.form(
                "/auth/login", nil, "email=noscript%40example.com&password=correct+horse+battery")
            #expect(right.status == .seeOther)
            #expect(right.headers[.location] == "/")
            let cookie = try #require(right.headers[.setCookie]?.split(separator: ";").first.map(String.init))
            let overview = try await client.execute(uri: "/", method: .get, headers: [.cookie: cookie])
            #expect(overview.status == .ok)
        }
    }

    @Test("Without a session a browser is sent to the sign-in page; the stream and form posts get a 401")
    func needsSession() async throws {
        try await withApp { client in
            let overview = try await client.page("/", nil)
            #expect(overview.status == .seeOther)
            #expect(overview.headers[.location] == "/login")
            #expect(try await client.page("/usage?team=x", nil).headers[.location] == "/login?next=%2Fusage")
            #expect(try await client.page("/events", nil).status == .unauthorized)
            #expect(try await client.form("/keys", nil, "name=x").status == .unauthorized)
            // A bearer key is not a session.
            #expect(try await client.get("/", key: adminKey).status == .seeOther)
            let signIn = try await client.page("/login", nil)
            #expect(signIn.status == .ok)
            #expect(signIn.headers[.contentSecurityPolicy] == "default-src 'self'")
            let html = String(buffer: signIn.body)
            #expect(html.contains("<form id=\"signin\""))
            // Scripts only from files of meterr's own: nothing inline for the policy to refuse.
            #expect(html.components(separatedBy: "<script").count == 2)
            #expect(html.contains("<script src=\"/assets/meterr.js\" defer></script>"))
            #expect(try await client.page("/assets/meterr.js", nil).status == .ok)
            #expect(try await client.page("/assets/meterr.css", nil).status == .ok)
        }
    }

    @Test("The overview shows the API's totals, escapes every name, and stays under 100 KB")
    func overview() async throws {
        try await withApp { client in
            let hostile = #"<img src=x onerror=alert(1)>"#
            let body = """
                [\(event("o1", ts: Self.now, model: "gpt-4o", input: 5000, cacheRead: 4000, cost: "0.012000000", team: hostile)),
                \(event("o2", ts: Self.now, model: "gpt-4o-mini", cost: "0.000900000", team: "ml")),
                \(event("o3", ts: Self.now, model: "in-house-llm", cost: nil, team: "ml"))]
                """
            #expect(try await client.post("/api/usage/events", body).status == .ok)
            let session = try await client.signIn(email: "ana@example.com", role: "viewer")
            let page = try await client.page("/", session)
            #expect(page.status == .ok)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            let html = String(buffer: page.body)
            let summary = try await client.get("/api/usage/summary").json["totals"] as? [String: Any]
            #expect(exactUSD(html, id: "spend-month") == summary?["cost_usd"] as? String)
            #expect(exactUSD(html, id: "spend-today") == summary?["cost_usd"] as? String)
            #expect(html.contains("&lt;img src=x onerror=alert(1)&gt;"))
            #expect(!html.contains(hostile))
            #expect(html.contains("1 unpriced call (1,200 tokens)</a> not counted"))
            // Cache reads of gpt-4o saved the difference between its input and cache-read prices.
            #expect(exactUSD(html, id: "cache-savings") != "0.000000000")
            #expect(page.body.readableBytes < 100_000)
            #expect(html.contains("<title id=\"chart-cost-title\">"))
            #expect(html.contains("<table id=\"series-table\">"))
            let hourly = try await client.page("/?chart=hour", session)
            #expect(String(buffer: hourly.body).contains("the last 48 hours"))
        }
    }

    @Test("Forms need the session's CSRF token; a viewer cannot create or revoke keys, an admin can")
    func formsAndRoles() async throws {
        try await withApp { client in
            let viewer = try await client.signIn(email: "vic@example.com", role: "viewer")
            let admin = try await client.signIn(email: "ana@example.com", role: "admin")
            #expect(try await client.form("/keys", admin, "name=app&scope=gateway").status == .forbidden)
            #expect(
                try await client.form("/keys", admin, "name=app&scope=gateway&csrf=\(viewer.csrf)").status == .forbidden
            )
            #expect(
                try await client.form("/keys", viewer, "name=app&scope=gateway&csrf=\(viewer.csrf)").status
                    == .forbidden)
            let keysPage = try await client.page("/keys", viewer)
            #expect(keysPage.status == .forbidden)
            #expect(!String(buffer: keysPage.body).contains("action=\"/keys\""))

            let unknownTeam = try await client.form(
                "/keys", admin, "name=search+app&scope=gateway&team=nowhere&csrf=\(admin.csrf)")
            #expect(String(buffer: unknownTeam.body).contains("class=\"error\""))
            let created = try await client.form(
                "/keys", admin, "name=search+app&scope=gateway&scope=read&csrf=\(admin.csrf)")
            #expect(created.status == .ok)
            let html = String(buffer: created.body)
            let secret = try #require(
                html.range(of: "id=\"new-key\">").map { String(html[$0.upperBound...].prefix { $0 != "<" }) })
            #expect(secret.hasPrefix("mk_"))
            #expect(try await client.get("/api/usage/summary", key: secret).status == .ok)
            let keys = try await client.get("/api/keys").json["keys"] as? [[String: Any]] ?? []
            let id = try #require(keys.first { $0["name"] as? String == "search app" }?["id"] as? String)
            #expect(!String(buffer: try await client.page("/keys", admin).body).contains(secret))
            #expect(try await client.form("/keys/\(id)/revoke", viewer, "csrf=\(viewer.csrf)").status == .forbidden)
            // Revoking asks first; the key works until the admin confirms.
            let asked = try await client.form("/keys/\(id)/revoke", admin, "csrf=\(admin.csrf)")
            #expect(asked.status == .ok)
            #expect(String(buffer: asked.body).contains("Revoke the key search app?"))
            #expect(try await client.get("/api/usage/summary", key: secret).status == .ok)
            let revoked = try await client.form("/keys/\(id)/revoke", admin, "csrf=\(admin.csrf)&confirm=yes")
            #expect(revoked.status == .seeOther)
            #expect(try await client.get("/api/usage/summary", key: secret).status == .unauthorized)

            // The installation's operator key cannot be revoked by an organisation's admin.
            let operatorId = try #require(
                (try await client.get("/api/keys").json["keys"] as? [[String: Any]] ?? []).first {
                    ($0["scopes"] as? [String])?.contains("operator") == true
                }?["id"] as? String)
            #expect(String(buffer: try await client.page("/keys", admin).body).contains("operator key</span>"))
            let refused = try await client.form("/keys/\(operatorId)/revoke", admin, "csrf=\(admin.csrf)&confirm=yes")
            #expect(refused.status == .forbidden)
            #expect(
                String(buffer: refused.body).contains("installation&#39;s operator key")
                    || String(buffer: refused.body).contains("installation's operator key"))
            #expect(try await client.get("/api/usage/summary").status == .ok)
            let out = try await client.form("/logout", admin, "csrf=\(admin.csrf)")
            #expect(out.status == .seeOther)
            #expect(try await client.page("/", admin).status == .seeOther)
        }
    }

    @Test("One organisation's people never see another's numbers, calls or export")
    func isolation() async throws {
        try await withApp { client in
            #expect(
                try await client.post(
                    "/api/usage/events", "[\(event("i1", ts: Self.now, cost: "1.500000000", team: "secret-team"))]"
                ).status == .ok)
            let other = try await client.post("/api/orgs", #"{"name":"Other Corp"}"#)
            let otherKey = try #require(other.json["admin_key"] as? String)
            let session = try await client.signIn(email: "bo@other.example", role: "owner", key: otherKey)
            let overview = String(buffer: try await client.page("/", session).body)
            #expect(exactUSD(overview, id: "spend-month") == "0.000000000")
            #expect(!overview.contains("secret-team"))
            for uri in ["/usage", "/teams", "/usage.csv"] {
                let page = String(buffer: try await client.page(uri, session).body)
                #expect(!page.contains("secret-team"), "\(uri)")
                #expect(!page.contains("1.500000000"), "\(uri)")
            }
            let drillDown = String(buffer: try await client.page("/teams?team=secret-team", session).body)
            #expect(drillDown.contains("No usage in either period"))
            #expect(!drillDown.contains("1.500000000"))
        }
    }

    @Test("One escaping function: every interpolated string becomes text; money and counts display exactly")
    func escapingAndFormats() {
        let name = #"<a href='x' onclick="y">&</a>"#
        let markup: HTML = "<td title=\"\(name)\">\(name)</td>"
        #expect(
            markup.text
                == "<td title=\"\(escapeHTML(name))\">&lt;a href=&#39;x&#39; onclick=&quot;y&quot;&gt;&amp;&lt;/a&gt;</td>"
        )
        #expect(Format.usd(Money(nanos: 1_234_567_890_123)) == "$1,234.57")
        #expect(Format.usd(Money(nanos: 4_380_000)) == "$0.00438")
        #expect(Format.usd(Money(nanos: 0)) == "$0.00")
        #expect(Format.usd(Money(nanos: -25_000_000)) == "-$0.03")
        #expect(Format.count(1_234_567) == "1,234,567")
        #expect(Format.compact(1_603_469_512) == "1.6B")
        #expect(Format.compact(42_000) == "42k")
        #expect(Format.usd(UsageTotals(requests: 2, unpricedRequests: 2)) == "unpriced")
    }

    @Test("Budgets over their limit look it: a red bar, amounts that never read the same, resets in the budget's zone")
    func budgetRows() async throws {
        try await withApp { client in
            // $0.052 against $0.05 (a model the catalog does not price keeps the cost reported): 104 %,
            // though both round to $0.05.
            _ = try await client.post(
                "/api/budgets", #"{"name":"over","scope":"team","value":"ml","limit_usd":"0.05","hard":true}"#)
            _ = try await client.post(
                "/api/budgets",
                #"{"name":"berlin","scope":"team","value":"ml","limit_usd":"100","time_zone":"Europe/Berlin"}"#)
            _ = try await client.post(
                "/api/usage/events",
                event("b1", ts: "2026-12-15T11:00:00.000Z", model: "in-house-llm", cost: "0.052000000"))
            let session = try await client.signIn(email: "fin@example.com", role: "viewer")
            let html = String(buffer: try await client.page("/budgets", session).body)
            let over = try #require(html.range(of: "<th scope=\"row\">over</th>").map { html[$0.lowerBound...] })
            let row = String(over.prefix { $0 != "\n" }.prefix(2000))
            #expect(row.contains(">$0.0520</td>") && row.contains(">$0.0500</td>"), "\(row)")
            #expect(row.contains("class=\"bad\" max=\"100\" value=\"100\""), "the bar is marked over the limit")
            #expect(row.contains("104%"))
            // The Berlin budget resets at midnight in Berlin, said with its zone; the other in UTC.
            #expect(html.contains("2027-01-01 00:00 Europe/Berlin"))
            #expect(html.contains("2027-01-01 00:00 UTC"))
        }
        #expect(Format.usdPair(Money(nanos: 50_000_001), Money(nanos: 50_000_000)) == ("$0.050000001", "$0.050000000"))
        #expect(Format.usdPair(Money(nanos: 60_000_000), Money(nanos: 50_000_000)) == ("$0.06", "$0.05"))
    }

    @Test("The usage explorer shows each call's status, why meterr refused it, its latency and time to first token")
    func explorerStatusAndLatency() async throws {
        try await withApp { client in
            let calls = [
                #"{"id":"ok","ts":"2026-11-02T10:00:00Z","provider":"openai","model":"gpt-4o","input_tokens":10,"output_tokens":5,"status":200,"latency_ms":812,"ttft_ms":95,"stream":true}"#,
                #"{"id":"failed","ts":"2026-11-02T10:01:00Z","provider":"openai","model":"gpt-4o","input_tokens":0,"output_tokens":0,"status":500,"latency_ms":40}"#,
                #"{"id":"refused","ts":"2026-11-02T10:02:00Z","provider":"openai","model":"gpt-4o","input_tokens":0,"output_tokens":0,"cost_usd":"0","status":429,"route":"refused:budget:pilot"}"#,
            ]
            #expect(try await client.post("/api/usage/events", "[" + calls.joined(separator: ",") + "]").status == .ok)
            let session = try await client.signIn(email: "ops@example.com", role: "viewer")
            let html = String(buffer: try await client.page("/usage?from=2026-11-01&to=2026-11-30", session).body)
            #expect(html.contains("<th scope=\"col\">Status</th>"))
            #expect(
                html.contains(
                    "<td class=\"status-ok\">200</td><td class=\"num\">812 ms</td><td class=\"num\">95 ms</td>"))
            #expect(html.contains("<td class=\"status-failed\">500</td><td class=\"num\">40 ms</td>"))
            #expect(html.contains("<td class=\"status-failed\">429 refused: budget pilot</td>"))
        }
    }

    @Test("A model filter finds the model's dated snapshots, in the API, the explorer's list and its totals")
    func modelFamilies() async throws {
        try await withApp { client in
            let calls = [
                "claude-sonnet-4-5-20250929", "claude-sonnet-4-5", "claude-sonnet-4-5-extra", "claude-opus-4-5",
            ]
            .enumerated().map { index, model in
                #"{"id":"m\#(index)","ts":"2026-11-02T10:00:00Z","provider":"anthropic","model":"\#(model)","input_tokens":10,"output_tokens":5,"cost_usd":"0.001"}"#
            }
            #expect(try await client.post("/api/usage/events", "[" + calls.joined(separator: ",") + "]").status == .ok)
            let api = try await client.get("/api/usage/events?model=claude-sonnet-4-5")
            let models = (api.json["events"] as? [[String: Any]] ?? []).compactMap { $0["model"] as? String }.sorted()
            #expect(models == ["claude-sonnet-4-5", "claude-sonnet-4-5-20250929"])
            let session = try await client.signIn(email: "finops@example.com", role: "viewer")
            let html = String(
                buffer: try await client.page("/usage?model=claude-sonnet-4-5&from=2026-11-01&to=2026-11-30", session)
                    .body)
            #expect(html.contains("<strong data-count=\"2\">2</strong> calls match"), "\(html.prefix(0))")
            #expect(html.contains("claude-sonnet-4-5-20250929") && !html.contains("claude-sonnet-4-5-extra"))
            #expect(ModelFamily.matches("codestral", model: "codestral-2508"))
            #expect(ModelFamily.matches("gemini-2.0-flash", model: "gemini-2.0-flash-001"))
            #expect(!ModelFamily.matches("gpt-4o", model: "gpt-4o-mini"))
            #expect(!ModelFamily.matches("gpt-4o", model: "gpt-4o-mini-2024-07-18"))
        }
    }

    @Test("The projection waits for a day of calls and says what it rests on; models past end of life are flagged")
    func projectionAndEndOfLife() async throws {
        // The clock stands at 2026-12-15 12:00 UTC.
        try await withApp { client in
            let session = try await client.signIn(email: "cfo@example.com", role: "viewer")
            _ = try await client.post(
                "/api/usage/events", event("recent", ts: "2026-12-15T11:50:00.000Z", cost: "1.00"))
            var html = String(buffer: try await client.page("/", session).body)
            #expect(html.contains("<div class=\"value\" id=\"projected\">—</div>"))
            #expect(html.contains("<div class=\"sub\" id=\"projection-basis\">from a day of calls this month</div>"))
            // Calls since 13 December: 2.5 days of pace, projected to the month's end (19 days from the 13th).
            _ = try await client.post(
                "/api/usage/events", event("older", ts: "2026-12-13T09:00:00.000Z", model: "gpt-4.1-nano", cost: "1.50")
            )
            html = String(buffer: try await client.page("/", session).body)
            #expect(html.contains("at the pace of the 2.5 days since 2026-12-13"), "\(html.prefix(0))")
            // The month's spend over 2.5 days, for the 19 days from 13 December to 1 January.
            let spent = try #require(exactUSD(html, id: "spend-month").flatMap(Money.init(decimalString:)))
            // (The test clock ticks, so the pace is a hair slower than exactly 2.5 days.)
            let projected = try #require(exactUSD(html, id: "projected").flatMap(Money.init(decimalString:)))
            let expected = spent.nanos * 19 * 2 / 5
            #expect(abs(projected.nanos - expected) <= expected / 1000, "\(projected) against \(expected)")
            #expect(html.contains("openai/gpt-4.1-nano (past its end of life, 2026-10-23)"))
            #expect(!html.contains("openai/gpt-4o (past"))
        }
    }

    @Test("The prices page shows each price's start date, and says since release where the catalog has no date")
    func priceDates() async throws {
        try await withApp { client in
            let viewer = try await client.signIn(email: "prices@example.com", role: "viewer")
            let dated = String(buffer: try await client.page("/prices?q=gpt-5.4-mini", viewer).body)
            #expect(dated.contains("<td>2026-03-17</td>"))
            let undated = String(buffer: try await client.page("/prices?q=gpt-5.6-luna", viewer).body)
            #expect(undated.contains(">since release</td>") && !undated.contains("2023-01-01"))
        }
    }

    @Test("The keys page shows the provider keys meterr was started with, masked, marked from the environment")
    func environmentCredentials() async throws {
        try await withApp(configure: { configuration in
            configuration.upstreams[.anthropic]?.apiKey = "sk-ant-api03-secretsecretsecret-WXYZ"
        }) { client in
            let session = try await client.signIn(email: "admin@example.com", role: "admin")
            let html = String(buffer: try await client.page("/keys", session).body)
            #expect(html.contains("<tr class=\"from-environment\"><td>anthropic</td>"))
            #expect(html.contains("<code>sk-…WXYZ</code>") && html.contains("from environment"))
            #expect(!html.contains("secretsecret"))
        }
    }

    @Test("The alerts page names budgets, filters by kind and severity, and acknowledges all shown at once")
    func alertsPage() async throws {
        try await withApp { client in
            let budget = try await client.post(
                "/api/budgets", #"{"name":"tiny","limit_usd":"0.01","thresholds":[50, 100]}"#)
            let budgetId = try #require(budget.json["id"] as? String)
            _ = try await client.post(
                "/api/usage/events", event("a1", ts: "2026-12-15T11:00:00.000Z", model: "in-house-llm", cost: "0.02"))
            var alerts: [[String: Any]] = []
            for _ in 0..<100 {
                alerts = try await client.get("/api/alerts").json["alerts"] as? [[String: Any]] ?? []
                if alerts.count >= 2 { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(alerts.count == 2)
            let session = try await client.signIn(email: "oncall@example.com", role: "viewer")
            var html = String(buffer: try await client.page("/alerts", session).body)
            #expect(html.contains("<td>budget tiny</td>") && !html.contains("<td>\(budgetId)</td>"))
            html = String(buffer: try await client.page("/alerts?severity=critical", session).body)
            #expect(html.components(separatedBy: "<tr id=\"alert-").count - 1 == 1, "only the 100 % alert is critical")
            let done = try await client.form(
                "/alerts/acknowledge", session, "csrf=\(session.csrf)&kind=&severity=critical")
            #expect(done.status == .seeOther)
            alerts = try await client.get("/api/alerts?unacknowledged=true").json["alerts"] as? [[String: Any]] ?? []
            #expect(alerts.count == 1 && alerts.first?["severity"] as? String != "critical")
            let rest = try await client.post("/api/alerts/acknowledge", "")
            #expect(rest.json["acknowledged"] as? Int == 1)
        }
    }

    @Test(
        "An admin creates a hard budget on the dashboard, with the API's validation, and it refuses a call; deleting it lets calls through"
    )
    func budgetFromTheDashboard() async throws {
        try await withGateway { client, _ in
            let admin = try await client.signIn(email: "boss@example.com", role: "admin")
            let bad = try await client.form(
                "/budgets", admin, "csrf=\(admin.csrf)&name=pilot&scope=org&period=month&limit_usd=lots&time_zone=UTC")
            #expect(bad.status == .badRequest)
            #expect(String(buffer: bad.body).contains("limit_usd: must be a positive amount"))
            let made = try await client.form(
                "/budgets", admin,
                "csrf=\(admin.csrf)&name=pilot&scope=org&period=month&limit_usd=0.0001&time_zone=Europe%2FBerlin"
                    + "&thresholds=50%2C+100&hard=true")
            #expect(made.status == .seeOther)
            let listed = try await client.get("/api/budgets").json["budgets"] as? [[String: Any]] ?? []
            let budget = try #require(listed.first)
            #expect(budget["name"] as? String == "pilot" && budget["hard"] as? Bool == true)
            #expect(budget["time_zone"] as? String == "Europe/Berlin")
            let body = #"{"model":"gpt-4.1","max_tokens":1000,"messages":[{"role":"user","content":"hi"}]}"#
            let refused = try await client.call(
                "/openai/v1/chat/completions", body, headers: [.authorization: "Bearer \(adminKey)"])
            #expect(refused.status == .tooManyRequests)
            #expect(String(buffer: refused.body).contains("pilot"))
            let id = try #require(budget["id"] as? String)
            // Edited on the dashboard: a bad value names the field; a higher limit lets the call through.
            let form = try await client.page("/budgets/\(id)/edit", admin)
            #expect(String(buffer: form.body).contains("value=\"0.000100000\""))
            let wrong = try await client.form(
                "/budgets/\(id)", admin, "csrf=\(admin.csrf)&name=pilot&period=month&limit_usd=-3&hard=true")
            #expect(wrong.status == .badRequest)
            #expect(String(buffer: wrong.body).contains("limit_usd: must be a positive amount"))
            let raised = try await client.form(
                "/budgets/\(id)", admin,
                "csrf=\(admin.csrf)&name=pilot&period=month&limit_usd=100&time_zone=Europe%2FBerlin&thresholds=80&hard=true"
            )
            #expect(raised.status == .seeOther)
            let edited = (try await client.get("/api/budgets").json["budgets"] as? [[String: Any]] ?? []).first
            #expect(edited?["limit_usd"] as? String == "100.000000000" && edited?["thresholds"] as? [Int] == [80])
            #expect(
                try await client.call(
                    "/openai/v1/chat/completions", body, headers: [.authorization: "Bearer \(adminKey)"]
                ).status == .ok)
            #expect(try await client.form("/budgets/\(id)/delete", admin, "csrf=\(admin.csrf)").status == .seeOther)
            let served = try await client.call(
                "/openai/v1/chat/completions", body, headers: [.authorization: "Bearer \(adminKey)"])
            #expect(served.status == .ok)
            // A viewer sees no form and cannot post one.
            let viewer = try await client.signIn(email: "peek@example.com", role: "viewer")
            #expect(!String(buffer: try await client.page("/budgets", viewer).body).contains("action=\"/budgets\""))
            #expect(
                try await client.form("/budgets", viewer, "csrf=\(viewer.csrf)&name=x&limit_usd=1").status == .forbidden
            )
        }
    }

    @Test(
        "Owners and admins add and remove webhooks on the alerts page, with the API's checks; the secret is shown once")
    func webhooksFromTheDashboard() async throws {
        try await withApp(configure: { $0.upstreamAllowHosts = ["127.0.0.1"] }) { client in
            let admin = try await client.signIn(email: "ops-admin@example.com", role: "admin")
            #expect(String(buffer: try await client.page("/alerts", admin).body).contains("id=\"webhooks\""))
            let bad = try await client.form(
                "/webhooks", admin, "csrf=\(admin.csrf)&url=ftp%3A%2F%2Fexample.com&format=json")
            #expect(bad.status == .badRequest)
            #expect(String(buffer: bad.body).contains("url: "))
            let added = try await client.form(
                "/webhooks", admin, "csrf=\(admin.csrf)&url=http%3A%2F%2F127.0.0.1%3A9%2Fhook&format=slack")
            #expect(added.status == .ok)
            #expect(String(buffer: added.body).contains("id=\"new-webhook-secret\">whsec_"))
            let hooks = try await client.get("/api/webhooks").json["webhooks"] as? [[String: Any]] ?? []
            #expect(hooks.count == 1 && hooks.first?["format"] as? String == "slack")
            let id = try #require(hooks.first?["id"] as? String)
            #expect(!String(buffer: try await client.page("/alerts", admin).body).contains("whsec_"))
            let viewer = try await client.signIn(email: "ops-viewer@example.com", role: "viewer")
            #expect(!String(buffer: try await client.page("/alerts", viewer).body).contains("id=\"webhooks\""))
            #expect(try await client.form("/webhooks/\(id)/delete", viewer, "csrf=\(viewer.csrf)").status == .forbidden)
            #expect(try await client.form("/webhooks/\(id)/delete", admin, "csrf=\(admin.csrf)").status == .seeOther)
            #expect((try await client.get("/api/webhooks").json["webhooks"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("Team analytics compares this day, week (from Monday) or month so far with the same stretch before")
    func periods() throws {
        let now = try #require(Timestamp(rfc3339: "2026-11-29T15:30:00Z"))  // a Sunday
        let week = DashboardRoutes.Period.week.ranges(now: now, calendar: .utc)
        #expect(week.current.0.rfc3339 == "2026-11-23T00:00:00.000Z")
        #expect(week.previous.0.rfc3339 == "2026-11-16T00:00:00.000Z")
        #expect(week.previous.1.rfc3339 == "2026-11-22T15:30:00.000Z")
        let month = DashboardRoutes.Period.month.ranges(now: now, calendar: .utc)
        #expect(month.current.0.rfc3339 == "2026-11-01T00:00:00.000Z")
        #expect(month.previous.0.rfc3339 == "2026-10-01T00:00:00.000Z")
        #expect(month.previous.1.rfc3339 == "2026-10-29T15:30:00.000Z")
        let day = DashboardRoutes.Period.day.ranges(now: now, calendar: .utc)
        #expect(day.previous.0.rfc3339 == "2026-11-28T00:00:00.000Z")
        #expect(day.previous.1.rfc3339 == "2026-11-28T15:30:00.000Z")
        // In the organisation's zone: Berlin is an hour ahead in November and two in October.
        let berlin = try #require(LocalCalendar(identifier: "Europe/Berlin"))
        let localWeek = DashboardRoutes.Period.week.ranges(now: now, calendar: berlin)
        #expect(localWeek.current.0.rfc3339 == "2026-11-22T23:00:00.000Z")
        let localMonth = DashboardRoutes.Period.month.ranges(now: now, calendar: berlin)
        #expect(localMonth.current.0.rfc3339 == "2026-10-31T23:00:00.000Z")
        #expect(localMonth.previous.0.rfc3339 == "2026-09-30T22:00:00.000Z")
    }

    @Test(
        "A team's page shows its users and keys now and in the previous period, as the API counts them",
        arguments: HostileMoment.all)
    func teamDrillDown(moment: HostileMoment) async throws {
        let clock = ManualClock(moment.time, ticking: true)
        try await withApp(clock: clock) { client in
            let now = clock.now
            let lastMonth = now.monthStart.adding(milliseconds: -86_400_000).monthStart.adding(milliseconds: 3_600_000)
            let body = """
                [\(event("t1", ts: now.rfc3339, team: "ml")), \(event("t2", ts: now.rfc3339, team: "ml")),
                \(event("t3", ts: lastMonth.rfc3339, team: "ml"))]
                """
            #expect(try await client.post("/api/usage/events", body).status == .ok)
            let session = try await client.signIn(email: "ana@example.com", role: "viewer")
            // The catalog prices gpt-4o, so each call costs the same, whatever was reported.
            let groups = try await client.get("/api/usage/summary?group_by=team").json["groups"] as? [[String: Any]]
            let cost = try #require(groups?.first { $0["team"] as? String == "ml" }?["cost_usd"] as? String)
            let teams = String(buffer: try await client.page("/teams", session).body)
            #expect(teams.contains("href=\"/teams?period=month&amp;team=ml\""))
            #expect(teams.contains("data-usd=\"\(cost)\""))
            let page = String(buffer: try await client.page("/teams?team=ml", session).body)
            #expect(page.contains("<table id=\"team-users\">"))
            #expect(page.contains("data-usd=\"\(cost)\""))
            // Last month's call falls in the previous stretch only if it came this early in its month.
            if now.milliseconds - now.monthStart.milliseconds > 3_600_000 {
                #expect(page.contains("<span class=\"warn\">+100%</span>"))
            }
        }
    }

    @Test("The live stream carries each organisation's committed calls to its own dashboards only")
    func broadcasterIsolation() async throws {
        let broadcaster = UsageBroadcaster(clock: ManualClock(ordinaryMoment).clock)
        let mine = broadcaster.subscribe(org: "org_a")
        let theirs = broadcaster.subscribe(org: "org_b")
        func event(_ id: String, org: String, nanos: Int64) -> UsageEvent {
            UsageEvent(
                id: id, ts: Timestamp(rfc3339: ordinaryMoment)!, org: org, provider: .openai, model: "gpt-4o",
                usage: Usage(inputTokens: 10),
                cost: Money(nanos: nanos))
        }
        broadcaster.publish([event("a1", org: "org_a", nanos: 7), event("a2", org: "org_a", nanos: 5)])
        broadcaster.publish([event("b1", org: "org_b", nanos: 100)])
        var mineIterator = mine.makeAsyncIterator()
        var theirsIterator = theirs.makeAsyncIterator()
        guard case .usage(let first) = await mineIterator.next() else { Issue.record("no delta"); return }
        #expect(first.requests == 2 && first.cost == Money(nanos: 12))
        guard case .usage(let second) = await theirsIterator.next() else { Issue.record("no delta"); return }
        #expect(second.requests == 1 && second.cost == Money(nanos: 100))
        #expect(broadcaster.count == 2)
        broadcaster.closeAll()
        #expect(await mineIterator.next() == nil)
        var late = broadcaster.subscribe(org: "org_a").makeAsyncIterator()
        #expect(await late.next() == nil)
    }

    @Test("The usage explorer and its CSV export hold exactly the filtered calls")
    func explorerAndExport() async throws {
        try await withApp { client in
            let events = (0..<7).map { index in
                event("e\(index)", ts: Self.now, cost: "0.00\(index)000000", team: index % 2 == 0 ? "ml" : "search")
            }
            #expect(try await client.post("/api/usage/events", "[\(events.joined(separator: ","))]").status == .ok)
            let session = try await client.signIn(email: "ana@example.com", role: "member")
            let api =
                try await client.get("/api/usage/events?team=ml&tag=env=prod").json["events"] as? [[String: Any]] ?? []
            let csv = try await client.page("/usage.csv?team=ml&tag=env%3Dprod", session)
            #expect(csv.headers[.contentType] == "text/csv; charset=utf-8")
            let lines = String(buffer: csv.body).split(separator: "\n")
            #expect(lines.first == Substring(UsageEventCSV.header))
            #expect(lines.count == api.count + 1)
            #expect(
                Set(lines.dropFirst().map { String($0.prefix { $0 != "," }) })
                    == Set(api.compactMap { $0["id"] as? String }))
            let uncounted = String(buffer: try await client.page("/usage?team=ml&tag=env%3Dprod", session).body)
            #expect(uncounted.contains("href=\"/usage?team=ml&amp;tag=env%3Dprod&amp;totals=1\""))
            let page = String(
                buffer: try await client.page("/usage?team=ml&tag=env%3Dprod&limit=2&totals=1", session).body)
            #expect(page.contains("data-count=\"\(api.count)\""))
            #expect(page.contains("rel=\"next\""))
            #expect(page.contains("href=\"/usage.csv?team=ml&amp;tag=env%3Dprod\""))
            let bad = try await client.page("/usage?provider=nope", session)
            #expect(String(buffer: bad.body).contains("unknown provider nope"))
        }
    }
}
