import Foundation
import MeterrCore
import MeterrSDK
import MeterrTestSupport
import Testing

/// A real `meterr serve` with its admin key, and a management client for it.
struct LiveMeterr {
    let server: ServerProcess
    let directory: String
    var connection: MeterrConnection {
        MeterrConnection(baseURL: "http://127.0.0.1:\(server.port)", key: server.adminKey)
    }
    var management: ManagementClient { ManagementClient(connection: connection) }

    init(directory: String = temporaryDirectory(), port: Int = 0, environment: [String: String] = [:]) async throws {
        self.directory = directory
        server = try await ServerProcess.start(dataDirectory: directory, port: port, environment: environment)
    }

    /// The ids of the ledger's events that carry a tag, oldest first.
    func eventIds(tag: String) async throws -> [String] {
        var ids: [String] = []
        var cursor: EventCursor?
        repeat {
            let page = try await management.events(EventQuery(tags: ["run": tag], limit: 1000, cursor: cursor))
            ids += page.events.map(\.id)
            cursor = page.nextCursor
        } while cursor != nil
        return ids.reversed()
    }
}

@Suite("The SDK against a real meterr", .serialized)
struct LiveMeterrTests {
    @Test(
        "meterr stopped and restarted: buffered events all arrive, past the buffer the oldest are dropped and counted")
    func stopAndRestart() async throws {
        let first = try await LiveMeterr()
        defer { try? FileManager.default.removeItem(atPath: first.directory) }
        let reporter = Reporter(
            connection: first.connection,
            configuration: .init(
                maxBatchSize: 5, flushInterval: .milliseconds(20), bufferLimit: 10,
                initialBackoff: .milliseconds(50), maxBackoff: .milliseconds(300), requestTimeout: .seconds(5)))
        let run = ["run": "restart"]
        reporter.report((0..<5).map { sampleEvent("before-\($0)", tags: run) })
        // Long bounds: a full parallel test run can keep the cooperative thread pool busy a while.
        try #require(await eventually(within: .seconds(120)) { reporter.counters.sent == 5 }, "\(reporter.counters)")

        await first.server.stop()
        reporter.report((0..<25).map { sampleEvent("down-\($0)", tags: run) })
        #expect(await eventually(within: .seconds(120)) { reporter.counters.failedAttempts >= 1 })
        #expect(
            await eventually(within: .seconds(120)) {
                reporter.counters.dropped == 15 && reporter.counters.pending == 10
            }, "\(reporter.counters)")

        let second = try await LiveMeterr(directory: first.directory, port: first.server.port)
        #expect(await eventually(within: .seconds(120)) { reporter.counters.sent == 15 }, "\(reporter.counters)")
        await reporter.shutdown()
        let counters = reporter.counters
        #expect(counters.dropped == 15)
        #expect(counters.failedAttempts >= 1)
        #expect(counters.pending == 0)

        let stored = try await second.eventIds(tag: "restart")
        let expected = (0..<5).map { "before-\($0)" } + (15..<25).map { "down-\($0)" }
        #expect(Set(stored) == Set(expected), "the first five and the newest ten; the oldest fifteen were dropped")
        #expect(stored.count == expected.count, "nothing stored twice")
    }

    @Test("The same event ids reported twice are stored once")
    func idempotentRetries() async throws {
        let live = try await LiveMeterr()
        defer { try? FileManager.default.removeItem(atPath: live.directory) }
        let events = (0..<3).map { sampleEvent("same-\($0)", tags: ["run": "twice"]) }
        let firstAnswer = try await live.management.submit(events)
        #expect(firstAnswer == IngestResult(received: 3, inserted: 3, duplicates: 0))
        let again = try await live.management.submit(events)
        #expect(again == IngestResult(received: 3, inserted: 0, duplicates: 3))

        let reporter = Reporter(connection: live.connection, configuration: .init(flushInterval: .milliseconds(10)))
        reporter.report(events)
        await reporter.shutdown()
        #expect(reporter.counters.sent == 3)
        #expect(try await live.eventIds(tag: "twice").count == 3)
        let summary = try await live.management.summary(groupBy: .team)
        #expect(summary.totals.requests == 3)
        #expect(summary.totals.usage.inputTokens == 300)
        #expect(summary.groups.first?.value == "search")
    }

    @Test("A metered call reported to meterr is priced there and read back with the management client")
    func meteredCallPriced() async throws {
        let live = try await LiveMeterr()
        defer { try? FileManager.default.removeItem(atPath: live.directory) }
        let (provider, baseURL) = try await startFakeProvider()
        defer { provider.cancel() }
        let reporter = Reporter(connection: live.connection, configuration: .init(flushInterval: .milliseconds(10)))
        let metering = Metering(
            reporter: reporter, provider: .openai, attribution: Attribution(team: "search", tags: ["run": "priced"]))
        let transport = MeteredTransport(AsyncHTTPClientTransport(), metering: metering)
        _ = try await transport.send(
            TransportRequest(
                method: "POST", url: baseURL + "/v1/chat/completions",
                body: Array(#"{"model":"gpt-4.1","messages":[]}"#.utf8)),
            timeout: .seconds(30))
        await reporter.shutdown()

        let page = try await live.management.events(EventQuery(team: "search", tags: ["run": "priced"]))
        let event = try #require(page.events.first)
        #expect(event.usage == Usage(inputTokens: 1200, cacheReadTokens: 1024, outputTokens: 8))
        #expect(event.cost == Money(decimalString: "0.000928000"), "the same price the gateway gives this call")
        #expect(event.priceId != nil)
        #expect(event.route == "sdk")
        #expect(event.upstreamRequestId == "up-123")
        let byModel = try await live.management.summary(groupBy: .model)
        #expect(byModel.groups.map(\.value) == ["gpt-4.1-2025-04-14"])
        #expect(byModel.groups.first?.provider == "openai")
    }

    @Test("Keys, budgets and alerts through the management client")
    func management() async throws {
        let live = try await LiveMeterr()
        defer { try? FileManager.default.removeItem(atPath: live.directory) }
        let client = live.management
        let (teamStatus, _) = try await live.server.post("/api/teams", Data(#"{"name":"search"}"#.utf8))
        #expect(teamStatus == 201)

        let created = try await client.createKey(
            NewKey(name: "sdk reporter", scopes: ["ingest", "read"], team: "search"))
        let secret = try #require(created.key)
        #expect(secret.hasPrefix("mk_"))
        #expect(created.scopes.sorted() == ["ingest", "read"])
        #expect(try await client.keys().contains { $0.id == created.id && $0.key == nil && $0.status == "active" })

        // The new key reports; a key bound to a team bills that team.
        let reporter = ManagementClient(connection: MeterrConnection(baseURL: live.connection.baseURL, key: secret))
        let budgetBody = Data(#"{"name":"tiny","limit_usd":"0.000010","thresholds":[50,100]}"#.utf8)
        let (status, _) = try await live.server.post("/api/budgets", budgetBody)
        #expect(status == 201)
        _ = try await reporter.submit([sampleEvent("over-budget")])

        let budgets = try await client.budgets()
        let budget = try #require(budgets.first)
        #expect(budget.name == "tiny")
        #expect(budget.limit == Money(nanos: 10_000))
        #expect(budget.spent == Money(decimalString: "0.000280000"), "meterr's price of the reported call")
        #expect(budget.percentUsed == 2800)
        #expect(budget.resetsAt > budget.periodStart)

        #expect(await eventually { ((try? await client.alerts()) ?? []).count >= 1 })
        let alert = try #require(try await client.alerts(unacknowledgedOnly: true).first)
        #expect(alert.subject == budget.id)
        try await client.acknowledgeAlert(id: alert.id)
        #expect(try await client.alerts(unacknowledgedOnly: true).allSatisfy { $0.id != alert.id })

        let rotated = try await client.rotateKey(id: created.id, graceSeconds: 0)
        #expect(rotated.key != secret)
        try await client.revokeKey(id: created.id)
        await #expect(throws: MeterrError.self) { try await reporter.events() }
        do {
            _ = try await reporter.events()
        } catch {
            #expect(error.code == .unauthenticated)
        }
    }

    @Test("The gateway helpers' base URLs, key headers and attribution headers reach every provider through meterr")
    func gatewayHelpers() async throws {
        let (provider, providerURL) = try await startFakeProvider()
        defer { provider.cancel() }
        var environment: [String: String] = [:]
        for name in ["OPENAI", "ANTHROPIC", "GEMINI", "MISTRAL", "COHERE"] {
            environment["METERR_\(name)_BASE_URL"] = providerURL
            environment["\(name)_API_KEY"] = "real-key"
        }
        let live = try await LiveMeterr(environment: environment)
        defer { try? FileManager.default.removeItem(atPath: live.directory) }
        let gateway = MeterrGateway(baseURL: live.connection.baseURL + "/")
        let calls: [(Provider, String, String)] = [
            (.openai, "/chat/completions", #"{"model":"gpt-4.1","messages":[]}"#),
            (.anthropic, "/v1/messages", #"{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[]}"#),
            (.gemini, "/v1beta/models/gemini-2.5-pro:generateContent", #"{"contents":[]}"#),
            (.mistral, "/v1/chat/completions", #"{"model":"mistral-medium-2508","messages":[]}"#),
            (.cohere, "/v2/chat", #"{"model":"command-a-03-2025","messages":[]}"#),
        ]
        let attribution = Attribution(team: "search", user: "ana", project: "beta", tags: ["run": "gateway"])
        for (target, path, body) in calls {
            var headers = [MeterrGateway.keyHeader(for: target, key: live.server.adminKey)]
            headers += MeterrGateway.attributionHeaders(attribution)
            headers.append(("content-type", "application/json"))
            let response = try await AsyncHTTPClientTransport().send(
                TransportRequest(
                    method: "POST", url: gateway.baseURL(for: target) + path, headers: headers, body: Array(body.utf8)),
                timeout: .seconds(30))
            #expect(response.status == 200, "\(target)")
            #expect(response.header(MeterrHeader.requestId) != nil, "\(target)")
        }
        // The gateway hands its events to the ledger's writer and answers: they arrive a moment later.
        var events: [UsageEvent] = []
        #expect(
            try await eventually {
                events = try await live.management.events(EventQuery(tags: ["run": "gateway"])).events
                return events.count == calls.count
            })
        #expect(Set(events.map(\.provider)) == [.openai, .anthropic, .gemini, .mistral, .cohere])
        #expect(events.allSatisfy { $0.team == "search" && $0.user == "ana" && $0.project == "beta" })
        #expect(gateway.unifiedBaseURL == live.connection.baseURL + "/v1")
    }

    @Test("The example target makes a metered call to its fake provider and prints the event meterr stored")
    func example() async throws {
        let live = try await LiveMeterr()
        defer { try? FileManager.default.removeItem(atPath: live.directory) }
        let example = URL(fileURLWithPath: meterrBinary).deletingLastPathComponent()
            .appendingPathComponent("meterr-sdk-example").path
        let process = try ChildProcess(
            path: example, arguments: [live.connection.baseURL, live.server.adminKey],
            environment: ProcessInfo.processInfo.environment, errorOutput: .discard)
        let printed = try await onOwnThread { String(decoding: ChildProcess.readAll(process.output), as: UTF8.self) }
        let status = try await onOwnThread { process.wait() }
        #expect(status == 0, "\(printed)")
        let line = try #require(printed.split(separator: "\n").first { $0.hasPrefix("meterr stored: ") })
        let event = try UsageEventParser.parseEvent(
            line.dropFirst("meterr stored: ".count).utf8, receivedAt: Timestamp(milliseconds: 0))
        #expect(event.usage == Usage(inputTokens: 42, outputTokens: 7))
        #expect(event.team == "example")
        #expect(event.cost != nil, "meterr priced it")
    }

    @Test("An unreachable meterr is an unavailable error, not a hang or a crash")
    func unreachable() async throws {
        let live = try await LiveMeterr()
        let connection = live.connection
        await live.server.stop()
        try? FileManager.default.removeItem(atPath: live.directory)
        do {
            _ = try await ManagementClient(connection: connection, timeout: .seconds(2)).budgets()
            Issue.record("a stopped meterr answered")
        } catch {
            #expect(error.code == .unavailable)
        }
    }
}
