import MeterrCore
import MeterrRouter
import Testing

let noon = Timestamp(milliseconds: 1_796_385_600_000)  // 2026-12-04T12:00:00Z

/// Two cheap and one dear deployment, with what the catalog knows of them and their prices per token.
struct Catalog {
    var facts: [String: DeploymentFacts] = [
        "openai/gpt-4.1-mini": DeploymentFacts(
            maxInputTokens: 1_000_000, maxOutputTokens: 32_768, tools: true, vision: true, jsonSchema: true),
        "anthropic/claude-haiku-4-5": DeploymentFacts(
            maxInputTokens: 200_000, maxOutputTokens: 64_000, tools: true, vision: true),
        "gemini/gemini-2.5-flash": DeploymentFacts(maxInputTokens: 1_048_576, maxOutputTokens: 65_535, tools: true),
        "openai/gpt-4.1": DeploymentFacts(
            maxInputTokens: 1_000_000, maxOutputTokens: 32_768, tools: true, vision: true, jsonSchema: true),
    ]
    /// Nano-dollars per input and output token.
    var prices: [String: (Int64, Int64)] = [
        "openai/gpt-4.1-mini": (400, 1600), "anthropic/claude-haiku-4-5": (1000, 5000),
        "gemini/gemini-2.5-flash": (300, 2500), "openai/gpt-4.1": (2000, 8000),
    ]

    func decide(_ router: ModelRouter, _ model: String, _ needs: RouteNeeds, now: Timestamp = noon, roll: Double = 0)
        -> RouteDecision?
    {
        router.decide(
            model: model, needs: needs, facts: { facts[$0.id] },
            price: { deployment, usage in
                prices[deployment.id].map {
                    Money(nanos: Int64(usage.inputTokens) * $0.0 + Int64(usage.outputTokens) * $0.1)
                }
            }, now: now, roll: roll)
    }
}

func deployments(_ ids: String...) -> [Deployment] {
    ids.map { id in
        let parts = id.split(separator: "/", maxSplits: 1)
        return Deployment(provider: Provider(rawValue: String(parts[0]))!, model: String(parts[1]))
    }
}

func table(_ policy: RoutePolicy, _ list: [Deployment]) -> RouteTable {
    RouteTable(models: ["fast": VirtualModel(name: "fast", policy: policy, deployments: list)])
}

@Suite("Routing decisions")
struct RouterDecisionTests {
    let catalog = Catalog()
    let three = deployments("anthropic/claude-haiku-4-5", "openai/gpt-4.1-mini", "gemini/gemini-2.5-flash")

    @Test("cheapest ranks by this call's expected cost; output expectations follow the deployment's history")
    func cheapest() throws {
        let router = ModelRouter(table: table(.cheapest, three))
        // 1,000 prompt tokens, 256 expected output: flash 0.94 µ$… mini 0.81, haiku 2.28 (in micro-dollars × 1000).
        let decision = try #require(catalog.decide(router, "fast", RouteNeeds(inputTokens: 1000)))
        #expect(
            decision.order.map(\.id) == [
                "openai/gpt-4.1-mini", "gemini/gemini-2.5-flash", "anthropic/claude-haiku-4-5",
            ])
        #expect(decision.candidates.first?.expectedCost == Money(nanos: 1000 * 400 + 256 * 1600))
        // With 10,000 prompt tokens and short answers flash's cheaper input wins.
        router.started(three[2], now: noon)
        router.succeeded(three[2], timeToFirstTokenMs: 300, usage: Usage(inputTokens: 10_000, outputTokens: 10))
        router.started(three[1], now: noon)
        router.succeeded(three[1], timeToFirstTokenMs: 300, usage: Usage(inputTokens: 10_000, outputTokens: 10))
        let long = try #require(catalog.decide(router, "meterr/fast", RouteNeeds(inputTokens: 10_000)))
        #expect(long.order.first?.id == "gemini/gemini-2.5-flash")
        #expect(long.candidates.first?.expectedOutputTokens == 10)
    }

    @Test(
        "Capabilities are hard filters: unknown is ineligible, not cheap; the context window counts the output asked for"
    )
    func filters() throws {
        let router = ModelRouter(table: table(.cheapest, three))
        let schema = try #require(catalog.decide(router, "fast", RouteNeeds(inputTokens: 10, jsonSchema: true)))
        #expect(schema.order.map(\.id) == ["openai/gpt-4.1-mini"])
        #expect(
            schema.candidates.first { $0.deployment.id == "anthropic/claude-haiku-4-5" }?.excluded
                == "not known to follow a JSON schema")
        let images = try #require(catalog.decide(router, "fast", RouteNeeds(inputTokens: 10, vision: true)))
        #expect(images.order.map(\.id) == ["openai/gpt-4.1-mini", "anthropic/claude-haiku-4-5"])
        let long = try #require(
            catalog.decide(router, "fast", RouteNeeds(inputTokens: 190_000, maxOutputTokens: 20_000)))
        #expect(!long.order.contains { $0.provider == .anthropic })
        #expect(long.candidates.last?.excluded == "needs 210000 tokens, over its context window of 200000")
        var unpriced = catalog
        unpriced.prices["openai/gpt-4.1-mini"] = nil
        unpriced.facts["gemini/gemini-2.5-flash"] = nil
        let gaps = try #require(unpriced.decide(router, "fast", RouteNeeds(inputTokens: 10)))
        #expect(gaps.order.map(\.id) == ["anthropic/claude-haiku-4-5"])
        #expect(
            Set(gaps.candidates.compactMap(\.excluded)) == [
                "its model has no price", "its model is not in the price catalog",
            ])
    }

    @Test("priority, least busy, lowest latency and weighted order as configured")
    func policies() throws {
        var list = three
        list[0].priority = 2
        list[1].priority = 1
        list[2].priority = 1
        #expect(
            catalog.decide(ModelRouter(table: table(.priority, list)), "fast", RouteNeeds(inputTokens: 1))?.order.map(
                \.id)
                == ["openai/gpt-4.1-mini", "gemini/gemini-2.5-flash", "anthropic/claude-haiku-4-5"])
        let busy = ModelRouter(table: table(.leastBusy, three))
        busy.started(three[0], now: noon)
        busy.started(three[1], now: noon)
        busy.started(three[1], now: noon)
        #expect(
            catalog.decide(busy, "fast", RouteNeeds(inputTokens: 1))?.order.map(\.id)
                == ["gemini/gemini-2.5-flash", "anthropic/claude-haiku-4-5", "openai/gpt-4.1-mini"])
        let fast = ModelRouter(table: table(.lowestLatency, three))
        for (deployment, ttft) in zip(three, [400, 150, 900]) {
            fast.started(deployment, now: noon)
            fast.succeeded(deployment, timeToFirstTokenMs: ttft, usage: nil)
        }
        #expect(
            catalog.decide(fast, "fast", RouteNeeds(inputTokens: 1))?.order.map(\.id)
                == ["openai/gpt-4.1-mini", "anthropic/claude-haiku-4-5", "gemini/gemini-2.5-flash"])
        list = three
        list[0].weight = 1
        list[1].weight = 3
        list[2].weight = 0
        let weighted = ModelRouter(table: table(.weighted, list))
        #expect(
            catalog.decide(weighted, "fast", RouteNeeds(inputTokens: 1), roll: 0.1)?.order.first?.id
                == "anthropic/claude-haiku-4-5")
        #expect(
            catalog.decide(weighted, "fast", RouteNeeds(inputTokens: 1), roll: 0.5)?.order.first?.id
                == "openai/gpt-4.1-mini")
        #expect(
            catalog.decide(weighted, "fast", RouteNeeds(inputTokens: 1), roll: 0.99)?.order.first?.id
                == "openai/gpt-4.1-mini")
    }

    @Test("A name that is not a virtual model is not routed")
    func notRouted() {
        let router = ModelRouter(table: table(.cheapest, three))
        #expect(catalog.decide(router, "gpt-4.1", RouteNeeds(inputTokens: 1)) == nil)
        #expect(catalog.decide(router, "meterr/auto", RouteNeeds(inputTokens: 1)) == nil)
    }

    @Test("meterr/auto picks a tier from the call: small talk, code, tools, reasoning")
    func auto() throws {
        var routes = table(.cheapest, three)
        routes.models["smart"] = VirtualModel(
            name: "smart", policy: .cheapest, deployments: deployments("openai/gpt-4.1"))
        routes.auto = AutoTiers(simple: "fast", medium: "fast", complex: "smart", reasoning: "smart")
        let router = ModelRouter(table: routes)
        let hello = try #require(
            catalog.decide(router, "meterr/auto", RouteNeeds(inputTokens: 8, lastUserText: "hi there")))
        #expect(hello.complexity?.tier == .simple)
        #expect(hello.route == "fast")
        let code = RouteNeeds(
            inputTokens: 600, tools: true, lastUserText: "Fix this:\n```swift\nfunc f() {}\n```")
        let hard = try #require(catalog.decide(router, "meterr/auto", code))
        #expect(hard.complexity?.tier == .reasoning)
        #expect(hard.route == "smart")
        #expect(hard.order.map(\.id) == ["openai/gpt-4.1"])
        let why = try #require(
            catalog.decide(
                router, "meterr/auto",
                RouteNeeds(inputTokens: 40, lastUserText: "Explain why this holds and prove it step by step")))
        #expect(why.complexity?.tier == .reasoning)
        #expect(why.complexity?.signals.contains { $0.hasPrefix("reasoning cues") } == true)
    }
}

@Suite("Breakers")
struct BreakerTests {
    let catalog = Catalog()
    let two = deployments("openai/gpt-4.1-mini", "gemini/gemini-2.5-flash")

    @Test("Failures in a row open the breaker; after the cool-down one probe goes; its success closes it")
    func openHalfOpenClosed() throws {
        let router = ModelRouter(table: table(.priority, two))
        let first = two[0]
        for _ in 0..<2 {
            router.started(first, now: noon)
            router.failed(first, failure: .serverError, retryAfter: nil, now: noon)
        }
        #expect(router.available(first, now: noon))
        router.started(first, now: noon)
        router.failed(first, failure: .overloaded, retryAfter: nil, now: noon)
        #expect(!router.available(first, now: noon))
        let open = try #require(catalog.decide(router, "fast", RouteNeeds(inputTokens: 1)))
        #expect(open.order.map(\.id) == ["gemini/gemini-2.5-flash"])
        #expect(open.candidates.last?.excluded == "its breaker is open until 2026-12-04T12:00:30.000Z (overloaded)")
        #expect(router.health(now: noon).first?.state == .open)
        let later = noon.adding(milliseconds: 30_000)
        #expect(router.health(now: later).first?.state == .halfOpen)
        #expect(catalog.decide(router, "fast", RouteNeeds(inputTokens: 1), now: later)?.order.first == first)
        router.started(first, now: later)
        // One probe at a time.
        #expect(!router.available(first, now: later))
        #expect(
            catalog.decide(router, "fast", RouteNeeds(inputTokens: 1), now: later)?.order.map(\.id) == [
                "gemini/gemini-2.5-flash"
            ])
        router.succeeded(first, timeToFirstTokenMs: 100, usage: nil)
        #expect(router.available(first, now: later))
        #expect(router.health(now: later).first?.state == .closed)
    }

    @Test("A rate limit opens at once for at least its Retry-After; a failed probe re-opens; re-opening extends")
    func rateLimitAndProbe() {
        let router = ModelRouter(table: table(.priority, two))
        let first = two[0]
        router.started(first, now: noon)
        router.failed(first, failure: .rateLimited, retryAfter: 120, now: noon)
        #expect(router.health(now: noon).first?.openUntil == noon.adding(milliseconds: 120_000))
        let probeTime = noon.adding(milliseconds: 120_000)
        router.started(first, now: probeTime)
        router.failed(first, failure: .timeout, retryAfter: nil, now: probeTime)
        #expect(router.health(now: probeTime).first?.openUntil == probeTime.adding(milliseconds: 30_000))
        // A shorter Retry-After never pulls an open breaker's deadline in.
        router.failed(first, failure: .rateLimited, retryAfter: 1, now: probeTime)
        #expect(router.health(now: probeTime).first?.openUntil == probeTime.adding(milliseconds: 30_000))
    }

    @Test("A prompt too long or a bad request says nothing of health; an answer that refuses tools marks it")
    func notHealth() throws {
        let router = ModelRouter(table: table(.priority, two))
        for failure in [AttemptFailure.contextLength, .badRequest, .contextLength, .badRequest] {
            router.started(two[0], now: noon)
            router.failed(two[0], failure: failure, retryAfter: nil, now: noon)
        }
        #expect(router.available(two[0], now: noon))
        router.started(two[0], now: noon)
        router.failed(two[0], failure: .lacksTools, retryAfter: nil, now: noon)
        let tools = try #require(catalog.decide(router, "fast", RouteNeeds(inputTokens: 1, tools: true)))
        #expect(tools.order.map(\.id) == ["gemini/gemini-2.5-flash"])
        #expect(router.health(now: noon).first?.lacks == ["tools"])
        #expect(router.health(now: noon).first?.inFlight == 0)
    }
}

@Suite("The router's configuration")
struct RouteTableTests {
    @Test("The router: section reads virtual models, tiers and retry settings; mistakes name their place")
    func yaml() throws {
        let routes = try RouteTable(
            yaml: [
                "models": [
                    "fast": [
                        "policy": "weighted",
                        "deployments": [
                            "openai/gpt-4.1-mini",
                            ["model": "anthropic/claude-haiku-4-5", "weight": 3, "surface": "compatible"],
                        ],
                    ],
                    "smart": ["deployments": ["openai/gpt-4.1"]],
                ] as [String: Any],
                "auto": ["simple": "fast", "medium": "fast", "complex": "smart", "reasoning": "smart"],
                "max_attempts": 2, "deadline_seconds": 20,
            ] as [String: Any], source: "meterr.yaml: router")
        #expect(routes.models["fast"]?.policy == .weighted)
        #expect(routes.models["fast"]?.deployments.last?.weight == 3)
        #expect(routes.models["fast"]?.deployments.last?.compatibleSurface == true)
        #expect(routes.models["fast"]?.deployments.first?.compatibleSurface == false)
        #expect(routes.models["smart"]?.policy == .cheapest)
        #expect(routes.maxAttempts == 2)
        #expect(routes.deadline == .seconds(20))
        #expect(routes.routeName("meterr/auto") == "auto")
        for (bad, fragment) in [
            (["models": ["x": ["deployments": ["gpt-4.1"]]]] as [String: Any], "must name provider/model"),
            (["models": ["x": ["policy": "cheap", "deployments": ["openai/gpt-4.1"]]]], "policy cheap is not one of"),
            (["models": ["x": ["deployments": ["openai/a", "openai/a"]]]], "listed twice"),
            (["auto": ["simple": "x", "medium": "x", "complex": "x", "reasoning": "x"]], "auto names x"),
            (["retries": 3], "unknown setting retries"),
        ] {
            #expect {
                try RouteTable(yaml: bad, source: "meterr.yaml: router")
            } throws: { error in
                (error as? MeterrError)?.message.contains(fragment) == true
            }
        }
    }
}
