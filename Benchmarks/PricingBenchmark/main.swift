// Measures the two numbers the pricing issue sets goals for: loading the catalog (< 10 ms) and pricing one
// usage event (< 1 µs). Run with `swift run -c release meterr-pricing-bench`.
import MeterrCore
import MeterrPricing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// CPU time of this process in nanoseconds: less disturbed than wall time when other builds share the cores.
func cpuNanoseconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec)
    return Double(spec.tv_sec) * 1e9 + Double(spec.tv_nsec)
}

func nanoseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e9 + Double(duration.components.attoseconds) / 1e9
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

let clock = ContinuousClock()

// Catalog load: resource lookup, file read, JSON parse, validation and index.
var loadTimes: [Double] = []
var catalog = PriceCatalog.empty
for _ in 0..<50 {
    let start = clock.now
    catalog = try PriceCatalog.shipped()
    loadTimes.append(nanoseconds(clock.now - start))
}
print(
    "catalog load (\(catalog.entries.count) models): median \(String(median(loadTimes) / 1e6).prefix(6)) ms,"
        + " min \(String(loadTimes.min()! / 1e6).prefix(6)) ms over 50 loads")

// Pricing: a mix of providers, snapshots, cached input, long context and an Azure deployment.
let engine = CostEngine(catalog: catalog, azureDeployments: ["prod-chat": "gpt-4o"])
let when = Timestamp(rfc3339: "2026-11-29T10:00:00Z")!
let events: [UsageEvent] = [
    UsageEvent(
        id: "e1", ts: when, org: "acme", provider: .openai, model: "gpt-4o-mini-2024-07-18",
        usage: Usage(inputTokens: 1_200, cacheReadTokens: 1_024, outputTokens: 300)),
    UsageEvent(
        id: "e2", ts: when, org: "acme", provider: .anthropic, model: "claude-sonnet-4-5-20250929",
        usage: Usage(
            inputTokens: 210_000, cacheReadTokens: 150_000, cacheWriteTokens: 5_000, outputTokens: 900,
            reasoningTokens: 200)),
    UsageEvent(
        id: "e3", ts: when, org: "acme", provider: .gemini, model: "gemini-2.5-pro",
        usage: Usage(inputTokens: 5_000, outputTokens: 2_000, reasoningTokens: 1_500)),
    UsageEvent(
        id: "e4", ts: when, org: "acme", provider: .azure, model: "prod-chat",
        usage: Usage(inputTokens: 800, outputTokens: 120)),
]
for round in 0..<3 {
    let iterations = 2_000_000
    var checksum: Int64 = 0
    let start = clock.now
    let cpuStart = cpuNanoseconds()
    for index in 0..<iterations {
        if let priced = engine.price(events[index & 3]) { checksum &+= priced.cost.nanos }
    }
    let perEvent = nanoseconds(clock.now - start) / Double(iterations)
    let cpuPerEvent = (cpuNanoseconds() - cpuStart) / Double(iterations)
    print(
        "price one event (round \(round + 1)): \(String(perEvent).prefix(6)) ns wall,"
            + " \(String(cpuPerEvent).prefix(6)) ns CPU per event (checksum \(checksum))")
}

// The direct API with its breakdown (what the cost-estimate route calls).
do {
    let iterations = 500_000
    var checksum: Int64 = 0
    let usage = Usage(inputTokens: 10_000, cacheReadTokens: 4_000, outputTokens: 500)
    let start = clock.now
    for _ in 0..<iterations {
        if let quote = try engine.cost(model: "gpt-4o", provider: .openai, usage: usage, at: when) {
            checksum &+= quote.cost.nanos &+ Int64(quote.lines.count)
        }
    }
    let perCall = nanoseconds(clock.now - start) / Double(iterations)
    print("cost(...) with breakdown: \(String(perCall).prefix(6)) ns/call (checksum \(checksum))")
}
