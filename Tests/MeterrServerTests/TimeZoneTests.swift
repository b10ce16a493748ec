import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import MeterrTestSupport
import Testing

@testable import MeterrServer

@Suite("The organisation's time zone")
struct TimeZoneTests {
    @Test("A local calendar finds days and months across changes of clocks, and reads dates as local days")
    func calendar() throws {
        let berlin = try #require(LocalCalendar(identifier: "Europe/Berlin"))
        func at(_ text: String) throws -> Timestamp { try #require(Timestamp(rfc3339: text)) }
        // 29 March 2026: clocks go forward, the day has 23 hours; 25 October: back, 25 hours.
        let spring = try at("2026-03-29T12:00:00Z")
        #expect(berlin.dayStart(spring).rfc3339 == "2026-03-28T23:00:00.000Z")
        #expect(berlin.nextDayStart(spring).rfc3339 == "2026-03-29T22:00:00.000Z")
        let autumn = try at("2026-10-25T12:00:00Z")
        #expect(berlin.nextDayStart(autumn).milliseconds - berlin.dayStart(autumn).milliseconds == 25 * 3_600_000)
        // 23:30 UTC on 30 November is already December in Berlin.
        let lateNovember = try at("2026-11-30T23:30:00Z")
        #expect(berlin.date(lateNovember) == "2026-12-01")
        #expect(berlin.month(lateNovember) == "2026-12")
        #expect(berlin.monthStart(lateNovember).rfc3339 == "2026-11-30T23:00:00.000Z")
        #expect(berlin.nextMonthStart(lateNovember).rfc3339 == "2026-12-31T23:00:00.000Z")
        #expect(berlin.time(lateNovember) == "2026-12-01 00:30")
        #expect(LocalCalendar.utc.date(lateNovember) == "2026-11-30")
        // Dates are local days; impossible dates and other text are not.
        #expect(berlin.day("2026-07-01")?.rfc3339 == "2026-06-30T22:00:00.000Z")
        #expect(berlin.day("2026-02-30") == nil && berlin.day("yesterday") == nil)
        #expect(
            berlin.month("2026-12").map { [$0.start.rfc3339, $0.end.rfc3339] } == [
                "2026-11-30T23:00:00.000Z", "2026-12-31T23:00:00.000Z",
            ])
        // Leap day, and a zone half an hour off the hour.
        #expect(LocalCalendar.utc.nextDayStart(try at("2028-02-29T05:00:00Z")).rfc3339 == "2028-03-01T00:00:00.000Z")
        let kolkata = try #require(LocalCalendar(identifier: "Asia/Kolkata"))
        #expect(kolkata.dayStart(try at("2026-12-05T20:00:00Z")).rfc3339 == "2026-12-05T18:30:00.000Z")
        #expect(LocalCalendar(identifier: "Mars/Olympus_Mons") == nil && LocalCalendar(identifier: "") == nil)
    }

    @Test(
        "Set in the policy, the zone moves the API's days and this month, chargeback months and the dashboard's today"
    )
    func organisationZone() async throws {
        // 1 December, 12:00 UTC: three calls around midnight between November and December.
        try await withApp(clock: ManualClock("2026-12-01T12:00:00Z", ticking: true)) { client in
            let batch =
                "["
                + [
                    event("nov", ts: "2026-11-30T22:30:00.000Z", team: "ml"),  // 23:30 in Berlin
                    event("midnight", ts: "2026-11-30T23:30:00.000Z", team: "ml"),  // 00:30 on 1 December there
                    event("dec", ts: "2026-12-01T10:00:00.000Z", team: "web"),
                ].joined(separator: ",") + "]"
            #expect(try await client.post("/api/usage/events", batch).json["inserted"] as? Int == 3)
            func days(_ query: String) async throws -> [String: Int] {
                let groups = try await client.get("/api/usage/summary?group_by=day&\(query)").json["groups"]
                var counts: [String: Int] = [:]
                for group in groups as? [[String: Any]] ?? [] {
                    counts[group["day"] as? String ?? ""] = group["requests"] as? Int
                }
                return counts
            }
            let range = "from=2026-11-30T00:00:00Z&to=2026-12-02T00:00:00Z"
            // UTC until the organisation names a zone.
            #expect(
                try await days(range) == ["2026-11-30T00:00:00.000Z": 2, "2026-12-01T00:00:00.000Z": 1])
            let month = try await client.get("/api/usage/summary")
            #expect((month.json["totals"] as? [String: Any])?["requests"] as? Int == 1)

            let bad = try await client.put("/api/policy", #"{"time_zone":"Mars/Olympus_Mons"}"#)
            #expect(bad.status == .badRequest && bad.error["field"] == "time_zone")
            #expect(try await client.put("/api/policy", #"{"time_zone":"Europe/Berlin"}"#).status == .ok)
            #expect(try await client.get("/api/policy").json["time_zone"] as? String == "Europe/Berlin")
            #expect(
                try await days(range) == ["2026-11-29T23:00:00.000Z": 1, "2026-11-30T23:00:00.000Z": 2])
            // This month began at 23:00 UTC on 30 November; a call may still ask for another zone.
            let local = try await client.get("/api/usage/summary")
            #expect((local.json["totals"] as? [String: Any])?["requests"] as? Int == 2)
            #expect(local.json["from"] as? String == "2026-11-30T23:00:00.000Z")
            #expect(
                try await days(range + "&time_zone=UTC") == [
                    "2026-11-30T00:00:00.000Z": 2, "2026-12-01T00:00:00.000Z": 1,
                ])
            let unknown = try await client.get("/api/usage/summary?time_zone=Atlantis")
            #expect(unknown.status == .badRequest && unknown.error["field"] == "time_zone")

            // November's statement in Berlin holds the 23:30 call and not the one at 00:30 local time.
            let statement = try await client.get("/api/statements/2026-11").json
            #expect(statement["time_zone"] as? String == "Europe/Berlin")
            #expect(statement["from"] as? String == "2026-10-31T23:00:00.000Z")
            #expect(statement["to"] as? String == "2026-11-30T23:00:00.000Z")
            #expect((statement["totals"] as? [String: Any])?["requests"] as? Int == 1)
            #expect(statement["complete"] as? Bool == true)

            // The dashboard: today and this month are Berlin's, the range form takes local days.
            let viewer = try await client.signIn(email: "fin@example.com", role: "viewer")
            let overview = String(buffer: try await client.page("/", viewer).body)
            #expect(overview.contains("Spend today (Europe/Berlin)"))
            #expect(overview.contains("id=\"requests-month\" data-live-count=\"requests\" data-count=\"2\""))
            #expect(overview.contains("by day (Europe/Berlin)"))
            let november = String(buffer: try await client.page("/?from=2026-11-30&to=2026-11-30", viewer).body)
            #expect(november.contains("Spend 2026-11-30 to 2026-11-30"))
            #expect(november.contains("id=\"requests-month\" data-live-count=\"requests\" data-count=\"1\""))
            #expect(november.contains("id=\"overview-period\"") && !november.contains("id=\"live-status\""))
            let backwards = String(buffer: try await client.page("/?from=2026-11-30&to=2026-11-01", viewer).body)
            #expect(backwards.contains("From must be before To."))
            let garbled = String(buffer: try await client.page("/?from=last+week", viewer).body)
            #expect(garbled.contains("From must be a date (2026-11-01) or an RFC 3339 time"))
            // The usage explorer's days and times are local too.
            let usage = String(buffer: try await client.page("/usage?from=2026-12-01&to=2026-12-01", viewer).body)
            #expect(usage.contains("Time (Europe/Berlin)") && usage.contains("2026-12-01 00:30"))
            #expect(!usage.contains("2026-11-30 23:30"))
            // Statements on the dashboard say their zone.
            let printed = String(buffer: try await client.page("/statements?month=2026-11", viewer).body)
            #expect(printed.contains("Europe/Berlin · USD"))
        }
    }

    @Test("Admins change the zone on the budgets page; a name that is not a zone is refused, viewers see no form")
    func zoneFromTheDashboard() async throws {
        try await withApp { client in
            let admin = try await client.signIn(email: "admin@example.com", role: "admin")
            #expect(String(buffer: try await client.page("/budgets", admin).body).contains("id=\"org-time-zone\">UTC<"))
            let wrong = try await client.form("/budgets/time-zone", admin, "csrf=\(admin.csrf)&time_zone=Berlin")
            #expect(wrong.status == .badRequest)
            #expect(String(buffer: wrong.body).contains("is not an IANA time zone"))
            let set = try await client.form(
                "/budgets/time-zone", admin, "csrf=\(admin.csrf)&time_zone=America%2FNew_York")
            #expect(set.status == .seeOther)
            #expect(try await client.get("/api/policy").json["time_zone"] as? String == "America/New_York")
            let viewer = try await client.signIn(email: "viewer@example.com", role: "viewer")
            let page = String(buffer: try await client.page("/budgets", viewer).body)
            #expect(page.contains("id=\"org-time-zone\">America/New_York<"))
            #expect(!page.contains("action=\"/budgets/time-zone\""))
            #expect(
                try await client.form("/budgets/time-zone", viewer, "csrf=\(viewer.csrf)&time_zone=UTC").status
                    == .forbidden)
        }
    }
}
