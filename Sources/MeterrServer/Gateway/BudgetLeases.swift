import MeterrCore
import Synchronization

/// Slices of hard budgets this node holds in the shared database and admits calls against in
/// memory, so most calls on several nodes make no database round trip.
///
/// A lease is a hold like a call's (the database never lets holds and spend together pass a limit),
/// only larger: a fiftieth of the budget, or one call's worst case when less is left. Calls take
/// their worst case from it and give back what they did not spend; a lease is settled in the
/// database with what its calls spent once it is retired (every few seconds, or when a new one
/// replaces it) and its last call has ended. A node that dies leaves its leases to expire and be
/// charged in full, like a call's hold: it can cost a budget up to a slice, never an overrun.
package final class BudgetLeases: Sendable {
    struct Lease: Sendable {
        var id: String
        var org: String
        var budgetId: String
        var periodStart: Timestamp
        /// Held in the database.
        var granted: Int64
        /// Worst cases of this node's calls running on it.
        var inFlight: Int64 = 0
        /// What its finished calls cost.
        var spent: Int64 = 0
        var takenAt: ContinuousClock.Instant = .now

        var room: Int64 { granted - inFlight - spent }
    }

    /// A call's share of a lease: the budget, the lease and the worst case it took.
    package struct Claim: Sendable {
        var budgetId: String
        var leaseId: String
        var amount: Int64
    }

    private struct State {
        /// The lease each budget's calls take from now.
        var current: [String: Lease] = [:]
        /// Replaced leases whose calls have not all ended, by lease id.
        var retired: [String: Lease] = [:]
    }

    private let state = Mutex(State())

    /// The slice of a budget a lease asks for: a fiftieth of the limit, at least the call's worst case.
    static func slice(limit: Money, worstCase: Int64) -> Int64 { max(worstCase, limit.nanos / 50) }

    /// Takes `amount` from the current lease of every budget in `budgets` (id and period start), all
    /// or none: the claims, or the budgets whose lease lacks room (or is of another period).
    func take(_ budgets: [(id: String, periodStart: Timestamp)], org: String, amount: Int64)
        -> Result<[Claim], Lacking>
    {
        state.withLock { state in
            let lacking = budgets.filter { budget in
                guard let lease = state.current[budget.id], lease.org == org, lease.periodStart == budget.periodStart
                else { return true }
                return lease.room < amount
            }
            guard lacking.isEmpty else { return .failure(Lacking(budgets: lacking.map(\.id))) }
            return .success(
                budgets.map { budget in
                    state.current[budget.id]!.inFlight += amount
                    return Claim(budgetId: budget.id, leaseId: state.current[budget.id]!.id, amount: amount)
                })
        }
    }

    struct Lacking: Error {
        var budgets: [String]
    }

    /// Makes `lease` its budget's current one; returns the lease it replaces when that one can be
    /// settled now (none of its calls is running).
    func install(_ lease: Lease) -> Lease? {
        state.withLock { state in
            let old = state.current.updateValue(lease, forKey: lease.budgetId)
            return old.flatMap { Self.retire($0, in: &state) }
        }
    }

    /// A call ended: its claims give back their worst case and count what it cost; returns the
    /// retired leases whose last call this was, to settle.
    func give(_ claims: [Claim], cost: Int64) -> [Lease] {
        state.withLock { state in
            var done: [Lease] = []
            for claim in claims {
                if var lease = state.current[claim.budgetId], lease.id == claim.leaseId {
                    lease.inFlight -= claim.amount
                    lease.spent += cost
                    state.current[claim.budgetId] = lease
                } else if var lease = state.retired[claim.leaseId] {
                    lease.inFlight -= claim.amount
                    lease.spent += cost
                    if lease.inFlight <= 0 {
                        state.retired[claim.leaseId] = nil
                        done.append(lease)
                    } else {
                        state.retired[claim.leaseId] = lease
                    }
                }
            }
            return done
        }
    }

    /// Retires the leases taken before `cutoff` (so what their calls spent reaches the database and
    /// what they did not goes back to every node); returns those to settle now.
    func retire(takenBefore cutoff: ContinuousClock.Instant) -> [Lease] {
        state.withLock { state in
            let old = state.current.values.filter { $0.takenAt < cutoff }
            var done: [Lease] = []
            for lease in old {
                state.current[lease.budgetId] = nil
                if let settled = Self.retire(lease, in: &state) { done.append(settled) }
            }
            return done
        }
    }

    private static func retire(_ lease: Lease, in state: inout State) -> Lease? {
        if lease.inFlight <= 0 { return lease }
        state.retired[lease.id] = lease
        return nil
    }
}
