import Foundation
import Logging
import MeterrCore
import MeterrPostgres
import MeterrPricing
import MeterrStore
import Synchronization

/// Admission control for budgets: before a call goes upstream its worst-case cost is reserved,
/// atomically, against every budget that covers it; when it ends the reservation is settled to the
/// real cost (or released). A hard budget refuses a call whose worst case would cross its limit, so
/// concurrent calls cannot overrun it together.
///
/// Spend is held in memory per budget and period, from the ledger when a period is first seen, then
/// kept current by the calls that settle and the events reported through the API. Rolling windows
/// keep their spend per hour and slide as the hours pass.
///
/// With several nodes on PostgreSQL, each node's memory sees only its own calls, so a hard budget's
/// worst case is also held in the database (`shared`), against every hard budget at once, all or
/// none: the database's count, which every node's calls settle into, decides.
package final class BudgetGuard: Sendable {
    package struct PeriodState {
        var periodStart: Timestamp
        var periodEnd: Timestamp
        var spent: Int64
        var reserved: Int64
        /// Rolling windows: the spend of each hour in the window, by hour start.
        var hours: [Int64: Int64] = [:]
    }

    /// Money held for one call against one budget.
    package struct Hold: Sendable {
        var budget: Budget
        var periodStart: Timestamp
        /// The hour the call started in (where a rolling window counts its cost).
        var hour: Int64
        var nanos: Int64
    }

    /// Money held for one call against its budgets.
    package struct Reservation: Sendable {
        package var holds: [Hold]
        /// The hold in the shared database (hard budgets, several nodes): its organisation and id.
        package var shared: (org: String, id: String)? = nil
        /// What the call took from this node's leases of hard budgets (several nodes).
        package var claims: [BudgetLeases.Claim] = []
        package static let none = Reservation(holds: [])
    }

    /// What a call could cost at most, and why: the amount held against its budgets while it runs.
    package struct WorstCase: Sendable {
        /// Where the output allowance came from.
        package enum OutputLimit: Sendable {
            /// The call's own `max_tokens` (or its provider's name for it).
            case maxTokens
            /// The model's output limit, the call setting none.
            case modelLimit
            /// A default, the model's limit being unknown.
            case assumed
        }

        package var cost: Money
        package var inputTokens: Int
        package var outputTokens: Int
        package var outputLimit: OutputLimit
        package var model: String

        package static let zero = WorstCase(
            cost: .zero, inputTokens: 0, outputTokens: 0, outputLimit: .assumed, model: "")

        /// `32000 output tokens (its max_tokens) and ~1200 input tokens at claude-opus-4-5's prices`.
        var reason: String {
            let output =
                switch outputLimit {
                case .maxTokens: "its max_tokens"
                case .modelLimit: "the model's output limit, as the call sets no max_tokens"
                case .assumed: "assumed, as the call sets no max_tokens"
                }
            return "\(outputTokens) output tokens (\(output)) and ~\(inputTokens) input tokens at \(model)'s prices"
        }

        /// What the caller can do about a refusal.
        var advice: String {
            outputLimit == .maxTokens
                ? "lower max_tokens to what the call needs" : "set max_tokens to what the call needs"
        }
    }

    /// Why a call was refused.
    package struct Refusal: Sendable, Error {
        var budget: Budget
        var spent: Money
        var limit: Money
        var resetsAt: Timestamp
        /// What the call could cost, when known.
        var worstCase: WorstCase? = nil
        /// Held for calls in flight.
        var held: Money = .zero

        var message: String {
            let name =
                "budget \"\(budget.name)\" (\(budget.scope.kind)\(budget.scope.value.isEmpty ? "" : " \(budget.scope.value)"), "
                + "per \(budget.period.label))"
            let spentText =
                "\(spent.decimalString) of \(limit.decimalString) USD is spent"
                + (held.nanos > 0 ? " and \(held.decimalString) held for calls in flight" : "")
            guard let worstCase, worstCase.cost.nanos > 0,
                spent.nanos + held.nanos < limit.nanos
            else {
                return "\(name) would be exceeded: \(spentText); resets at \(resetsAt.rfc3339)"
            }
            // The budget has room, but not for what this call could cost: say so, and what to do.
            return "\(name) cannot hold this call: it could cost up to \(worstCase.cost.decimalString) USD "
                + "(\(worstCase.reason)), and \(spentText); \(worstCase.advice), or wait for the reset at "
                + "\(resetsAt.rfc3339)"
        }
    }

    let store: any BudgetStore
    /// The ledger's writer: spend is read from the ledger once what it holds is committed, so a period
    /// loaded just after a call counts it.
    let ledgerQueue: LedgerWriter?
    let clock: WallClock
    /// The database several nodes share, where hard budgets' holds are kept; `nil` on one node.
    let shared: PostgresStore?
    /// How long a shared hold lasts when its node never settles it (the node died): then it is
    /// charged in full.
    let holdTTL: Duration
    let logger: Logger
    /// Where threshold, forecast and block alerts go.
    let raise: @Sendable (AlertRecord) -> Void
    /// An organisation's budgets by what they cover, so finding a call's budgets takes a few lookups
    /// however many budgets there are.
    struct OrgBudgets {
        var byScope: [BudgetScope: [Budget]] = [:]
        var byTag: [Budget] = []

        init(_ budgets: [Budget]) {
            for budget in budgets {
                if case .tag = budget.scope {
                    byTag.append(budget)
                } else {
                    byScope[budget.scope, default: []].append(budget)
                }
            }
        }

        func covering(_ event: UsageEvent) -> [Budget] {
            var found = byScope[.organisation] ?? []
            if let team = event.team, let budgets = byScope[.team(team)] { found += budgets }
            if let user = event.user, let budgets = byScope[.user(user)] { found += budgets }
            if let project = event.project, let budgets = byScope[.project(project)] { found += budgets }
            if let key = event.keyId, let budgets = byScope[.key(key)] { found += budgets }
            for budget in byTag
            where budget.scope.covers(team: nil, user: nil, project: nil, keyId: nil, tags: event.tags) {
                found.append(budget)
            }
            return found
        }
    }

    private let budgetsByOrg = Mutex([String: OrgBudgets]())
    /// Slices of hard budgets this node holds in the shared database.
    let leases = BudgetLeases()
    /// When every loaded budget was last recounted from the ledger (several nodes).
    private let lastRecount = Mutex(ContinuousClock.now)
    /// Shared holds whose calls ended, waiting to be settled together.
    private let settling = Mutex((pending: [(org: String, holdId: String, actual: Money)](), flushing: false))
    private let states = Mutex([String: PeriodState]())
    /// Reloads started, and the latest started of those applied.
    private let reloads = Mutex((started: 0, applied: 0))

    package init(
        store: any BudgetStore, ledgerQueue: LedgerWriter? = nil, clock: WallClock = .system,
        shared: PostgresStore? = nil,
        holdTTL: Duration = .seconds(600), logger: Logger = Logger(label: "meterr.budgets"),
        raise: @escaping @Sendable (AlertRecord) -> Void = { _ in }
    ) {
        self.store = store
        self.ledgerQueue = ledgerQueue
        self.clock = clock
        self.shared = shared
        self.holdTTL = holdTTL
        self.logger = logger
        self.raise = raise
    }

    /// The alerts for thresholds crossed between two spends of a budget's period.
    func crossings(_ budget: Budget, state: PeriodState, from before: Int64, to after: Int64) -> [AlertRecord] {
        guard budget.limit.nanos > 0 else { return [] }
        let was = before * 100 / budget.limit.nanos
        let now = after * 100 / budget.limit.nanos
        return budget.thresholds.filter { was < $0 && now >= $0 }.map { threshold in
            AlertRecord(
                id: Identifier.make("alr", length: 16), orgId: budget.orgId, kind: "budget.threshold",
                subject: budget.id,
                severity: threshold >= 100 ? "critical" : threshold >= 80 ? "warning" : "info",
                message: "budget \"\(budget.name)\" reached \(threshold)%: \(Money(nanos: after).decimalString) of "
                    + "\(budget.limit.decimalString) USD per \(budget.period.label)",
                dedupeKey: "budget:\(budget.id):\(state.periodStart.milliseconds):\(threshold)", createdAt: clock.now()
            ).withDetails(
                Self.details(budget, state: state, spent: after, extra: ["threshold_percent": String(threshold)]))
        }
    }

    /// A budget alert's facts, for webhook payloads.
    static func details(_ budget: Budget, state: PeriodState, spent: Int64, extra: [String: String] = [:]) -> [String:
        String]
    {
        var details = [
            "budget_id": budget.id, "budget_name": budget.name, "scope": budget.scope.kind,
            "limit_usd": budget.limit.decimalString, "spent_usd": Money(nanos: spent).decimalString,
            "period": budget.period.label, "period_start": state.periodStart.rfc3339,
            "hard": budget.hard ? "true" : "false", "page": "/budgets",
        ]
        if !budget.scope.value.isEmpty { details["scope_value"] = budget.scope.value }
        details.merge(extra) { $1 }
        return details
    }

    /// The forecast alert of a calendar budget whose pace would cross its limit before the period
    /// ends ("projected to exceed on the 23rd"), once per period.
    func forecastAlert(_ budget: Budget, state: PeriodState, now: Timestamp) -> AlertRecord? {
        guard !budget.period.isRolling, state.spent < budget.limit.nanos,
            let forecast = Self.forecast(
                spent: state.spent, limit: budget.limit.nanos, periodStart: state.periodStart,
                periodEnd: state.periodEnd, now: now),
            let exceedsAt = forecast.exceedsAt, exceedsAt < state.periodEnd
        else { return nil }
        return AlertRecord(
            id: Identifier.make("alr", length: 16), orgId: budget.orgId, kind: "budget.forecast", subject: budget.id,
            severity: "warning",
            message:
                "budget \"\(budget.name)\" is projected to exceed its limit on \(Self.day(exceedsAt, budget.zone)): "
                + "\(forecast.projected.decimalString) of \(budget.limit.decimalString) USD this \(budget.period.name) "
                + "at the current pace",
            dedupeKey: "budget-forecast:\(budget.id):\(state.periodStart.milliseconds)", createdAt: now
        ).withDetails(
            Self.details(
                budget, state: state, spent: state.spent,
                extra: ["projected_usd": forecast.projected.decimalString, "exceeds_at": exceedsAt.rfc3339]))
    }

    /// `the 23rd (2026-11-23)`, in the budget's zone.
    static func day(_ time: Timestamp, _ zone: TimeZone) -> String {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = zone
        let parts = calendar.dateComponents(
            [.year, .month, .day], from: Date(timeIntervalSince1970: Double(time.milliseconds) / 1000))
        let day = parts.day ?? 1
        let suffix =
            switch (day % 100, day % 10) {
            case (11...13, _): "th"
            case (_, 1): "st"
            case (_, 2): "nd"
            case (_, 3): "rd"
            default: "th"
            }
        let date = String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, day)
        return "the \(day)\(suffix) (\(date))"
    }

    /// Adds spend to a budget's state, raising the alerts of the thresholds it crosses.
    private func addSpend(
        _ nanos: Int64, hour: Int64, to budget: Budget, in states: inout [String: PeriodState], now: Timestamp
    ) -> [AlertRecord] {
        guard var state = states[budget.id], nanos != 0 else { return [] }
        if budget.period.isRolling {
            guard hour >= state.periodStart.milliseconds && hour < state.periodEnd.milliseconds else { return [] }
            state.hours[hour, default: 0] += nanos
        }
        let before = state.spent
        state.spent += nanos
        states[budget.id] = state
        var alerts = crossings(budget, state: state, from: before, to: state.spent)
        if let forecast = forecastAlert(budget, state: state, now: now) { alerts.append(forecast) }
        return alerts
    }

    /// Loads every budget (at start, and after a change).
    ///
    /// Reloads run at once (two budgets created together, say). One that started later read the store
    /// later, so it alone is kept: an earlier one finishing after it would put back a list without the
    /// newer budget, leaving it unenforced and its state dropped.
    package func reload() async throws {
        let ticket = reloads.withLock { reloads in
            reloads.started += 1
            return reloads.started
        }
        let all = try await store.allBudgets()
        let grouped = Dictionary(grouping: all, by: \.orgId).mapValues(OrgBudgets.init)
        let ids = Set(all.map(\.id))
        reloads.withLock { reloads in
            guard ticket > reloads.applied else { return }
            reloads.applied = ticket
            budgetsByOrg.withLock { $0 = grouped }
            states.withLock { states in states = states.filter { ids.contains($0.key) } }
        }
    }

    /// Forgets a budget's spend, so its next use counts it afresh from the ledger.
    func forget(_ budgetId: String) { _ = states.withLock { $0.removeValue(forKey: budgetId) } }

    /// How many budgets an organisation has (as last loaded).
    func budgetCount(org: String) -> Int {
        budgetsByOrg.withLock { $0[org].map { $0.byScope.values.reduce($0.byTag.count) { $0 + $1.count } } ?? 0 }
    }

    /// The budgets that cover a call.
    package func budgets(for event: UsageEvent) -> [Budget] {
        budgetsByOrg.withLock { $0[event.org] }?.covering(event) ?? []
    }

    /// A scope's spend over `[from, to)` in the ledger, counting the events its writer still holds.
    private func ledgerSpend(org: String, scope: BudgetScope, from: Timestamp, to: Timestamp) async throws -> Money {
        await ledgerQueue?.flush()
        return try await store.spend(org: org, scope: scope, from: from, to: to)
    }

    /// A scope's spend by hour over `[from, to)` in the ledger, counting the events its writer still holds.
    private func ledgerHourlySpend(org: String, scope: BudgetScope, from: Timestamp, to: Timestamp) async throws
        -> [Int64: Int64]
    {
        await ledgerQueue?.flush()
        return try await store.hourlySpend(org: org, scope: scope, from: from, to: to)
    }

    /// Makes sure each budget's current period is loaded from the ledger (or its window slid on).
    package func prepare(_ budgets: [Budget], now: Timestamp) async throws {
        for budget in budgets {
            // The common case, without calendar arithmetic: the loaded period still holds `now`.
            let current = states.withLock { states in
                guard let state = states[budget.id] else { return false }
                return budget.period.isRolling
                    ? state.periodEnd.milliseconds == now.hourStart.milliseconds + 3_600_000
                    : state.periodStart <= now && now < state.periodEnd
            }
            if current { continue }
            let (start, end) = budget.period.bounds(of: now, in: budget.zone)
            let known = states.withLock { $0[budget.id]?.periodStart }
            if known == start { continue }
            if budget.period.isRolling, let known, known < start {
                states.withLock { states in
                    guard var state = states[budget.id], state.periodStart < start else { return }
                    state.hours = state.hours.filter { $0.key >= start.milliseconds }
                    state.spent = state.hours.values.reduce(0, +)
                    state.periodStart = start
                    state.periodEnd = end
                    states[budget.id] = state
                }
                continue
            }
            if known != nil { try await closeFinishedPeriods(of: budget, now: now) }
            var hours: [Int64: Int64] = [:]
            let spent: Int64
            if budget.period.isRolling {
                hours = try await ledgerHourlySpend(org: budget.orgId, scope: budget.scope, from: start, to: end)
                spent = hours.values.reduce(0, +)
            } else {
                spent = try await ledgerSpend(org: budget.orgId, scope: budget.scope, from: start, to: end).nanos
            }
            let loaded = states.withLock { states -> PeriodState? in
                // Another call may have loaded it meanwhile; the first load stands (it has their holds).
                guard states[budget.id]?.periodStart != start else { return nil }
                let state = PeriodState(periodStart: start, periodEnd: end, spent: spent, reserved: 0, hours: hours)
                states[budget.id] = state
                return state
            }
            // Thresholds already crossed (before a restart, say) are raised again; their dedupe keys
            // keep each to one alert per period.
            if let loaded { crossings(budget, state: loaded, from: 0, to: loaded.spent).forEach(raise) }
        }
    }

    /// When a refused call could next fit: the period's end, or for a rolling window the hour its
    /// oldest spend leaves it.
    static func resetsAt(_ budget: Budget, _ state: PeriodState) -> Timestamp {
        guard let hours = budget.period.windowHours,
            let oldest = state.hours.filter({ $0.value > 0 }).keys.min()
        else { return state.periodEnd }
        return Timestamp(milliseconds: oldest + Int64(hours) * 3_600_000)
    }

    /// The most a call can cost: its prompt (counted) plus its output limit (`max_tokens`, else the
    /// model's output limit, else 4,096 tokens), at the model's price, or at `priceAs`'s (an unpriced
    /// model's fallback); zero for an unpriced model without one.
    package static func worstCase(
        estimator: any TokenEstimator, engine: CostEngine, provider: Provider, model: String?, maxTokens: Int?,
        body: [UInt8], at time: Timestamp, priceAs fallback: CatalogEntry? = nil
    ) -> Money {
        worstCaseDetail(
            estimator: estimator, engine: engine, provider: provider, model: model, maxTokens: maxTokens, body: body,
            at: time, priceAs: fallback
        ).cost
    }

    /// The worst case of a call and how it was reckoned.
    package static func worstCaseDetail(
        estimator: any TokenEstimator, engine: CostEngine, provider: Provider, model: String?, maxTokens: Int?,
        body: [UInt8], at time: Timestamp, priceAs fallback: CatalogEntry? = nil
    ) -> WorstCase {
        guard let model else { return .zero }
        let input = estimator.inputTokens(provider: provider, model: model, requestBody: body)
        let entry = fallback ?? engine.resolve(model: model, provider: provider)
        let output = maxTokens ?? entry?.maxOutputTokens ?? 4_096
        let limit: WorstCase.OutputLimit =
            maxTokens != nil ? .maxTokens : entry?.maxOutputTokens != nil ? .modelLimit : .assumed
        let usage = Usage(inputTokens: input, outputTokens: output)
        let (priced, priceProvider) = fallback.map { ($0.model, $0.provider) } ?? (model, provider)
        let cost = (try? engine.cost(model: priced, provider: priceProvider, usage: usage, at: time))??.cost ?? .zero
        return WorstCase(cost: cost, inputTokens: input, outputTokens: output, outputLimit: limit, model: priced)
    }

    /// Reserves `worstCase` against every budget, or refuses if a hard one would be crossed (nothing held then).
    package func reserve(_ budgets: [Budget], worstCase: Money, basis: WorstCase? = nil, now: Timestamp) -> Result<
        Reservation, Refusal
    > {
        if budgets.isEmpty { return .success(.none) }
        return states.withLock { states in
            for budget in budgets where budget.hard {
                guard let state = states[budget.id] else { continue }
                if state.spent + state.reserved + worstCase.nanos > budget.limit.nanos {
                    let refusal = Refusal(
                        budget: budget, spent: Money(nanos: state.spent), limit: budget.limit,
                        resetsAt: Self.resetsAt(budget, state), worstCase: basis, held: Money(nanos: state.reserved))
                    raise(blockedAlert(refusal, state: state, worstCase: worstCase, now: now))
                    return .failure(refusal)
                }
            }
            var holds: [Hold] = []
            for budget in budgets {
                guard var state = states[budget.id] else { continue }
                state.reserved += worstCase.nanos
                states[budget.id] = state
                holds.append(
                    Hold(
                        budget: budget, periodStart: state.periodStart, hour: now.hourStart.milliseconds,
                        nanos: worstCase.nanos))
            }
            return .success(Reservation(holds: holds))
        }
    }

    /// The alert of a call a hard budget refused.
    func blockedAlert(_ refusal: Refusal, state: PeriodState, worstCase: Money, now: Timestamp) -> AlertRecord {
        let budget = refusal.budget
        return AlertRecord(
            id: Identifier.make("alr", length: 16), orgId: budget.orgId, kind: "budget.blocked",
            subject: budget.id, severity: "critical", message: refusal.message,
            dedupeKey: "budget-blocked:\(budget.id):\(state.periodStart.milliseconds)",
            createdAt: now
        ).withDetails(
            Self.details(
                budget, state: state, spent: refusal.spent.nanos,
                extra: ["call_worst_case_usd": worstCase.decimalString]))
    }

    /// Reserves `worstCase` against every budget as `reserve` does and, on a database several nodes
    /// share, against the hard ones there too, all or none: from this node's leases of them in
    /// memory, taking a new lease in one statement when one lacks room. A call is refused when this
    /// node's count or the database's would cross a hard budget.
    package func admit(_ budgets: [Budget], worstCase: Money, basis: WorstCase? = nil, now: Timestamp) async throws
        -> Result<Reservation, Refusal>
    {
        let local = reserve(budgets, worstCase: worstCase, basis: basis, now: now)
        guard let shared, case .success(var reservation) = local else { return local }
        let hard = reservation.holds.filter(\.budget.hard)
        guard let org = hard.first?.budget.orgId else { return local }
        let wanted = hard.map { (id: $0.budget.id, periodStart: $0.periodStart) }
        do {
            // A few rounds: calls running at once may take a new lease's room first.
            for _ in 0..<4 {
                switch leases.take(wanted, org: org, amount: worstCase.nanos) {
                case .success(let claims):
                    reservation.claims = claims
                    return .success(reservation)
                case .failure(let lacking):
                    for budgetId in lacking.budgets.sorted() {
                        guard let hold = hard.first(where: { $0.budget.id == budgetId }) else { continue }
                        if try await !lease(hold, org: org, worstCase: worstCase, shared: shared) {
                            settle(reservation, cost: nil)
                            return .failure(
                                try await refusal(
                                    hold, org: org, worstCase: worstCase, basis: basis, now: now, shared: shared))
                        }
                    }
                }
            }
            // Still none: hold this call's worst case on every hard budget itself.
            let periods = hard.map { hold in
                BudgetPeriodLimit(
                    budgetId: hold.budget.id, periodStart: hold.periodStart, limit: hold.budget.limit,
                    spentBefore: Money(nanos: states.withLock { $0[hold.budget.id]?.spent } ?? 0))
            }
            switch try await shared.hold(org: org, amount: worstCase, budgets: periods, ttl: holdTTL) {
            case .held(let id):
                reservation.shared = (org, id)
                return .success(reservation)
            case .refused(let budgetId, _):
                settle(reservation, cost: nil)
                guard let hold = hard.first(where: { $0.budget.id == budgetId }) else {
                    throw MeterrError(.storage, "budget \(budgetId) was refused by the database but is not loaded")
                }
                return .failure(
                    try await refusal(hold, org: org, worstCase: worstCase, basis: basis, now: now, shared: shared))
            }
        } catch {
            settle(reservation, cost: nil)
            throw error
        }
    }

    /// Takes a new lease of a hard budget: a slice of it, or the call's worst case when less is
    /// left; `false` when not even that is left.
    private func lease(_ hold: Hold, org: String, worstCase: Money, shared: PostgresStore) async throws -> Bool {
        let period = BudgetPeriodLimit(
            budgetId: hold.budget.id, periodStart: hold.periodStart, limit: hold.budget.limit,
            spentBefore: Money(nanos: states.withLock { $0[hold.budget.id]?.spent } ?? 0))
        var amount = BudgetLeases.slice(limit: hold.budget.limit, worstCase: worstCase.nanos)
        var outcome = try await shared.hold(org: org, amount: Money(nanos: amount), budgets: [period], ttl: holdTTL)
        if case .refused = outcome, amount > worstCase.nanos {
            amount = worstCase.nanos
            outcome = try await shared.hold(org: org, amount: worstCase, budgets: [period], ttl: holdTTL)
        }
        guard case .held(let id) = outcome else { return false }
        let lease = BudgetLeases.Lease(
            id: id, org: org, budgetId: hold.budget.id, periodStart: hold.periodStart, granted: amount)
        if let replaced = leases.install(lease) {
            settleShared(org: replaced.org, holdId: replaced.id, actual: Money(nanos: replaced.spent))
        }
        return true
    }

    /// Why the database refused a call on a hard budget, with what is spent and held there.
    private func refusal(
        _ hold: Hold, org: String, worstCase: Money, basis: WorstCase?, now: Timestamp, shared: PostgresStore
    ) async throws -> Refusal {
        let budget = hold.budget
        guard let state = states.withLock({ $0[budget.id] }) else {
            throw MeterrError(.storage, "budget \(budget.id) was refused by the database but is not loaded")
        }
        let use = try await shared.budgetUse(org: org, budgetId: budget.id, periodStart: state.periodStart)
        let refusal = Refusal(
            budget: budget, spent: use.spent, limit: budget.limit, resetsAt: Self.resetsAt(budget, state),
            worstCase: basis, held: use.held)
        raise(blockedAlert(refusal, state: state, worstCase: worstCase, now: now))
        return refusal
    }

    /// Retires this node's leases taken before `cutoff`: what their calls spent reaches the
    /// database, what they did not goes back to every node (the upkeep does it every few seconds).
    package func retireLeases(takenBefore cutoff: ContinuousClock.Instant) {
        for lease in leases.retire(takenBefore: cutoff) {
            settleShared(org: lease.org, holdId: lease.id, actual: Money(nanos: lease.spent))
        }
    }

    /// Before the node stops: settles every lease and hold waiting to be settled, and waits for it,
    /// so a restart leaves nothing to expire and be charged in full.
    package func settleAll() async {
        guard let shared else { return }
        let retired = leases.retire(takenBefore: .now + .seconds(86_400))
        let pending = settling.withLock { state in
            defer { state.pending.removeAll() }
            return state.pending
        }
        let batch = pending + retired.map { (org: $0.org, holdId: $0.id, actual: Money(nanos: $0.spent)) }
        do {
            try await shared.settle(batch)
        } catch {
            logger.warning(
                "budget holds were not settled at shutdown; they are charged in full when they expire",
                metadata: ["holds": "\(batch.count)", "error": "\(String(reflecting: error))"])
        }
    }

    /// Settles a shared hold off the call's path, with the others that end within a few
    /// milliseconds, in one statement. If it never lands, the hold expires and is charged in full.
    private func settleShared(org: String, holdId: String, actual: Money) {
        let flush = settling.withLock { state -> Bool in
            state.pending.append((org, holdId, actual))
            defer { state.flushing = true }
            return !state.flushing
        }
        guard flush, let shared else { return }
        let logger = logger
        Task {
            while true {
                try? await Task.sleep(for: .milliseconds(2))
                let batch = settling.withLock { state in
                    defer { state.pending.removeAll() }
                    if state.pending.isEmpty { state.flushing = false }
                    return state.pending
                }
                if batch.isEmpty { return }
                do {
                    try await shared.settle(batch)
                } catch {
                    logger.warning(
                        "budget holds were not settled; they are charged in full when they expire",
                        metadata: ["holds": "\(batch.count)", "error": "\(String(reflecting: error))"])
                }
            }
        }
    }

    /// Settles a reservation: the hold is released and the real cost (if any) is spent.
    package func settle(_ reservation: Reservation, cost: Money?) {
        if let hold = reservation.shared { settleShared(org: hold.org, holdId: hold.id, actual: cost ?? .zero) }
        for lease in leases.give(reservation.claims, cost: cost?.nanos ?? 0) {
            settleShared(org: lease.org, holdId: lease.id, actual: Money(nanos: lease.spent))
        }
        guard !reservation.holds.isEmpty else { return }
        let now = clock.now()
        let alerts = states.withLock { states in
            var alerts: [AlertRecord] = []
            for hold in reservation.holds {
                guard var state = states[hold.budget.id] else { continue }
                // A calendar period that ended during the call was loaded afresh without this hold;
                // a rolling window keeps its holds as it slides.
                guard hold.budget.period.isRolling || state.periodStart == hold.periodStart else { continue }
                state.reserved = max(0, state.reserved - hold.nanos)
                states[hold.budget.id] = state
                alerts += addSpend(cost?.nanos ?? 0, hour: hold.hour, to: hold.budget, in: &states, now: now)
            }
            return alerts
        }
        alerts.forEach(raise)
    }

    /// Counts usage reported through the API (not the gateway's own calls, which settle).
    func record(_ events: [UsageEvent]) {
        let now = clock.now()
        for event in events {
            guard let cost = event.cost else { continue }
            let covering = budgets(for: event)
            if let shared {
                // The shared count of hard budgets whose period this event falls in, off the request's path.
                let periods = states.withLock { states in
                    covering.compactMap { budget -> BudgetPeriodLimit? in
                        guard budget.hard, let state = states[budget.id], event.ts >= state.periodStart,
                            event.ts < state.periodEnd
                        else { return nil }
                        return BudgetPeriodLimit(
                            budgetId: budget.id, periodStart: state.periodStart, limit: budget.limit)
                    }
                }
                if !periods.isEmpty {
                    let logger = logger
                    Task {
                        do {
                            try await shared.charge(org: event.org, amount: cost, budgets: periods)
                        } catch {
                            logger.warning(
                                "reported usage was not counted in the shared budgets",
                                metadata: ["event": "\(event.id)", "error": "\(String(reflecting: error))"])
                        }
                    }
                }
            }
            let alerts = states.withLock { states in
                var alerts: [AlertRecord] = []
                for budget in covering {
                    guard let state = states[budget.id], event.ts >= state.periodStart, event.ts < state.periodEnd
                    else { continue }
                    alerts += addSpend(
                        cost.nanos, hour: event.ts.hourStart.milliseconds, to: budget, in: &states, now: now)
                }
                return alerts
            }
            alerts.forEach(raise)
        }
    }

    /// The period-end spend at the current pace, and when the limit would be crossed at that pace
    /// (`nil` when it would not, or when less than an hour of the period has passed).
    static func forecast(spent: Int64, limit: Int64, periodStart: Timestamp, periodEnd: Timestamp, now: Timestamp)
        -> (projected: Money, exceedsAt: Timestamp?)?
    {
        let elapsed = now.milliseconds - periodStart.milliseconds
        let length = periodEnd.milliseconds - periodStart.milliseconds
        guard elapsed >= 3_600_000, length > 0, elapsed <= length else { return nil }
        let projected = Int64(Int128(spent) * Int128(length) / Int128(elapsed))
        var exceedsAt: Timestamp?
        if spent > 0, projected > limit {
            let at = periodStart.milliseconds + Int64(Int128(limit) * Int128(elapsed) / Int128(spent))
            exceedsAt = Timestamp(milliseconds: max(at, now.milliseconds))
        }
        return (Money(nanos: projected), exceedsAt)
    }

    /// A budget's current spend, holds and period (loading it if needed; with several nodes,
    /// counted again from the ledger, which holds every node's calls).
    func status(_ budget: Budget, now: Timestamp) async throws -> PeriodState {
        // A change elsewhere can drop the state between its load and this read (the budget was deleted or
        // changed meanwhile, and the guard reloaded): it is loaded again.
        for _ in 0..<3 {
            try await prepare([budget], now: now)
            if shared != nil { try await recount(budget, now: now) }
            if let state = states.withLock({ $0[budget.id] }) { return state }
        }
        throw MeterrError(.unavailable, "budget \(budget.id) changed while its status was read; try again")
    }

    /// Budgets' current periods, each with the calls in it that had no price (counted in one read).
    func statuses(_ budgets: [Budget], unpricedFrom store: any BudgetStore, now: Timestamp) async throws -> [(
        state: PeriodState, unpriced: (requests: Int, tokens: Int)
    )] {
        guard let org = budgets.first?.orgId else { return [] }
        var states: [PeriodState] = []
        for budget in budgets { states.append(try await status(budget, now: now)) }
        let unpriced = try await store.unpricedUsage(
            org: org,
            of: zip(budgets, states).map { BudgetPeriodScope(scope: $0.scope, from: $1.periodStart, to: $1.periodEnd) })
        return Array(zip(states, unpriced))
    }

    /// With several nodes: counts a budget's current period again from the ledger, so this node's
    /// spend includes the other nodes' calls, and raises the thresholds and forecasts they crossed.
    /// (The ledger lacks only calls committed in the last moments; this node's own are kept.)
    func recount(_ budget: Budget, now: Timestamp) async throws {
        guard let loaded = states.withLock({ $0[budget.id] }) else { return }
        var hours: [Int64: Int64] = [:]
        let spent: Int64
        if budget.period.isRolling {
            hours = try await ledgerHourlySpend(
                org: budget.orgId, scope: budget.scope, from: loaded.periodStart, to: loaded.periodEnd)
            spent = hours.values.reduce(0, +)
        } else {
            spent = try await ledgerSpend(
                org: budget.orgId, scope: budget.scope, from: loaded.periodStart, to: loaded.periodEnd
            ).nanos
        }
        let alerts = states.withLock { states -> [AlertRecord] in
            guard var state = states[budget.id], state.periodStart == loaded.periodStart, spent > state.spent else {
                return []
            }
            let before = state.spent
            state.spent = spent
            if budget.period.isRolling { state.hours.merge(hours) { max($0, $1) } }
            states[budget.id] = state
            var alerts = crossings(budget, state: state, from: before, to: spent)
            if let forecast = forecastAlert(budget, state: state, now: now) { alerts.append(forecast) }
            return alerts
        }
        alerts.forEach(raise)
    }

    /// With several nodes, every minute: recounts every loaded budget from the ledger.
    package func recountAllIfDue(now: Timestamp) async throws {
        let due = lastRecount.withLock { last in
            guard ContinuousClock.now - last >= .seconds(60) else { return false }
            last = .now
            return true
        }
        guard due, shared != nil else { return }
        let loaded = budgetsByOrg.withLock { byOrg in
            byOrg.values.flatMap { $0.byScope.values.flatMap { $0 } + $0.byTag }
        }
        for budget in loaded where states.withLock({ $0[budget.id] != nil }) {
            try await recount(budget, now: now)
        }
    }

    /// Keeps each finished calendar period's spend as history, counted from the ledger: every period
    /// since the budget's creation (or its last re-baselining) up to the current one, at most 400
    /// at a time. Rolling windows never close, so they keep none.
    func closeFinishedPeriods(of budget: Budget, now: Timestamp) async throws {
        guard !budget.period.isRolling else { return }
        let zone = budget.zone
        let current = budget.period.bounds(of: now, in: zone).start
        let first = budget.period.bounds(of: budget.baselineAt, in: zone).start
        let recorded = try await store.closedPeriods(budgetId: budget.id, limit: 5)
            .first { $0.reason == "ended" && $0.start >= first }
        var cursor = recorded?.end ?? first
        var closed: [ClosedPeriod] = []
        while cursor < current && closed.count < 400 {
            let (start, end) = budget.period.bounds(of: cursor, in: zone)
            let spent = try await ledgerSpend(org: budget.orgId, scope: budget.scope, from: start, to: end)
            closed.append(
                ClosedPeriod(
                    budgetId: budget.id, start: start, end: end, period: budget.period.storageName, limit: budget.limit,
                    spent: spent, reason: "ended"))
            cursor = end
        }
        try await store.recordClosedPeriods(closed)
    }

    /// Before a budget's period or time zone changes: its finished periods and the current one up to
    /// `now` go into history, so the new definition starts counting from a clean baseline.
    func rebaseline(_ budget: Budget, now: Timestamp) async throws {
        try await closeFinishedPeriods(of: budget, now: now)
        let start = max(budget.period.bounds(of: now, in: budget.zone).start, budget.baselineAt)
        guard start < now else { return }
        let spent = try await ledgerSpend(org: budget.orgId, scope: budget.scope, from: start, to: now)
        try await store.recordClosedPeriods([
            ClosedPeriod(
                budgetId: budget.id, start: start, end: now, period: budget.period.storageName, limit: budget.limit,
                spent: spent, reason: "changed")
        ])
    }
}
