import Logging
import MeterrCore
import MeterrStore
import ServiceLifecycle

/// Writes keys' `last_used_at` every half minute from what the request path noted in memory.
struct KeyUsageService: Service, CustomStringConvertible {
    var description: String { "KeyUsageService" }

    let principals: PrincipalCache
    let accounts: any AccountStore
    let clock: WallClock
    let logger: Logger

    func run() async throws {
        // Sleeps end early on shutdown; one last flush follows.
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(30)) }
            await flush()
        }
        await flush()
    }

    func flush() async {
        let used = principals.takeUsed()
        do {
            try await accounts.markUsed(keyIds: used, at: clock.now())
        } catch {
            logger.warning("could not record key use", metadata: ["keys": "\(used.count)"])
        }
    }
}
