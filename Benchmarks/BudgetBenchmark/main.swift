// Measures what budgets and anomaly detection add to one gateway call (goal: under 50 µs): the
// anomaly check, finding the budgets that cover the call, its worst case (the prompt counted by the
// tokenizer, priced), the atomic reservation, and after the call the settlement and the anomaly
// update. Run with `swift run -c release meterr-budget-bench`.
import Foundation
import MeterrCore
import MeterrPricing
import MeterrServer
import MeterrStore

func nanoseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e9 + Double(duration.components.attoseconds) / 1e9
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

func micros(_ nanos: Double) -> String { String(format: "%.2f µs", nanos / 1000) }

let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meterr-budget-bench-\(UUID())").path
defer { try? FileManager.default.removeItem(atPath: directory) }
let store = try SQLiteStore(directory: directory)
let org = try await store.bootstrap(adminKey: nil).organisation.id
let now = Timestamp.now()

// Five budgets cover the call (org monthly, team daily, key weekly, a tag, a rolling day); 200 more
// belong to other teams and must be passed over.
let covering: [(BudgetScope, BudgetPeriod)] = [
    (.organisation, .month), (.team("ml"), .day), (.key("key_bench"), .week), (.tag("env", "prod"), .month),
    (.team("ml"), .rolling(hours: 24)),
]
for (index, (scope, period)) in covering.enumerated() {
    _ = try await store.createBudget(
        Budget(
            id: "bud_cover\(index)", orgId: org, name: "cover \(index)", scope: scope, period: period,
            timeZone: "Europe/Berlin", limit: Money(decimalString: "1000000")!, hard: true, thresholds: [50, 80, 100],
            createdAt: now),
        actor: "bench")
}
for index in 0..<200 {
    _ = try await store.createBudget(
        Budget(
            id: "bud_other\(index)", orgId: org, name: "other \(index)", scope: .team("team\(index)"), period: .month,
            timeZone: "UTC", limit: Money(decimalString: "100")!, hard: true, thresholds: [50, 80, 100],
            createdAt: now),
        actor: "bench")
}

let budgets = BudgetGuard(store: store)
try await budgets.reload()
let policies = PolicyCache(store: store)
let anomalies = AnomalyDetector(store: store, policies: policies, clock: .system, report: { _ in })
let engine = CostEngine(catalog: try PriceCatalog.shipped())
let estimator = TokenizerEstimator()
// A typical chat request of about 1 KB.
let body = Array(
    #"""
    {"model":"gpt-4.1","max_tokens":1024,"messages":[{"role":"system","content":"You are a careful assistant that answers questions about the company's internal documentation. Cite the section you used."},{"role":"user","content":"Our deployment guide says staging uses the blue-green strategy while production uses canaries with a five percent initial slice. How do I promote a canary to full traffic, and what metrics should I watch in the first hour? Please keep the answer short and list the commands in order. Also mention what to do if the error rate rises above the alert threshold during promotion, and who needs to be paged according to the on-call policy."}]}
    """#.utf8)

let probe = UsageEvent(
    id: "probe", ts: now, org: org, team: "ml", user: "ana", project: nil, keyId: "key_bench", tags: ["env": "prod"],
    provider: .openai, model: "gpt-4.1", usage: Usage())

/// One call's budget and anomaly work, as the gateway does it; returns the time before and after the upstream.
func oneCall(withTokenizer: Bool) async throws -> (admit: Double, settle: Double) {
    let clock = ContinuousClock()
    let start = clock.now
    let at = Timestamp.now()
    try await anomalies.prepare(org: org)
    _ = anomalies.admit(org: org, team: "ml", user: "ana", keyId: "key_bench", now: at)
    let applicable = budgets.budgets(for: probe)
    try await budgets.prepare(applicable, now: at)
    let worst =
        withTokenizer
        ? BudgetGuard.worstCase(
            estimator: estimator, engine: engine, provider: .openai, model: "gpt-4.1", maxTokens: 1024, body: body,
            at: at)
        : Money(decimalString: "0.01")!
    guard case .success(let reservation) = budgets.reserve(applicable, worstCase: worst, now: at) else {
        fatalError("the bench budgets are large enough never to refuse")
    }
    let admitted = clock.now
    var event = probe
    event.ts = at
    event.usage = Usage(inputTokens: 250, outputTokens: 300)
    event.cost = Money(decimalString: "0.0029")
    budgets.settle(reservation, cost: event.cost)
    anomalies.observe(event)
    let settled = clock.now
    return (nanoseconds(admitted - start), nanoseconds(settled - admitted))
}

for withTokenizer in [false, true] {
    for _ in 0..<2_000 { _ = try await oneCall(withTokenizer: withTokenizer) }  // warm-up
    var admits: [Double] = []
    var settles: [Double] = []
    var totals: [Double] = []
    for _ in 0..<50_000 {
        let (admit, settle) = try await oneCall(withTokenizer: withTokenizer)
        admits.append(admit)
        settles.append(settle)
        totals.append(admit + settle)
    }
    admits.sort()
    settles.sort()
    totals.sort()
    let label = withTokenizer ? "with the worst case counted (1 KB prompt)" : "checks alone (worst case given)"
    print("budget + anomaly work per call, \(label), 5 covering budgets of 205, 50,000 calls:")
    print(
        "  before upstream p50 \(micros(percentile(admits, 0.5))), p99 \(micros(percentile(admits, 0.99)));"
            + " after p50 \(micros(percentile(settles, 0.5))), p99 \(micros(percentile(settles, 0.99)));"
            + " total p50 \(micros(percentile(totals, 0.5))), p99 \(micros(percentile(totals, 0.99)))")
}
