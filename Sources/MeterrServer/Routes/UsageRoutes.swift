import Foundation
import Hummingbird
import MeterrCore
import MeterrStore
import NIOCore

/// `/api/usage/…`: ingest and query of the usage ledger.
struct UsageRoutes: Sendable {
    let writer: LedgerWriter
    let ledger: any UsageLedger
    let pricer: (any UsagePricer)?
    let unpriced: UnpricedPricing
    let budgets: BudgetGuard
    let anomalies: AnomalyDetector
    let teams: TeamDirectory
    let maxBodyBytes: Int
    let clock: WallClock

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.post("usage/events", use: ingest)
        group.get("usage/events", use: listEvents)
        group.get("usage/summary", use: summary)
    }

    /// Validates, prices and commits a batch; answers only once it is committed.
    @Sendable func ingest(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.ingest)
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw MeterrError(.payloadTooLarge, "must be at most \(maxBodyBytes) bytes", field: "body")
        }
        var (events, shape) = try EventBatchDecoder.decode(Array(body.readableBytesView), receivedAt: clock.now())
        let org = context.principal.orgId
        for index in events.indices {
            let prefix = shape.prefix(index)
            try events[index].validate(prefix: prefix)
            if events[index].org.isEmpty {
                events[index].org = org
            } else if events[index].org != org {
                throw MeterrError(
                    .forbidden, "events can only be reported for the key's organisation", field: prefix + "org")
            }
            // A key bound to a team, user or project reports for it alone.
            let principal = context.principal
            for (field, bound, reported) in [
                ("team", principal.team, events[index].team), ("user", principal.user, events[index].user),
                ("project", principal.project, events[index].project),
            ] {
                guard let bound else { continue }
                if let reported, reported != bound {
                    throw MeterrError(.forbidden, "this key reports for \(field) \(bound) only", field: prefix + field)
                }
            }
            if principal.team == nil, let team = events[index].team,
                try await unpriced.policies.policy(org: org).refuseUnknownTeams,
                try await !teams.exists(org: org, team: team)
            {
                throw MeterrError(.invalidRequest, TeamDirectory.refusal(team), field: prefix + "team")
            }
            events[index].team = principal.team ?? events[index].team
            events[index].user = principal.user ?? events[index].user
            events[index].project = principal.project ?? events[index].project
            // An event that names no key is the reporting key's.
            events[index].keyId = events[index].keyId ?? principal.keyId
            events[index].applyPrice(from: pricer)
            if events[index].cost == nil {
                unpriced.applyFallback(&events[index], policy: try await unpriced.policy(org: org))
            }
        }
        // Baselines are learnt before these events reach the rollups, so they are counted once.
        try await anomalies.prepare(org: org)
        let flags = try await writer.submit(events)
        let inserted = flags.count { $0 }
        // New reported spend counts toward budgets and baselines at once (duplicates do not).
        let new = zip(events, flags).filter { $0.1 }.map { $0.0 }
        budgets.record(new)
        new.forEach(anomalies.observe)
        return try jsonResponse(
            IngestResult(received: events.count, inserted: inserted, duplicates: events.count - inserted))
    }

    @Sendable func listEvents(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.read)
        let query = try EventQuery(parameters: request.uri.queryParameters.map { (String($0.key), String($0.value)) })
        return try jsonResponse(
            try await ledger.events(
                org: context.principal.orgId, filter: query.filter, limit: query.limit, cursor: query.cursor))
    }

    @Sendable func summary(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(.read)
        let query = request.uri.queryParameters
        let groupName = query.get("group_by") ?? "none"
        guard let groupBy = SummaryGrouping(rawValue: groupName == "key_id" ? "key" : groupName) else {
            let names = SummaryGrouping.allCases.map(\.rawValue).joined(separator: ", ")
            throw MeterrError.invalid("group_by", "must be one of \(names)")
        }
        // Days and this month in the organisation's time zone, unless the call names one.
        let org = context.principal.orgId
        let calendar: LocalCalendar
        if let name = query.get("time_zone") {
            guard let named = LocalCalendar(identifier: name) else {
                throw MeterrError.invalid("time_zone", "is not an IANA time zone such as Europe/Berlin (got \(name))")
            }
            calendar = named
        } else {
            calendar = try await unpriced.policies.policy(org: org).calendar
        }
        let now = clock.now()
        let from = try query.timestamp("from") ?? calendar.monthStart(now)
        let to = try query.timestamp("to") ?? now
        guard from <= to else { throw MeterrError.invalid("from", "must not be after to") }
        let summary = try await ledger.summary(org: org, groupBy: groupBy, from: from, to: to, calendar: calendar)
        return try jsonResponse(summary)
    }

}

extension Parameters {
    /// A query parameter that holds a time; a value that is not RFC 3339 is an invalid-request error
    /// naming it.
    func timestamp(_ name: String) throws -> Timestamp? {
        guard let text = get(name) else { return nil }
        guard let value = Timestamp(rfc3339: text) else {
            throw MeterrError.invalid(name, "must be an RFC 3339 time such as 2026-11-01T00:00:00Z")
        }
        return value
    }
}
