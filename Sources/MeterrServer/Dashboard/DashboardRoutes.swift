import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import MeterrPricing
import MeterrStore
import NIOCore

/// The dashboard at `/`: server-rendered pages for people signed in with `/auth/login`, read from
/// the same stores as the API and scoped to the person's organisation and role.
struct DashboardRoutes: Sendable {
    let ledger: any UsageLedger
    let breakdowns: any UsageBreakdowns
    let accounts: any AccountStore
    let users: any UserStore
    let budgets: any BudgetStore
    let alerts: any AlertStore
    let credentials: any CredentialStore
    let guardian: BudgetGuard
    let prices: PriceBook
    /// The cost engine in force (SIGHUP may replace it).
    var engine: CostEngine { prices.engine }
    /// The negotiated prices in force.
    var overrides: [OrgPriceOverride] { prices.edition.overrides }
    let principals: PrincipalCache
    /// The provider keys meterr was started with (the environment or the configuration), masked,
    /// with their upstream: every organisation without its own credential uses them.
    var serverCredentials: [(provider: Provider, masked: String, baseURL: String)] = []
    /// Alert webhooks, managed on the alerts page by owners and admins.
    var webhooks: WebhookRoutes?
    let broadcaster: UsageBroadcaster
    /// Each model's calls, failures and latency, for the overview.
    var health: (any CallHealthStore)?
    /// Call shapes, for the savings page.
    var shapes: (any CallShapeStore)?
    /// How long the response cache keeps answers: the savings page's duplicate window.
    var cacheTTL: Duration = .seconds(3600)
    let unpriced: UnpricedPricing
    let clock: WallClock

    static let pages: [(path: String, title: String)] = [
        ("/", "Overview"), ("/teams", "Teams"), ("/usage", "Usage"), ("/budgets", "Budgets"), ("/alerts", "Alerts"),
        ("/keys", "Keys"), ("/prices", "Prices"), ("/tokens", "Token calculator"), ("/statements", "Statements"),
        ("/savings", "Savings"),
    ]

    func register(on router: Router<MeterrRequestContext>) {
        DashboardAssets.register(on: router)
        router.get("login", use: signInPage)
        let pages = router.group(context: DashboardRequestContext.self)
            .add(middleware: SessionMiddleware(users: users))
            .group(context: DashboardContext.self)
        pages.get("/", use: overview)
        pages.get("events", use: events)
        pages.post("logout", use: logout)
        pages.get("teams", use: teamsPage)
        pages.get("usage", use: usage)
        pages.get("usage.csv", use: usageCSV)
        pages.get("budgets", use: budgetsPage)
        pages.post("budgets/unpriced", use: setUnpricedPolicy)
        pages.post("budgets/time-zone", use: setTimeZone)
        pages.post("budgets", use: createBudget)
        pages.post("budgets/:id/delete", use: deleteBudget)
        pages.get("budgets/:id/edit", use: editBudgetPage)
        pages.post("budgets/:id", use: updateBudget)
        pages.get("alerts", use: alertsPage)
        pages.post("alerts/:id/acknowledge", use: acknowledgeAlert)
        pages.post("alerts/acknowledge", use: acknowledgeAllAlerts)
        pages.post("webhooks", use: addWebhook)
        pages.post("webhooks/:id/delete", use: removeWebhook)
        pages.get("keys", use: keysPage)
        pages.post("keys", use: createKey)
        pages.post("keys/:id/revoke", use: revokeKey)
        pages.get("prices", use: pricesPage)
        pages.get("tokens", use: tokensPage)
        pages.post("tokens", use: tokensCalculate)
        pages.get("statements", use: statementsPage)
        pages.get("statements.csv", use: statementsCSV)
        pages.get("savings", use: savingsPage)
    }

    /// The calendar the organisation counts its days and months in (`time_zone` in its policy).
    func calendar(_ context: DashboardContext) async throws -> LocalCalendar {
        try await unpriced.policies.policy(org: context.orgId).calendar
    }

    // MARK: layout

    /// A whole page: the navigation, the signed-in person, and `body`.
    func page(
        _ title: String, _ context: DashboardContext, current: String, live: Bool = false, _ body: HTML,
        status: HTTPResponse.Status = .ok
    ) -> Response {
        let navigation = Self.pages.html { page in
            let here: HTML = page.path == current ? " aria-current=\"page\"" : ""
            return "<a href=\"\(page.path)\"\(here)>\(page.title)</a>"
        }
        let user = context.session.user
        let header: HTML = """
            <header><nav aria-label="Dashboard"><a class="brand" href="/">meterr</a>\(navigation)\
            <span class="who"><span>\(user.name ?? user.email) · \(user.role.rawValue)</span>\
            <form method="post" action="/logout"><input type="hidden" name="csrf" value="\(context.session.csrf)">\
            <button type="submit">Sign out</button></form></span></nav></header>
            """
        return Self.document(title: title, live: live, header + "<main id=\"main\">\(body)</main>", status: status)
    }

    static func document(title: String, live: Bool = false, _ body: HTML, status: HTTPResponse.Status = .ok)
        -> Response
    {
        let html: HTML = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">\
            <meta name="viewport" content="width=device-width, initial-scale=1">\
            <title>\(title) · meterr</title><link rel="stylesheet" href="/assets/meterr.css">\
            <script src="/assets/meterr.js" defer></script></head>
            <body\(live ? " data-live=\"usage\"" as HTML : "")><a class="skip" href="#main">Skip to content</a>
            \(body)
            </body></html>
            """
        return Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: html.text)))
    }

    /// After a form post: back to a page (303, so a reload does not post again).
    func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    // MARK: sign-in

    @Sendable func signInPage(_ request: Request, context: MeterrRequestContext) async throws -> Response {
        // What a sign-in posted without the script came back with.
        let problem: String =
            switch request.uri.queryParameters.get("error") {
            case "failed": "Wrong email or password."
            case "org": "This email belongs to several organisations: give the organisation id."
            case "wait": "Too many failed sign-ins from this address: wait a minute."
            default: ""
            }
        return Self.document(
            title: "Sign in",
            """
            <main id="main" class="signin"><section class="panel"><h1>Sign in to meterr</h1>
            <form id="signin" class="stack" method="post" action="/auth/login">
            <label for="email">Email <input id="email" name="email" type="email" autocomplete="username" required></label>
            <label for="password">Password <input id="password" name="password" type="password" \
            autocomplete="current-password" required></label>
            <label for="org">Organisation id (only if your email is in several) <input id="org" name="org"></label>
            <button type="submit">Sign in</button>
            <p id="signin-message" class="bad" role="alert">\(problem)</p>
            </form></section></main>
            """)
    }

    @Sendable func logout(_ request: Request, context: DashboardContext) async throws -> Response {
        try context.checkCSRF(try await FormData.read(request))
        try await users.deleteSession(tokenHash: context.session.tokenHash)
        var response = redirect("/login")
        response.headers[.setCookie] = "\(SignInRoutes.cookieName)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        return response
    }

    // MARK: live updates

    /// `GET /events`: server-sent events of the organisation's new usage, one `usage` event per
    /// ledger commit, a comment as heartbeat; ends when meterr stops (a graceful shutdown cancels the
    /// task writing an event stream, `RouterChannelHandler`) or the caller leaves.
    @Sendable func events(_ request: Request, context: DashboardContext) async throws -> Response {
        let stream = broadcaster.subscribe(org: context.orgId, calendar: try await calendar(context))
        let body = ResponseBody { writer in
            try await writer.write(ByteBuffer(string: "retry: 2000\n: connected\n\n"))
            for await message in stream {
                switch message {
                case .heartbeat:
                    try await writer.write(ByteBuffer(string: ": heartbeat\n\n"))
                case .usage(let delta):
                    var buffer = ByteBuffer(string: "event: usage\ndata: ")
                    buffer.writeBytes(delta.json)
                    buffer.writeString("\n\n")
                    try await writer.write(buffer)
                }
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-store", .init("X-Accel-Buffering")!: "no"],
            body: body)
    }
}
