import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import MeterrPricing
import MeterrStore
import MeterrTestSupport
import MeterrTokenizer
import Testing

@testable import MeterrServer

/// The savings report on a generated ledger whose answer is worked out by hand (prices per million
/// tokens from the shipped catalog: gpt-4.1 input 2, cache read 0.5, output 8; gpt-4.1-mini input 0.4,
/// output 1.6; claude-sonnet-4-5 input 3, cache read 0.3, 5-minute write 3.75, output 15), over the
/// last day of a year.
@Suite("The savings report")
struct SavingsReportTests {
    static let from = Timestamp(rfc3339: "2026-12-31T00:00:00Z")!
    static let to = Timestamp(rfc3339: "2027-01-01T00:00:00Z")!
    static let engine = CostEngine(catalog: try! PriceCatalog.shipped())

    struct Call {
        var event: UsageEvent
        var shape: CallShape?
    }

    static func call(
        _ id: String, minute: Int, provider: Provider = .openai, model: String = "gpt-4.1", input: Int, output: Int,
        cacheRead: Int = 0, hash: String? = nil, prefixes: [(Int, String)] = [], tools: Bool = true,
        maxTokens: Int? = nil, team: String = "search", status: Int = 200, route: String? = nil
    ) -> Call {
        let ts = from.adding(milliseconds: Int64(minute) * 60_000)
        var event = UsageEvent(
            id: id, ts: ts, org: "org_a", team: team, provider: provider, model: model, modelRequested: model,
            endpoint: provider == .anthropic ? "messages" : "chat.completions",
            usage: Usage(inputTokens: input, cacheReadTokens: cacheRead, outputTokens: output), status: status,
            requestId: id, route: route ?? "direct")
        event.cost = try! engine.cost(model: model, provider: provider, usage: event.usage, at: ts)!.cost
        let shape = CallShape(
            org: "org_a", eventId: id, ts: ts, requestHash: hash ?? "h-\(id)", promptTokens: input,
            prefixes: prefixes.map { .init(tokens: $0.0, hash: $0.1) }, tools: tools, maxTokens: maxTokens)
        return Call(event: event, shape: shape)
    }

    static func ledger() -> [Call] {
        var calls: [Call] = []
        // Duplicates: one request four times; with a one-hour cache the second and third repeat it, the
        // fourth (two hours on) would have been a miss. Each costs 1,000 × 2 + 100 × 8 = 0.0028 USD.
        for (index, minute) in [0, 10, 30, 120].enumerated() {
            calls.append(call("dup\(index)", minute: minute, input: 1_000, output: 100, hash: "same", maxTokens: 150))
        }
        // Prompt caching: three calls share a 2,048-token prefix a minute or two apart, none cached. The
        // first writes it (premium 2,048 × 0.75), the next two read it (each 2,048 × 2.7 saved).
        for (index, minute) in [200, 201, 203].enumerated() {
            calls.append(
                call(
                    "pfx\(index)", minute: minute, provider: .anthropic, model: "claude-sonnet-4-5", input: 3_000,
                    output: 500, prefixes: [(512, "a"), (1024, "b"), (2048, "c"), (2944, "own\(index)")],
                    maxTokens: 1_000))
        }
        // Model choice: five short tool-free calls, 500 in and 50 out: 0.0014 each on gpt-4.1, 0.00028 on
        // gpt-4.1-mini. They ask for 4,096 output tokens.
        for index in 0..<5 {
            calls.append(
                call("short\(index)", minute: 300 + index, input: 500, output: 50, tools: false, maxTokens: 4_096))
        }
        // A budget refusal, a cache hit and a failed routed attempt that was billed.
        var refused = call("refused", minute: 400, input: 0, output: 0, route: "refused:budget:monthly")
        refused.event.cost = .zero
        refused.shape = nil
        calls.append(refused)
        var hit = call("hit", minute: 401, input: 0, output: 0, route: "cache")
        hit.event.cacheHit = true
        hit.event.cost = .zero
        hit.event.saved = Money(decimalString: "0.0028")
        hit.shape = nil
        calls.append(hit)
        var failed = call(
            "failed", minute: 402, input: 1_000, output: 0, status: 500,
            route: "fast:openai/gpt-4.1 policy=cheapest attempt=1")
        failed.shape = nil
        calls.append(failed)
        return calls
    }

    @Test("Each finding on a generated ledger has the saving worked out by hand, and a 30-day pace")
    func knownAnswers() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meterr-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteStore(directory: directory)
        let calls = Self.ledger()
        _ = try await store.append(calls.map(\.event), shapes: calls.compactMap(\.shape))
        let read = try await store.shapedCalls(org: "org_a", from: Self.from, to: Self.to, team: nil, limit: 1000)
        #expect(read.count == calls.count)
        #expect(read.filter { $0.shape != nil }.count == 12)
        #expect(read.first { $0.event.id == "pfx1" }?.shape?.prefixes.count == 4)

        let analysis = SavingsAnalysis(
            engine: Self.engine, from: Self.from, to: Self.to, responseCacheTTL: 3_600_000, org: "org_a")
        let findings = analysis.findings(read)
        func one(_ kind: SavingsFinding.Kind) throws -> SavingsFinding {
            let found = findings.filter { $0.kind == kind }
            #expect(found.count == 1, "\(kind): \(found.map(\.model))")
            return try #require(found.first)
        }

        let duplicates = try one(.duplicateCalls)
        #expect(duplicates.model == "gpt-4.1" && duplicates.calls == 2)
        #expect(duplicates.savingUSD.decimalString == "0.005600000")
        #expect(duplicates.monthlySavingUSD.decimalString == "0.168000000")
        #expect(duplicates.evidence["repeated_requests"] == "1")
        #expect(duplicates.examples == ["dup1", "dup2"])
        #expect(duplicates.teams == [TeamSaving(team: "search", calls: 2, savingUSD: duplicates.savingUSD)])

        // 2 × 2,048 × (3 − 0.3) − 2,048 × (3.75 − 3) = 11,059.2 − 1,536 = 9,523.2 per million.
        let prompt = try one(.promptCaching)
        #expect(prompt.provider == .anthropic && prompt.model == "claude-sonnet-4-5" && prompt.calls == 3)
        #expect(prompt.evidence["read_saving_usd"] == "0.011059200")
        #expect(prompt.evidence["write_premium_usd"] == "0.001536000")
        #expect(prompt.savingUSD.decimalString == "0.009523200")
        #expect(prompt.evidence["average_prefix_tokens"] == "2048")
        #expect(prompt.evidence["minimum_tokens"] == "1024")

        // 5 × (0.0014 − 0.00028).
        let choice = try one(.modelChoice)
        #expect(choice.confidence == .candidate && choice.evidence["cheaper_model"] == "gpt-4.1-mini")
        #expect(choice.savingUSD.decimalString == "0.005600000" && choice.calls == 5)

        // Held: 4 × 150 × 8 + 5 × 4,096 × 8 = 168,640 per million; used 4 × 100 × 8 + 5 × 50 × 8 = 5,200.
        let maxTokens = try one(.oversizedMaxTokens)
        #expect(maxTokens.model == "gpt-4.1" && maxTokens.calls == 9)
        #expect(maxTokens.evidence["held_output_usd"] == "0.168640000")
        #expect(maxTokens.evidence["used_output_usd"] == "0.005200000")
        #expect(maxTokens.evidence["p95_output_tokens"] == "100")
        #expect(maxTokens.evidence["budget_refusals"] == "1")
        #expect(maxTokens.monthlySavingUSD == .zero && maxTokens.confidence == .budget)

        // The failed attempt's 1,000 input tokens: 0.002.
        let retries = try one(.retrySpend)
        #expect(retries.savingUSD.decimalString == "0.002000000")

        #expect(findings.count == 5)
        #expect(findings.first?.kind == .promptCaching, "largest monthly saving first")
    }

    @Test("Calls through the gateway leave shapes: repeated calls become a duplicate finding at GET /api/optimize")
    func throughTheGateway() async throws {
        try await withGateway { client, _ in
            let body = #"{"model":"gpt-4.1","messages":[{"role":"user","content":"same question"}]}"#
            for _ in 0..<3 {
                let response = try await client.call(
                    "/openai/v1/chat/completions", body, headers: [.authorization: "Bearer \(adminKey)"])
                #expect(response.status == .ok)
            }
            var report: [String: Any] = [:]
            for _ in 0..<200 {
                report = try await client.get("/api/optimize?from=2026-01-01T00:00:00Z&to=2028-01-01T00:00:00Z").json
                if report["analysed_calls"] as? Int == 3 { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(report["calls"] as? Int == 3)
            let findings = report["findings"] as? [[String: Any]] ?? []
            let duplicate = try #require(findings.first { $0["kind"] as? String == "duplicate_calls" })
            #expect(duplicate["calls"] as? Int == 2)
            #expect(duplicate["model"] as? String == "gpt-4.1-2025-04-14")
            let bad = try await client.get("/api/optimize?from=yesterday")
            #expect(bad.status == .badRequest)
        }
    }

    @Test(
        "A call's shape hashes its prompt's prefixes in tokens: shared up to where two prompts differ, never the text")
    func shapes() throws {
        let system = String(repeating: "You answer questions about the handbook, politely and briefly. ", count: 300)
        func body(_ question: String) -> [UInt8] {
            Array(
                #"{"model":"gpt-4.1","tools":[{"type":"function","function":{"name":"f"}}],"messages":[{"role":"system","content":"\#(system)"},{"role":"user","content":"\#(question)"}],"max_tokens":300}"#
                    .utf8)
        }
        func shape(_ question: String) throws -> CallShape {
            try #require(
                CallAnalyzer.shape(
                    .init(
                        org: "o", eventId: question, ts: Self.from, provider: .openai, endpoint: .chatCompletions,
                        body: body(question), maxTokens: 300)))
        }
        let a = try shape("Where is the holiday policy?")
        let b = try shape("Who approves expenses above the limit?")
        #expect(a.promptTokens > 2048 && a.tools && a.maxTokens == 300)
        #expect(a.requestHash != b.requestHash)
        // The request's hash is the response cache's key of the same body (duplicates are found by it).
        let key = ResponseCacheKey(
            org: "o", provider: .openai, format: .openai, endpoint: .chatCompletions, path: "", query: nil,
            headers: [], body: body("Where is the holiday policy?"))
        #expect(a.requestHash == key?.hex)
        #expect(a.prefixes.map(\.tokens).starts(with: [512, 1024, 2048]))
        // A prefix's hash is SHA-256 of its tokens as four little-endian bytes each (its first 8 bytes, hex),
        // as stored since the savings report began: worked out here token by token.
        let prompt = CallAnalyzer.promptBytes(
            try OrderedJSONParser.parse(body("Where is the holiday policy?")), endpoint: .chatCompletions)
        let tokens = try Tokenizer.shared(for: .o200kBase).encode(prompt)
        var words: [UInt8] = []
        for token in tokens.prefix(512) {
            let value = UInt32(token)
            words += [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 24)]
        }
        #expect(a.prefixes.first?.hash == Hex.string(SHA256.hash(data: words).prefix(8)))
        // The long system prompt is the same: its prefixes hash alike; the whole prompts differ.
        for (x, y) in zip(a.prefixes, b.prefixes) where x.tokens <= 2048 { #expect(x == y) }
        #expect(a.prefixes.last != b.prefixes.last)
        #expect(!a.prefixText.contains("handbook"))
        // A short prompt is not tokenized: nothing a provider would cache.
        let short = try #require(
            CallAnalyzer.shape(
                .init(
                    org: "o", eventId: "s", ts: Self.from, provider: .openai, endpoint: .chatCompletions,
                    body: Array(#"{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}"#.utf8),
                    maxTokens: nil)))
        #expect(short.prefixes.isEmpty && !short.tools)
    }
}
