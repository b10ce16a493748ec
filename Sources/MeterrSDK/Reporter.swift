import MeterrCore
import Synchronization

/// Where meterr runs and the key the SDK presents to it.
public struct MeterrConnection: Sendable, Hashable {
    /// meterr's base URL, e.g. `http://127.0.0.1:8787` (no trailing slash needed).
    public var baseURL: String
    /// A meterr key (`mk_…`): the `ingest` scope to report, `read` or `admin` for management calls.
    public var key: String

    /// Creates a connection.
    public init(baseURL: String, key: String) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.key = key
    }

    /// The request headers every call to meterr carries.
    var headers: [(name: String, value: String)] {
        [("authorization", "Bearer \(key)"), ("content-type", "application/json"), ("accept", "application/json")]
    }
}

/// Sends usage events to meterr's `POST /api/usage/events` in the background: in batches (by count,
/// bytes and time), retrying with exponential backoff and jitter, holding a bounded buffer while
/// meterr is unreachable.
///
/// `report(_:)` only enqueues: it never waits, never throws and never fails the app's own call.
/// Event ids make a retried batch safe: meterr stores each id once. When the buffer is full the
/// oldest events are dropped and counted. Call `shutdown(timeout:)` before the app exits: it
/// delivers what is buffered (as far as the time allows) and ends the background task, which keeps
/// the reporter alive until then.
public final class Reporter: Sendable {
    /// How the reporter batches, retries and buffers.
    public struct Configuration: Sendable {
        /// The most events in one request (meterr takes at most 1,000).
        public var maxBatchSize: Int
        /// The most bytes of JSON in one request (meterr takes at most 1 MiB by default).
        public var maxBatchBytes: Int
        /// How long an event may wait for its batch to fill before it is sent anyway.
        public var flushInterval: Duration
        /// The most events held while meterr is slow or unreachable; past it the oldest are dropped.
        public var bufferLimit: Int
        /// The first wait after a failed delivery; it doubles with each failure in a row.
        public var initialBackoff: Duration
        /// The longest wait between attempts.
        public var maxBackoff: Duration
        /// How long one delivery may take. (AsyncHTTPClient keeps trying to connect to a stopped
        /// meterr until then, so against one an attempt lasts this long.)
        public var requestTimeout: Duration
        /// How long `run()`, as a ServiceLifecycle service, keeps delivering after a graceful shutdown began.
        public var shutdownTimeout: Duration

        /// Creates a configuration; the defaults suit a busy service.
        public init(
            maxBatchSize: Int = 100, maxBatchBytes: Int = 512 << 10, flushInterval: Duration = .seconds(1),
            bufferLimit: Int = 10_000, initialBackoff: Duration = .milliseconds(200),
            maxBackoff: Duration = .seconds(30),
            requestTimeout: Duration = .seconds(10), shutdownTimeout: Duration = .seconds(10)
        ) {
            self.maxBatchSize = max(1, min(maxBatchSize, 1000))
            self.maxBatchBytes = max(1, maxBatchBytes)
            self.flushInterval = flushInterval
            self.bufferLimit = max(1, bufferLimit)
            self.initialBackoff = initialBackoff
            self.maxBackoff = max(maxBackoff, initialBackoff)
            self.requestTimeout = requestTimeout
            self.shutdownTimeout = shutdownTimeout
        }
    }

    /// What the reporter has done so far.
    public struct Counters: Sendable, Hashable {
        /// Events meterr acknowledged (new or already stored).
        public var sent = 0
        /// Events put back for another attempt after a delivery failed.
        public var retried = 0
        /// Events that will never be delivered: pushed out of a full buffer, reported after shutdown,
        /// or still buffered when shutdown's time ran out.
        public var dropped = 0
        /// Events that were refused: invalid before sending, or answered with a 4xx that a retry cannot mend.
        public var rejected = 0
        /// Events waiting to be delivered (buffered or in flight).
        public var pending = 0
        /// Delivery attempts that failed (meterr unreachable, 5xx, 408 or 429).
        public var failedAttempts = 0
    }

    /// The connection events go to.
    public let connection: MeterrConnection
    /// The batching, retry and buffer settings.
    public let configuration: Configuration
    private let transport: any HTTPTransport
    private let state: Mutex<State>
    /// Wakes the background task: a batch filled, a first event arrived, a flush or shutdown began.
    private let wakeUp = WakeUp()
    /// Wakes the callers of `flush`: the buffer emptied.
    private let drained = WakeUp()
    private let loop = Mutex<Task<Void, Never>?>(nil)

    /// Creates a reporter and starts its background task.
    public init(
        connection: MeterrConnection, configuration: Configuration = Configuration(),
        transport: any HTTPTransport = AsyncHTTPClientTransport()
    ) {
        self.connection = connection
        self.configuration = configuration
        self.transport = transport
        self.state = Mutex(State())
        let task = Task { [self] in await self.deliverUntilStopped() }
        loop.withLock { $0 = task }
    }

    /// Queues an event for delivery and returns at once. An invalid event is counted as rejected;
    /// after `shutdown` began, events are counted as dropped.
    public func report(_ event: UsageEvent) {
        let line: [UInt8]
        do {
            try event.validate()
            line = event.jsonLine
        } catch {
            state.withLock { $0.counters.rejected += 1 }
            return
        }
        let wake = state.withLock { state in
            state.enqueue(
                Pending(id: event.id, json: line, queuedAt: .now), limit: configuration.bufferLimit,
                batchSize: configuration.maxBatchSize)
        }
        if wake { wakeUp.signal() }
    }

    /// Queues several events; see `report(_:)`.
    public func report(_ events: some Sequence<UsageEvent>) {
        for event in events { report(event) }
    }

    /// What the reporter has done so far.
    public var counters: Counters { state.withLock { $0.snapshot } }

    /// Sends what is buffered now instead of waiting for the batch to fill, and waits until the
    /// buffer is empty or `timeout` passed.
    /// - Returns: whether the buffer emptied (its events delivered, or refused) in time.
    @discardableResult
    public func flush(timeout: Duration = .seconds(10)) async -> Bool {
        state.withLock { $0.flushRequested = true }
        wakeUp.signal()
        let deadline = ContinuousClock.now + timeout
        while state.withLock({ $0.pendingCount > 0 }) {
            guard ContinuousClock.now < deadline else { return false }
            await drained.wait(until: deadline)
        }
        return true
    }

    /// Delivers what is buffered, trying until `timeout` passed, then drops the rest (counted) and
    /// ends the background task. Later reports are dropped. Safe to call more than once.
    public func shutdown(timeout: Duration = .seconds(10)) async {
        state.withLock { state in
            if state.stopDeadline == nil { state.stopDeadline = .now + timeout }
        }
        wakeUp.signal()
        await loop.withLock { $0 }?.value
    }

    // MARK: the background task

    private func deliverUntilStopped() async {
        var failures = 0
        while true {
            let step = state.withLock { $0.next(.now, configuration) }
            switch step {
            case .stop:
                drained.signal()
                return
            case .wait(let deadline):
                await wakeUp.wait(until: deadline)
            case .send(let batch):
                let outcome = await deliver(batch)
                if case .failed = outcome {
                    failures += 1
                } else {
                    failures = 0
                }
                let backoff = outcome == .failed ? Self.backoff(after: failures, configuration) : nil
                let empty = state.withLock { $0.settle(outcome, retryAfter: backoff) }
                if empty { drained.signal() }
            }
        }
    }

    private func deliver(_ batch: [Pending]) async -> Outcome {
        var body: [UInt8] = [UInt8(ascii: "[")]
        body.reserveCapacity(batch.reduce(2) { $0 + $1.json.count + 1 })
        for (index, event) in batch.enumerated() {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            body.append(contentsOf: event.json)
        }
        body.append(UInt8(ascii: "]"))
        let request = TransportRequest(
            method: "POST", url: connection.baseURL + "/api/usage/events", headers: connection.headers, body: body)
        do {
            let response = try await transport.send(request, timeout: configuration.requestTimeout)
            switch response.status {
            case 200..<300: return .delivered
            case 408, 429, 500...: return .failed
            default: return .rejected
            }
        } catch {
            return .failed
        }
    }

    /// The wait before the next attempt: exponential in the failures in a row, capped, with jitter
    /// (a random half to whole of it), so many reporters do not retry in step.
    static func backoff(after failures: Int, _ configuration: Configuration) -> Duration {
        let base = configuration.initialBackoff.wholeMilliseconds
        let cap = configuration.maxBackoff.wholeMilliseconds
        let exponential = base << Int64(min(failures - 1, 30))
        let ceiling = max(1, min(cap, exponential < base ? cap : exponential))
        return .milliseconds(Int64.random(in: (ceiling + 1) / 2...ceiling))
    }

    // MARK: state

    /// An event waiting for delivery, already encoded.
    struct Pending: Sendable {
        var id: String
        var json: [UInt8]
        var queuedAt: ContinuousClock.Instant
    }

    enum Outcome: Equatable {
        case delivered, failed, rejected
    }

    enum Step {
        case send([Pending])
        case wait(ContinuousClock.Instant?)
        case stop
    }

    struct State {
        var queue = EventQueue()
        var inFlight: [Pending] = []
        /// How many of the oldest in-flight events a full buffer gave up on: dropped if their
        /// delivery fails, delivered after all if it succeeds.
        var inFlightDoomed = 0
        var retryNotBefore: ContinuousClock.Instant?
        var flushRequested = false
        var stopDeadline: ContinuousClock.Instant?
        var counters = Counters()

        var pendingCount: Int { queue.count + inFlight.count - inFlightDoomed }

        var snapshot: Counters {
            var copy = counters
            copy.pending = pendingCount
            return copy
        }

        /// Adds an event, dropping the oldest past the limit; says whether the loop must wake.
        mutating func enqueue(_ event: Pending, limit: Int, batchSize: Int) -> Bool {
            if stopDeadline != nil {
                counters.dropped += 1
                return false
            }
            queue.append(event)
            while pendingCount > limit {
                if inFlightDoomed < inFlight.count {
                    inFlightDoomed += 1
                } else {
                    queue.removeFirst()
                    counters.dropped += 1
                }
            }
            return queue.count == 1 || queue.count >= batchSize
        }

        /// What the loop does next.
        mutating func next(_ now: ContinuousClock.Instant, _ configuration: Configuration) -> Step {
            let stopping = stopDeadline != nil
            if let deadline = stopDeadline, now >= deadline {
                counters.dropped += queue.count
                queue = EventQueue()
                return .stop
            }
            guard let oldest = queue.first else {
                flushRequested = false
                return stopping ? .stop : .wait(nil)
            }
            if let retry = retryNotBefore, now < retry {
                return .wait(stopDeadline.map { min($0, retry) } ?? retry)
            }
            let due =
                stopping || flushRequested || queue.count >= configuration.maxBatchSize
                || now >= oldest.queuedAt + configuration.flushInterval
            guard due else { return .wait(oldest.queuedAt + configuration.flushInterval) }
            var bytes = 2
            while let event = queue.first, inFlight.count < configuration.maxBatchSize,
                inFlight.isEmpty || bytes + event.json.count + 1 <= configuration.maxBatchBytes
            {
                bytes += event.json.count + 1
                inFlight.append(event)
                queue.removeFirst()
            }
            return .send(inFlight)
        }

        /// Records how a delivery ended; says whether nothing is left to deliver.
        mutating func settle(_ outcome: Outcome, retryAfter backoff: Duration?) -> Bool {
            switch outcome {
            case .delivered:
                counters.sent += inFlight.count
                retryNotBefore = nil
            case .rejected:
                counters.rejected += inFlight.count
                retryNotBefore = nil
            case .failed:
                counters.failedAttempts += 1
                counters.dropped += inFlightDoomed
                let retry = inFlight.dropFirst(inFlightDoomed)
                counters.retried += retry.count
                queue.prepend(contentsOf: retry)
                retryNotBefore = backoff.map { .now + $0 }
            }
            inFlight = []
            inFlightDoomed = 0
            return queue.count == 0
        }
    }
}

/// A first-in-first-out queue of pending events with O(1) removal at the front.
struct EventQueue {
    private var storage: [Reporter.Pending] = []
    private var head = 0

    var count: Int { storage.count - head }
    var first: Reporter.Pending? { head < storage.count ? storage[head] : nil }

    mutating func append(_ event: Reporter.Pending) { storage.append(event) }

    mutating func removeFirst() {
        head += 1
        // Reclaim the consumed front once it is the larger half.
        if head > 64 && head * 2 > storage.count {
            storage.removeFirst(head)
            head = 0
        }
    }

    mutating func prepend(contentsOf events: some Collection<Reporter.Pending>) {
        storage.replaceSubrange(0..<head, with: events)
        head = 0
    }
}

/// Wakes the tasks that wait, or the next one to wait if none is waiting yet.
final class WakeUp: Sendable {
    private struct State {
        var signalled = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        /// Waits whose deadline passed before they began waiting.
        var expired: Set<Int> = []
        var nextId = 0
    }

    private let state = Mutex(State())

    /// Wakes every waiting task (or lets the next wait return at once).
    func signal() {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            if state.waiters.isEmpty { state.signalled = true }
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for continuation in waiting { continuation.resume() }
    }

    /// Waits for a signal, or until `deadline` when there is one.
    func wait(until deadline: ContinuousClock.Instant?) async {
        let id = state.withLock { state in
            state.nextId += 1
            return state.nextId
        }
        let timer = deadline.map { deadline in
            Task {
                do {
                    try await Task.sleep(until: deadline, clock: .continuous)
                    self.expire(id)
                } catch {}
            }
        }
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state in
                if state.expired.remove(id) != nil { return true }
                if state.signalled {
                    state.signalled = false
                    return true
                }
                state.waiters[id] = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
        timer?.cancel()
        state.withLock { _ = $0.expired.remove(id) }
    }

    private func expire(_ id: Int) {
        let waiter = state.withLock { state in
            let waiter = state.waiters.removeValue(forKey: id)
            if waiter == nil { state.expired.insert(id) }
            return waiter
        }
        waiter?.resume()
    }
}
