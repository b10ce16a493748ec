import Logging
import MeterrCore
import ServiceLifecycle
import Testing

@testable import MeterrSDK

@Suite("The reporter batches, retries and buffers usage events")
struct ReporterTests {
    func reporter(_ url: String, _ configuration: Reporter.Configuration) -> Reporter {
        Reporter(connection: MeterrConnection(baseURL: url, key: "mk_test"), configuration: configuration)
    }

    @Test("A full batch goes at once, a partial one waits for its interval, and shutdown sends what is left")
    func batchesBySize() async throws {
        let ingest = FakeIngest()
        let (server, url) = try await ingest.start()
        defer { server.cancel() }
        let reporter = reporter(url, .init(maxBatchSize: 4, flushInterval: .seconds(3600)))
        reporter.report((0..<10).map { sampleEvent("size-\($0)") })
        #expect(await eventually { reporter.counters.sent == 8 })
        #expect(
            ingest.received == [["size-0", "size-1", "size-2", "size-3"], ["size-4", "size-5", "size-6", "size-7"]])
        #expect(reporter.counters.pending == 2, "the last two wait for a full batch or the interval")

        await reporter.shutdown(timeout: .seconds(120))
        #expect(ingest.received.last == ["size-8", "size-9"])
        #expect(reporter.counters.sent == 10)
        #expect(reporter.counters.pending == 0)
    }

    @Test("A batch that does not fill is sent once its oldest event has waited the flush interval")
    func batchesByTime() async throws {
        let ingest = FakeIngest()
        let (server, url) = try await ingest.start()
        defer { server.cancel() }
        let reporter = reporter(url, .init(maxBatchSize: 100, flushInterval: .milliseconds(100)))
        reporter.report((0..<3).map { sampleEvent("time-\($0)") })
        #expect(await eventually { reporter.counters.sent == 3 })
        #expect(ingest.received == [["time-0", "time-1", "time-2"]])
        await reporter.shutdown()
    }

    @Test("A batch answered with 503 is retried with the same ids until meterr takes it")
    func retriesServerErrors() async throws {
        let ingest = FakeIngest()
        ingest.failuresLeft.withLock { $0 = 2 }
        let (server, url) = try await ingest.start()
        defer { server.cancel() }
        let reporter = reporter(
            url, .init(maxBatchSize: 3, flushInterval: .milliseconds(10), initialBackoff: .milliseconds(20)))
        reporter.report((0..<3).map { sampleEvent("retry-\($0)") })
        #expect(await eventually { reporter.counters.sent == 3 })
        let counters = reporter.counters
        #expect(counters.failedAttempts == 2)
        #expect(counters.retried == 6)
        #expect(counters.dropped == 0)
        #expect(ingest.received.count == 3)
        #expect(Set(ingest.received.map { $0 }) == [["retry-0", "retry-1", "retry-2"]], "every attempt, same ids")
        await reporter.shutdown()
    }

    @Test("While meterr fails, a full buffer drops its oldest events and counts them; the rest arrive later")
    func boundedBuffer() async throws {
        let ingest = FakeIngest()
        ingest.down.withLock { $0 = true }
        let (server, url) = try await ingest.start()
        defer { server.cancel() }
        let reporter = reporter(
            url,
            .init(
                maxBatchSize: 2, flushInterval: .milliseconds(10), bufferLimit: 5,
                initialBackoff: .milliseconds(50), maxBackoff: .milliseconds(200)))
        reporter.report(sampleEvent("full-0"))
        #expect(await eventually { reporter.counters.failedAttempts >= 1 })
        reporter.report((1..<12).map { sampleEvent("full-\($0)") })
        #expect(await eventually { reporter.counters.dropped == 7 && reporter.counters.pending == 5 })

        ingest.down.withLock { $0 = false }
        #expect(await eventually { reporter.counters.sent == 5 })
        let delivered = ingest.received.suffix(3).flatMap { $0 }
        #expect(delivered == (7..<12).map { "full-\($0)" }, "the newest five, in order")
        #expect(reporter.counters.dropped == 7)
        await reporter.shutdown()
    }

    @Test("Shutdown gives up when its time runs out: what is left is dropped and counted, nothing hangs")
    func shutdownWhileDown() async throws {
        let ingest = FakeIngest()
        ingest.down.withLock { $0 = true }
        let (server, url) = try await ingest.start()
        defer { server.cancel() }
        let reporter = reporter(url, .init(flushInterval: .milliseconds(10), initialBackoff: .milliseconds(20)))
        reporter.report((0..<4).map { sampleEvent("late-\($0)") })
        await reporter.shutdown(timeout: .milliseconds(300))
        #expect(reporter.counters.sent == 0)
        #expect(reporter.counters.dropped == 4)
        #expect(reporter.counters.pending == 0)
        reporter.report(sampleEvent("after"))
        #expect(reporter.counters.dropped == 5, "a report after shutdown is dropped, not sent")
    }

    @Test("The wait between attempts doubles with each failure up to the cap, and is jittered within its upper half")
    func backoffGrows() {
        let configuration = Reporter.Configuration(initialBackoff: .milliseconds(100), maxBackoff: .seconds(1))
        for (failures, ceiling) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (40, 1000)] {
            let waits = (0..<200).map { _ in Reporter.backoff(after: failures, configuration).wholeMilliseconds }
            #expect(waits.allSatisfy { (Int64(ceiling) / 2...Int64(ceiling)).contains($0) }, "after \(failures)")
            #expect(Set(waits).count > 1, "jittered, not one fixed wait")
        }
    }

    @Test("As a ServiceLifecycle service, the reporter delivers what is buffered when the group shuts down")
    func serviceGroup() async throws {
        let ingest = FakeIngest()
        let (server, url) = try await ingest.start()
        defer { server.cancel() }
        let reporter = reporter(url, .init(maxBatchSize: 100, flushInterval: .seconds(3600)))
        let group = ServiceGroup(
            configuration: .init(services: [reporter], logger: Logger(label: "reporter-test")))
        let running = Task { try await group.run() }
        reporter.report((0..<3).map { sampleEvent("service-\($0)") })
        #expect(reporter.counters.pending == 3, "the hour-long interval holds them")
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(ingest.received == [["service-0", "service-1", "service-2"]])
        #expect(reporter.counters.sent == 3)
    }

    @Test("An invalid event is refused at once and counted, and never sent")
    func rejectsInvalid() async throws {
        let ingest = FakeIngest()
        let (server, url) = try await ingest.start()
        defer { server.cancel() }
        let reporter = reporter(url, .init(flushInterval: .milliseconds(10)))
        var bad = sampleEvent("bad")
        bad.usage.inputTokens = -1
        reporter.report(bad)
        reporter.report(sampleEvent("good"))
        // Long enough for a loaded machine: shutdown returns as soon as the buffer is delivered.
        await reporter.shutdown(timeout: .seconds(120))
        #expect(reporter.counters.rejected == 1)
        #expect(ingest.received == [["good"]])
    }
}
