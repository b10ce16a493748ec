// Measures the router issue's two goals: a routing decision over 20 candidates (< 20 µs) and what
// translating a non-streamed Chat Completions call to a provider's native API and back adds beside a
// passthrough call (< 50 µs). Run from the repository root with `swift run -c release meterr-router-bench`
// (it reads the recorded answers in Tests/MeterrProvidersTests/Fixtures).
import Foundation
import MeterrCore
import MeterrPricing
import MeterrProviders
import MeterrRouter

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// CPU time of this process in nanoseconds: less disturbed than wall time when other work shares the cores.
func cpuNanoseconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec)
    return Double(spec.tv_sec) * 1e9 + Double(spec.tv_nsec)
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
func format(_ nanoseconds: Double) -> String { String(format: "%.2f µs", nanoseconds / 1000) }

/// Runs `body` `iterations` times per round, five rounds; the median round's wall and CPU time per run.
func measure(_ iterations: Int, _ body: () -> Void) -> (wall: Double, cpu: Double) {
    var walls: [Double] = []
    var cpus: [Double] = []
    for _ in 0..<5 {
        let start = DispatchTime.now().uptimeNanoseconds
        let cpuStart = cpuNanoseconds()
        for _ in 0..<iterations { body() }
        walls.append(Double(DispatchTime.now().uptimeNanoseconds - start) / Double(iterations))
        cpus.append((cpuNanoseconds() - cpuStart) / Double(iterations))
    }
    return (median(walls), median(cpus))
}

// MARK: A decision over 20 candidates

let catalog = try PriceCatalog.shipped()
let engine = CostEngine(catalog: catalog)
let now = Timestamp(rfc3339: "2026-12-04T12:00:00Z")!
let chatModels = catalog.entries.filter {
    $0.mode == "chat" && $0.capabilities.tools == true && $0.maxInputTokens != nil
}
let twenty = chatModels.prefix(20).map { Deployment(provider: $0.provider, model: $0.model) }
precondition(twenty.count == 20, "the catalog has \(chatModels.count) chat models with tools")
let router = ModelRouter(
    table: RouteTable(models: ["bench": VirtualModel(name: "bench", policy: .cheapest, deployments: Array(twenty))]))
let needs = RouteNeeds(
    inputTokens: 1_800, maxOutputTokens: 800, tools: true, lastUserText: "Summarise the attached report.")
var chosen = 0
let decision = measure(20_000) {
    let made = router.decide(
        model: "bench", needs: needs,
        facts: { deployment in
            engine.resolve(model: deployment.model, provider: deployment.provider).map {
                DeploymentFacts(
                    maxInputTokens: $0.maxInputTokens, maxOutputTokens: $0.maxOutputTokens,
                    tools: $0.capabilities.tools,
                    vision: $0.capabilities.vision, jsonSchema: $0.capabilities.jsonSchema)
            }
        },
        price: { deployment, usage in
            (try? engine.cost(model: deployment.model, provider: deployment.provider, usage: usage, at: now))?.map(
                \.cost)
        }, now: now, roll: 0.5)
    chosen &+= made?.order.count ?? 0
}
print(
    "decision over 20 candidates (cheapest, tools, catalog prices): \(format(decision.wall)) wall, \(format(decision.cpu)) CPU"
)
if CommandLine.arguments.contains("--decision-only") { exit(0) }

// MARK: Translation beside passthrough

func fixture(_ name: String) -> [UInt8] {
    let path = "Tests/MeterrProvidersTests/Fixtures/" + name
    guard let data = FileManager.default.contents(atPath: path) else {
        fatalError("run from the repository root: \(path) not found")
    }
    return Array(data)
}

/// A typical agent call: a system prompt, a user turn, an assistant tool call and its result, two tools.
let request = Array(
    #"""
    {"model":"m","messages":[{"role":"system","content":"You are a careful assistant. Answer in metric units."},
     {"role":"user","content":"What is the weather in Paris and in Tokyo right now, and should I pack an umbrella?"},
     {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
     {"role":"tool","tool_call_id":"call_1","content":"{\"temp_c\":18,\"rain\":0.2}"}],
     "tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},
              {"type":"function","function":{"name":"get_time","description":"Local time","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
     "temperature":0.3,"max_completion_tokens":800}
    """#.utf8)

// Passthrough: a /openai/v1 call's answer is read for its usage and forwarded as it is.
let openAIAnswer = fixture("openai-chat.json")
var sink = 0
let passthrough = measure(50_000) {
    sink &+= UsageReader.read(provider: .openai, endpoint: .chatCompletions, body: openAIAnswer).usage?.inputTokens ?? 0
}
print("passthrough (read an OpenAI answer's usage): \(format(passthrough.wall)) wall, \(format(passthrough.cpu)) CPU")
// What the gateway reads from every request before it goes upstream (model, stream, output limit, user).
let requestFacts = measure(50_000) { sink &+= RequestFacts(body: request).maxTokens ?? 0 }
print(
    "request facts (an agent call's model, stream and limits): \(format(requestFacts.wall)) wall, \(format(requestFacts.cpu)) CPU"
)

for (provider, endpoint, answerFile) in [
    (Provider.anthropic, ProviderEndpoint.messages, "anthropic-messages-tools.json"),
    (.gemini, .generateContent, "gemini-generate-tools.json"), (.cohere, .chat, "cohere-chat-tools.json"),
] {
    let translator = Providers.profile(provider).chatTranslator!
    let answer = fixture(answerFile)
    let translated = measure(20_000) {
        guard let chat = try? ChatRequest(body: request, model: "bench-model"),
            let native = try? translator.request(chat, options: TranslationOptions())
        else { fatalError("the request does not translate") }
        let reading = UsageReader.read(provider: provider, endpoint: endpoint, body: answer)
        let body = translator.answer(answer, chat: chat)?.completionBody(
            created: 1, fallbackId: "req", fallbackModel: "m", usage: reading.usage)
        sink &+= native.body.count + (body?.count ?? 0)
    }
    print(
        "\(provider.rawValue): translate request + answer, read native usage: \(format(translated.wall)) wall,"
            + " \(format(translated.cpu)) CPU; added over passthrough \(format(translated.wall - passthrough.wall))")
}
print("(checksums \(chosen) \(sink))")
// Where a decision's time goes: the catalog lookups and the quotes of its 20 candidates.
let lookups = measure(20_000) {
    for deployment in twenty {
        chosen &+= engine.resolve(model: deployment.model, provider: deployment.provider)?.maxInputTokens ?? 0
    }
}
let quotes = measure(20_000) {
    for deployment in twenty {
        chosen &+= Int(
            (try? engine.cost(
                model: deployment.model, provider: deployment.provider,
                usage: Usage(inputTokens: 1800, outputTokens: 256), at: now))??.cost.nanos ?? 0)
    }
}
print("of which 20 catalog lookups: \(format(lookups.wall)); 20 quotes: \(format(quotes.wall))")
let facts = DeploymentFacts(maxInputTokens: 1_000_000, maxOutputTokens: 32_000, tools: true)
let bare = measure(20_000) {
    chosen &+=
        router.decide(
            model: "bench", needs: needs, facts: { _ in facts },
            price: { _, usage in Money(nanos: Int64(usage.inputTokens)) },
            now: now, roll: 0.5)?.order.count ?? 0
}
print("the router's own part (constant facts and prices): \(format(bare.wall))")
