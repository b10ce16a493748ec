import Hummingbird
import MeterrStore

/// `/healthz` (the process answers) and `/readyz` (the database answers and the ledger takes events).
/// In a running server `GET /healthz` is answered on the event loop by `HealthAnswer`, with the same
/// answer; this route serves the router on its own (its tests).
struct HealthRoutes: Sendable {
    let store: any MeterrDatabase

    func register(on router: Router<MeterrRequestContext>) {
        router.get("healthz") { _, _ in try jsonResponse(["status": "ok"]) }
        router.get("readyz") { _, _ in
            let ready = await store.isReady()
            return try jsonResponse(
                ["status": ready ? "ready" : "unavailable"], status: ready ? .ok : .serviceUnavailable)
        }
    }
}
