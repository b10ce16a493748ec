import MeterrCore
import MeterrStore
import Synchronization

/// Admission control for budgets: before a call goes upstream its worst-case cost is reserved,
/// atomically, against every budget that covers it; when it ends the reservation is settled to the
/// real cost (or released). A hard budget refuses a call whose worst case would cross its limit, so
/// concurrent calls cannot overrun it together.
///
/// Spend is held in memory per budget and period, from the ledger when a period is first seen, then
/// kept current by the calls that settle and the events reported through the API. (One node.)
final class BudgetGuard: Sendable {
    struct PeriodState {
        var periodStart: Timestamp
        var periodEnd: Timestamp
        var spent: Int64
        var reserved: Int64
    }

    /// Money held for one call against its budgets.
    struct Reservation: Sendable {
        var holds: [(budgetId: String, periodStart: Timestamp, nanos: Int64)]
        static let none = Reservation(holds: [])
    }

    /// Why a call was refused.
    struct Refusal: Sendable, Error {
        var budget: Budget
        var spent: Money
        var limit: Money
        var resetsAt: Timestamp

        var message: String {
            "budget \"\(budget.name)\" (\(budget.scope.kind)\(budget.scope.value.isEmpty ? "" : " \(budget.scope.value)"), "
                + "per \(budget.period.rawValue)) would be exceeded: spent \(spent.decimalString) of "
                + "\(limit.decimalString) USD; resets at \(resetsAt.rfc3339)"
        }
    }

    let store: any BudgetStore
    /// Where threshold and block alerts go.
    let raise: @Sendable (Alert) -> Void
    private let budgetsByOrg = Mutex([String: [Budget]]())
    private let states = Mutex([String: PeriodState]())

    init(store: any BudgetStore, raise: @escaping @Sendable (Alert) -> Void = { _ in }) {
        self.store = store
        self.raise = raise
    }

    /// The alerts for thresholds crossed between two spends of a budget's period.
    func crossings(_ budget: Budget, state: PeriodState, from before: Int64, to after: Int64) -> [Alert] {
        guard budget.limit.nanos > 0 else { return [] }
        let was = before * 100 / budget.limit.nanos
        let now = after * 100 / budget.limit.nanos
        return budget.thresholds.filter { was < $0 && now >= $0 }.map { threshold in
            Alert(
                id: Identifier.make("alr", length: 16), orgId: budget.orgId, kind: "budget.threshold",
                subject: budget.id,
                severity: threshold >= 100 ? "critical" : threshold >= 80 ? "warning" : "info",
                message: "budget \"\(budget.name)\" reached \(threshold)%: \(Money(nanos: after).decimalString) of "
                    + "\(budget.limit.decimalString) USD this \(budget.period.rawValue)",
                dedupeKey: "budget:\(budget.id):\(state.periodStart.milliseconds):\(threshold)", createdAt: .now())
        }
    }

    /// Adds spend to a budget's state, raising the alerts of the thresholds it crosses.
    private func addSpend(_ nanos: Int64, to budgetId: String, in states: inout [String: PeriodState]) -> [Alert] {
        guard var state = states[budgetId], nanos != 0 else { return [] }
        let before = state.spent
        state.spent += nanos
        states[budgetId] = state
        guard let budget = budgetsByOrg.withLock({ $0.values.lazy.flatMap { $0 }.first { $0.id == budgetId } }) else {
            return []
        }
        return crossings(budget, state: state, from: before, to: state.spent)
    }

    /// Loads every budget (at start, and after a change).
    func reload() async throws {
        let all = try await store.allBudgets()
        let grouped = Dictionary(grouping: all, by: \.orgId)
        budgetsByOrg.withLock { $0 = grouped }
        let ids = Set(all.map(\.id))
        states.withLock { states in states = states.filter { ids.contains($0.key) } }
    }

    /// The budgets that cover a call.
    func budgets(for event: UsageEvent) -> [Budget] {
        budgetsByOrg.withLock { $0[event.org] ?? [] }.filter {
            $0.scope.covers(
                team: event.team, user: event.user, project: event.project, keyId: event.keyId, tags: event.tags)
        }
    }

    /// Makes sure each budget's current period is loaded from the ledger.
    func prepare(_ budgets: [Budget], now: Timestamp) async throws {
        for budget in budgets {
            let (start, end) = budget.period.bounds(of: now, in: budget.zone)
            let current = states.withLock { $0[budget.id].map { $0.periodStart == start } ?? false }
            if current { continue }
            let spent = try await store.spend(org: budget.orgId, scope: budget.scope, from: start, to: end)
            let loaded = states.withLock { states -> PeriodState? in
                // Another call may have loaded it meanwhile; the first load stands (it has their holds).
                guard states[budget.id]?.periodStart != start else { return nil }
                let state = PeriodState(periodStart: start, periodEnd: end, spent: spent.nanos, reserved: 0)
                states[budget.id] = state
                return state
            }
            // Thresholds already crossed (before a restart, say) are raised again; their dedupe keys
            // keep each to one alert per period.
            if let loaded { crossings(budget, state: loaded, from: 0, to: loaded.spent).forEach(raise) }
        }
    }

    /// Reserves `worstCase` against every budget, or refuses if a hard one would be crossed (nothing held then).
    func reserve(_ budgets: [Budget], worstCase: Money, now: Timestamp) -> Result<Reservation, Refusal> {
        if budgets.isEmpty { return .success(.none) }
        return states.withLock { states in
            for budget in budgets where budget.hard {
                guard let state = states[budget.id] else { continue }
                if state.spent + state.reserved + worstCase.nanos > budget.limit.nanos {
                    let refusal = Refusal(
                        budget: budget, spent: Money(nanos: state.spent), limit: budget.limit, resetsAt: state.periodEnd
                    )
                    raise(
                        Alert(
                            id: Identifier.make("alr", length: 16), orgId: budget.orgId, kind: "budget.blocked",
                            subject: budget.id, severity: "critical", message: refusal.message,
                            dedupeKey: "budget-blocked:\(budget.id):\(state.periodStart.milliseconds)",
                            createdAt: .now()))
                    return .failure(refusal)
                }
            }
            var holds: [(String, Timestamp, Int64)] = []
            for budget in budgets {
                guard var state = states[budget.id] else { continue }
                state.reserved += worstCase.nanos
                states[budget.id] = state
                holds.append((budget.id, state.periodStart, worstCase.nanos))
            }
            return .success(Reservation(holds: holds))
        }
    }

    /// Settles a reservation: the hold is released and the real cost (if any) is spent.
    func settle(_ reservation: Reservation, cost: Money?) {
        guard !reservation.holds.isEmpty else { return }
        let alerts = states.withLock { states in
            var alerts: [Alert] = []
            for hold in reservation.holds {
                guard var state = states[hold.budgetId], state.periodStart == hold.periodStart else { continue }
                state.reserved -= hold.nanos
                states[hold.budgetId] = state
                alerts += addSpend(cost?.nanos ?? 0, to: hold.budgetId, in: &states)
            }
            return alerts
        }
        alerts.forEach(raise)
    }

    /// Counts usage reported through the API (not the gateway's own calls, which settle).
    func record(_ events: [UsageEvent]) {
        for event in events {
            guard let cost = event.cost else { continue }
            let covering = budgets(for: event)
            let alerts = states.withLock { states in
                var alerts: [Alert] = []
                for budget in covering {
                    guard let state = states[budget.id], event.ts >= state.periodStart, event.ts < state.periodEnd
                    else { continue }
                    alerts += addSpend(cost.nanos, to: budget.id, in: &states)
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

    /// A budget's current spend, holds and period (loading it if needed).
    func status(_ budget: Budget, now: Timestamp) async throws -> PeriodState {
        try await prepare([budget], now: now)
        return states.withLock { $0[budget.id]! }
    }
}
