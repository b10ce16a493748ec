import Foundation
import Logging
import MeterrCore
import MeterrPostgres
import MeterrStore

// Measures the usage ledger on this machine:
//   meterr-ledger-bench ingest  [--events N] [--database-url postgres://…]
//                                                       events/s committed through the group-commit writer,
//                                                       into SQLite or PostgreSQL
//   meterr-ledger-bench summary [--events N] [--data D | --database-url postgres://…] [--start T]
//                                                          GET /api/usage/summary's query for a month
//   meterr-ledger-bench holds --database-url postgres://… [--calls N] [--callers N]
//                                                       hard-budget admissions (hold, then settle) per second
// The HTTP ingest benchmark is scripts/bench-ledger.sh (wrk against `meterr serve`).

func monotonicSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

func option(_ name: String, default value: Int) -> Int {
    guard let index = CommandLine.arguments.firstIndex(of: name), index + 1 < CommandLine.arguments.count,
        let parsed = Int(CommandLine.arguments[index + 1].replacingOccurrences(of: "_", with: ""))
    else { return value }
    return parsed
}

func stringOption(_ name: String) -> String? {
    guard let index = CommandLine.arguments.firstIndex(of: name), index + 1 < CommandLine.arguments.count else {
        return nil
    }
    return CommandLine.arguments[index + 1]
}

/// A company's worth of attribution: 20 teams, 200 users, 50 projects, 300 keys, 18 models.
struct Workload {
    var state: UInt64 = 0x1234_5678
    let models: [(Provider, String)] = [
        (.openai, "gpt-4o"), (.openai, "gpt-4o-mini"), (.openai, "gpt-5"), (.openai, "gpt-5-mini"),
        (.openai, "o3"), (.openai, "text-embedding-3-small"), (.azure, "gpt-4o"), (.azure, "gpt-4.1"),
        (.anthropic, "claude-sonnet-4-5"), (.anthropic, "claude-haiku-4-5"), (.anthropic, "claude-opus-4-1"),
        (.gemini, "gemini-2.5-pro"), (.gemini, "gemini-2.5-flash"), (.gemini, "gemini-3-pro-preview"),
        (.mistral, "mistral-large-latest"), (.mistral, "mistral-small-latest"), (.cohere, "command-a-03-2025"),
        (.cohere, "embed-v4.0"),
    ]

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Event `index` of `count`, spread evenly over the 30 days from `start`.
    mutating func event(_ index: Int, of count: Int, start: Timestamp) -> UsageEvent {
        let user = Int(next() % 200)
        let (provider, model) = models[Int(next() % UInt64(models.count))]
        let input = Int(next() % 8_000) + 50
        let output = Int(next() % 1_500)
        return UsageEvent(
            id: "bench-\(index)",
            ts: start.adding(milliseconds: Int64(index) * (30 * 86_400_000 / Int64(max(count, 1)))),
            org: "org_bench", team: "team-\(user % 20)", user: "user-\(user)", project: "project-\(next() % 50)",
            keyId: "key-\(next() % 300)", tags: ["env": "prod"], provider: provider, model: model,
            endpoint: "chat.completions",
            usage: Usage(
                inputTokens: input, cacheReadTokens: input / 4, outputTokens: output, reasoningTokens: output / 5),
            cost: Money(nanos: Int64(input) * 2_500 + Int64(output) * 10_000), priceId: "\(provider.rawValue)/\(model)",
            usageSource: .reported, stream: next() % 2 == 0, status: 200, latencyMs: 900, ttftMs: 300,
            requestId: "req-\(index)")
    }
}

func temporaryDirectory() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("meterr-bench-\(UUID().uuidString)").path
}

func ingest() async throws {
    let count = option("--events", default: 1_000_000)
    let batch = option("--batch", default: 1_000)
    let clients = option("--clients", default: 8)
    let directory = stringOption("--data") ?? temporaryDirectory()
    defer { if stringOption("--data") == nil { try? FileManager.default.removeItem(atPath: directory) } }
    var logger = Logger(label: "bench")
    logger.logLevel = .warning
    let store: any UsageLedger =
        if let url = stringOption("--database-url") {
            try await PostgresStore(url: try DatabaseURL(url), logger: logger)
        } else {
            try SQLiteStore(directory: directory)
        }
    var workload = Workload()
    let start = Timestamp(rfc3339: "2026-11-01T00:00:00Z")!
    let events = (0..<count).map { workload.event($0, of: count, start: start) }
    let batches = stride(from: 0, to: count, by: batch).map { Array(events[$0..<min($0 + batch, count)]) }
    let writer = LedgerWriter(
        ledger: store, maxGroupSize: stringOption("--database-url") == nil ? 20_000 : option("--group", default: 4_000),
        concurrentCommits: stringOption("--database-url") == nil ? 1 : 2, logger: logger)
    let runner = Task { try await writer.run() }
    let began = monotonicSeconds()
    // `clients` callers submit batches concurrently, as HTTP handlers do; each waits for its commit.
    try await withThrowingTaskGroup(of: Void.self) { group in
        for client in 0..<clients {
            group.addTask {
                for index in stride(from: client, to: batches.count, by: clients) {
                    _ = try await writer.submit(batches[index])
                }
            }
        }
        try await group.waitForAll()
    }
    let elapsed = monotonicSeconds() - began
    writer.close()
    try await runner.value
    let stats = writer.stats
    print(
        "ingest: \(stats.committed) events in \(String(format: "%.2f", elapsed)) s = "
            + "\(Int(Double(stats.committed) / elapsed)) events/s committed "
            + "(\(clients) callers × batches of \(batch), \(stats.commits) transactions)")
}

func summary() async throws {
    let count = option("--events", default: 10_000_000)
    let iterations = option("--iterations", default: 200)
    let directory = stringOption("--data") ?? temporaryDirectory()
    var logger = Logger(label: "bench")
    logger.logLevel = .warning
    let url = stringOption("--database-url")
    let store: any UsageLedger =
        if let url {
            try await PostgresStore(url: try DatabaseURL(url), logger: logger)
        } else {
            try SQLiteStore(directory: directory)
        }
    // `--start`: where the 30 days begin (scripts/bench-dashboard.sh loads the current month).
    let start =
        stringOption("--start").flatMap { Timestamp(rfc3339: $0) } ?? Timestamp(rfc3339: "2026-11-01T00:00:00Z")!
    let end = start.adding(milliseconds: 30 * 86_400_000)
    let existing = try await store.summary(org: "org_bench", groupBy: .none, from: start, to: end).totals.requests
    if existing < count {
        print("loading \(count - existing) events into \(url.map { _ in "PostgreSQL" } ?? directory) …")
        var workload = Workload()
        let began = monotonicSeconds()
        var index = existing
        while index < count {
            let events = (index..<min(index + 10_000, count)).map { workload.event($0, of: count, start: start) }
            _ = try await store.append(events)
            index += events.count
        }
        print("loaded in \(String(format: "%.1f", monotonicSeconds() - began)) s")
    }
    for grouping in [SummaryGrouping.none, .model, .team, .user, .key, .day, .hour] {
        var times: [Double] = []
        var result: UsageSummary?
        for _ in 0..<iterations {
            let began = monotonicSeconds()
            result = try await store.summary(org: "org_bench", groupBy: grouping, from: start, to: end)
            times.append(monotonicSeconds() - began)
        }
        times.sort()
        let median = times[times.count / 2] * 1000
        let p99 = times[min(times.count - 1, times.count * 99 / 100)] * 1000
        print(
            "summary group_by=\(grouping.rawValue): median \(String(format: "%.2f", median)) ms, "
                + "p99 \(String(format: "%.2f", p99)) ms over \(result?.totals.requests ?? 0) events, "
                + "\(result?.groups.count ?? 0) groups")
    }
    if stringOption("--data") == nil { try? FileManager.default.removeItem(atPath: directory) }
}

/// Hard-budget admissions on PostgreSQL: `--callers` concurrent callers hold a worst case against
/// one organisation budget and one team budget (the hot rows every call of a team locks), then
/// settle it, `--calls` times in all.
func holds() async throws {
    let calls = option("--calls", default: 20_000)
    let callers = option("--callers", default: 8)
    guard let url = stringOption("--database-url") else {
        print("holds needs --database-url postgres://…")
        exit(2)
    }
    var logger = Logger(label: "bench")
    logger.logLevel = .warning
    let store = try await PostgresStore(url: try DatabaseURL(url), logger: logger)
    let period = Timestamp.now().monthStart
    let budgets = [
        BudgetPeriodLimit(budgetId: "bud_org", periodStart: period, limit: Money(nanos: .max / 4)),
        BudgetPeriodLimit(budgetId: "bud_team", periodStart: period, limit: Money(nanos: .max / 4)),
    ]
    let began = monotonicSeconds()
    try await withThrowingTaskGroup(of: Void.self) { group in
        for caller in 0..<callers {
            group.addTask {
                for _ in stride(from: caller, to: calls, by: callers) {
                    guard
                        case .held(let id) = try await store.hold(
                            org: "org_bench", amount: Money(nanos: 50_000_000), budgets: budgets, ttl: .seconds(300))
                    else { continue }
                    try await store.settle(org: "org_bench", holdId: id, actual: Money(nanos: 30_000_000))
                }
            }
        }
        try await group.waitForAll()
    }
    let elapsed = monotonicSeconds() - began
    store.close()
    print(
        "holds: \(calls) calls held and settled on 2 budgets in \(String(format: "%.2f", elapsed)) s = "
            + "\(Int(Double(calls) / elapsed)) calls/s (\(callers) callers)")
}

switch CommandLine.arguments.dropFirst().first {
case "ingest": try await ingest()
case "summary": try await summary()
case "holds": try await holds()
default:
    print(
        "usage: meterr-ledger-bench ingest [--events N] [--batch N] [--clients N] [--database-url URL] | "
            + "summary [--events N] [--data DIR | --database-url URL] | holds --database-url URL [--calls N] [--callers N]"
    )
    exit(2)
}
