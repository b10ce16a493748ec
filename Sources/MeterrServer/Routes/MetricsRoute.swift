import Hummingbird
import MeterrCore
import MeterrPricing
import MeterrStore
import Synchronization

/// `GET /metrics`: Prometheus text exposition of meterr's own counters (no tenant data).
struct MetricsRoute: Sendable {
    let writer: LedgerWriter
    let prices: PriceBook
    /// The cost engine in force (SIGHUP may replace it).
    var engine: CostEngine { prices.engine }
    let gateway: GatewayMetrics

    func register(on router: Router<MeterrRequestContext>) {
        router.get("metrics") { _, _ in
            var text = ""
            func metric(_ name: String, _ type: String, _ help: String, _ samples: [(String, Int)]) {
                text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
                for (labels, value) in samples { text += "\(name)\(labels) \(value)\n" }
            }
            let stats = writer.stats
            metric(
                "meterr_ledger_events_committed_total", "counter", "Usage events committed as new.",
                [("", stats.committed)])
            metric(
                "meterr_ledger_events_duplicate_total", "counter", "Usage events skipped as already stored.",
                [("", stats.duplicates)])
            metric(
                "meterr_ledger_events_dropped_total", "counter",
                "Usage events lost (queue full or repeated commit failures).", [("", stats.dropped)])
            metric(
                "meterr_ledger_shapes_skipped_total", "counter",
                "Calls not analysed for the savings report: the prompts waiting for analysis held the bound.",
                [("", stats.shapesSkipped)])
            metric("meterr_ledger_commits_total", "counter", "Ledger transactions committed.", [("", stats.commits)])
            metric(
                "meterr_ledger_commit_failures_total", "counter", "Ledger transactions that failed.",
                [("", stats.failures)])
            metric(
                "meterr_ledger_queue_events", "gauge", "Usage events waiting for a commit.", [("", writer.queuedEvents)]
            )
            metric(
                "meterr_pricing_unpriced_calls_total", "counter", "Calls whose model had no price.",
                [("", engine.warnings.unpricedCalls)])
            let calls = gateway.snapshot.sorted {
                ($0.key.provider.rawValue, $0.key.status) < ($1.key.provider.rawValue, $1.key.status)
            }
            metric(
                "meterr_gateway_calls_total", "counter",
                "Calls through the gateway by provider, status and usage source.",
                calls.map { key, count in
                    (
                        "{provider=\"\(key.provider.rawValue)\",status=\"\(key.status)\",usage_source=\"\(key.source?.rawValue ?? "none")\"}",
                        count
                    )
                })
            let latencies = gateway.latencySnapshot.sorted { $0.key.rawValue < $1.key.rawValue }
            func histograms(_ name: String, _ help: String, _ pick: (LatencyPair) -> LatencyHistogram) {
                text += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
                for (provider, pair) in latencies {
                    text += pick(pair).lines(name, labels: "provider=\"\(provider.rawValue)\"")
                }
            }
            histograms(
                "meterr_gateway_overhead_seconds",
                "meterr's own time per answered gateway call (to the response head for streams).", \.meterr)
            histograms(
                "meterr_gateway_upstream_seconds",
                "The provider's time per answered gateway call (to the response head for streams).", \.upstream)
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }
}
