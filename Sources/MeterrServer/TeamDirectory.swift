import MeterrCore
import MeterrStore
import Synchronization

/// The teams each organisation created, for `unknown_team: refuse`: read from the store at most every
/// ten seconds per organisation, and at once after a team is created or deleted on this node.
final class TeamDirectory: Sendable {
    let accounts: any AccountStore
    let clock: WallClock
    private let entries = Mutex([String: (teams: Set<String>, expiry: Int64)]())

    init(accounts: any AccountStore, clock: WallClock) {
        self.accounts = accounts
        self.clock = clock
    }

    /// Whether the organisation created a team of that name.
    func exists(org: String, team: String) async throws -> Bool {
        let now = clock.now().milliseconds
        if let entry = entries.withLock({ $0[org] }), entry.expiry > now { return entry.teams.contains(team) }
        let teams = Set(try await accounts.groups(kind: .team, org: org).map(\.name))
        entries.withLock { $0[org] = (teams, now + 10_000) }
        return teams.contains(team)
    }

    /// Forgets what it read of an organisation (a team was created or deleted).
    func invalidate(org: String) { _ = entries.withLock { $0.removeValue(forKey: org) } }

    /// Why a team cannot be used, in the words the API and the gateway give.
    static func refusal(_ team: String) -> String {
        "team \"\(team)\" was never created in this organisation, which refuses unknown teams (unknown_team: refuse): "
            + "create it (POST /api/teams, or meterr teams create) or name an existing team"
    }
}
