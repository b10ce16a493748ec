import Logging
import MeterrCore
import ServiceLifecycle
import Synchronization

/// Commits usage events in groups, so no request waits on a disk write of its own.
///
/// Callers hand events over and the writer commits everything queued in one transaction, then the
/// next group as soon as that one is done. Events nobody waits for (the gateway's) wait up to
/// `linger` for company, so one commit carries many calls; an awaited batch, a group's worth of
/// queued events or shutdown ends that wait at once. On graceful shutdown it stops taking events,
/// commits what is queued and returns.
public final class LedgerWriter: Service, Sendable {
    /// Events waiting for a commit, and who waits for it.
    struct Submission {
        var events: [UsageEvent]
        var continuation: CheckedContinuation<[Bool], any Error>?
        /// The call's shape, worked out at commit time (off the caller's path) and stored with its event.
        var shape: (@Sendable () -> CallShape?)? = nil
        /// The bytes the shape's work holds until then (the request's body).
        var shapeBytes = 0
        /// Failed commits so far; only fire-and-forget events are retried.
        var attempts = 0
    }

    /// How often a fire-and-forget event is tried before it is dropped (and counted).
    static let maxAttempts = 5

    struct State {
        var queue: [Submission] = []
        var queuedEvents = 0
        /// The bytes held by the shapes queued or being worked out (`maxShapeBytes` bounds them).
        var shapeBytes = 0
        /// Whether a skipped shape was logged (once a run: the counter tells the rest).
        var loggedShapeSkip = false
        var wakeUp: CheckedContinuation<Void, Never>?
        var closed = false
        /// Set while the writer waits for company; ended early by what should not wait.
        var linger: Linger?
        /// Submissions ever queued (retries again), and ever taken into groups: the queue holds the
        /// difference.
        var handedOver = 0
        var taken = 0
        /// Groups taken so far, and the number of the last one done with all before it done too, with
        /// the submissions handed over up to its end; groups done ahead of an earlier one wait here.
        var groupsTaken = 0
        var groupsDone = 0
        var doneThrough = 0
        var doneAhead: [Int: Int] = [:]
        /// Callers of `flush`, each waiting until everything handed over before it is done.
        var flushes: [(through: Int, continuation: CheckedContinuation<Void, Never>)] = []

        /// Ends the wait for company, if there is one: returns its waiter to resume.
        mutating func endLinger() -> CheckedContinuation<Void, Never>? {
            linger?.over = true
            defer { linger?.waiter = nil }
            return linger?.waiter
        }

        /// Takes the writer's waiter, if it waits for work.
        mutating func takeWakeUp() -> CheckedContinuation<Void, Never>? {
            defer { wakeUp = nil }
            return wakeUp
        }

        /// Who to wake for fire-and-forget events in the queue: the writer if it waits for work, and
        /// its wait for company once there is enough.
        mutating func wakeForQueue() -> Wake {
            guard queuedEvents > 0 else { return Wake() }
            return Wake(writer: takeWakeUp(), linger: queuedEvents >= LedgerWriter.enoughCompany ? endLinger() : nil)
        }
    }

    /// Who to wake after a change to the queue, resumed outside the lock.
    struct Wake {
        var writer: CheckedContinuation<Void, Never>? = nil
        var linger: CheckedContinuation<Void, Never>? = nil

        func resume() {
            writer?.resume()
            linger?.resume()
        }
    }

    /// One wait for company: its waiter, once installed, and whether it is over.
    struct Linger {
        var waiter: CheckedContinuation<Void, Never>?
        var over = false
    }

    /// Queued fire-and-forget events that make a commit worth doing without waiting for more.
    static let enoughCompany = 1_024

    /// The writer's counters.
    public struct Statistics: Sendable {
        /// Events committed as new.
        public var committed: Int
        /// Events skipped because their id was stored already.
        public var duplicates: Int
        /// Transactions committed.
        public var commits: Int
        /// Fire-and-forget events dropped because the queue was full or the writer closed.
        public var dropped: Int
        /// Calls whose shape was not worked out because the shapes waiting held `maxShapeBytes`
        /// already: their events are committed, the savings report counts them as not analysed.
        public var shapesSkipped = 0
        /// Transactions that failed.
        public var failures: Int
    }

    let ledger: any UsageLedger
    let maxGroupSize: Int
    let maxQueuedEvents: Int
    let maxShapeBytes: Int
    /// How long fire-and-forget events may wait for others to share their commit.
    let linger: Duration
    let concurrentCommits: Int
    let logger: Logger
    let state = Mutex(State())
    let statistics = Mutex(Statistics(committed: 0, duplicates: 0, commits: 0, dropped: 0, failures: 0))

    /// Creates a writer for a ledger.
    /// - Parameters:
    ///   - maxGroupSize: the most events one transaction takes (more wait for the next one).
    ///   - maxQueuedEvents: the bound of the queue for fire-and-forget events (`enqueue`).
    ///   - maxShapeBytes: the bound of the bytes (request bodies) that queued call shapes may hold
    ///     until their commit works them out. Under more large prompts than the machine can analyse,
    ///     further shapes are skipped (their events are not): memory stays bounded, commits on time.
    ///   - linger: how long fire-and-forget events wait for others to share their commit.
    ///   - concurrentCommits: transactions in flight at once: 1 for SQLite (one writer); more for a
    ///     database server, whose work on one transaction uses one of its cores.
    public init(
        ledger: any UsageLedger, maxGroupSize: Int = 20_000, maxQueuedEvents: Int = 200_000,
        maxShapeBytes: Int = 16 << 20, linger: Duration = .milliseconds(5), concurrentCommits: Int = 1,
        logger: Logger
    ) {
        self.ledger = ledger
        self.concurrentCommits = max(1, concurrentCommits)
        self.linger = linger
        self.maxGroupSize = maxGroupSize
        self.maxQueuedEvents = maxQueuedEvents
        self.maxShapeBytes = maxShapeBytes
        self.logger = logger
    }

    /// The counters so far.
    public var stats: Statistics { statistics.withLock { $0 } }

    /// Events waiting for a commit now.
    public var queuedEvents: Int { state.withLock { $0.queuedEvents } }

    /// Commits events and returns once they are durable: for each event, whether it was new.
    /// Throws `unavailable` once the writer has shut down, and the storage error if the commit fails.
    public func submit(_ events: [UsageEvent]) async throws -> [Bool] {
        if events.isEmpty { return [] }
        return try await withCheckedThrowingContinuation { continuation in
            let wake: Wake? = state.withLock { state in
                if state.closed { return nil }
                state.queue.append(Submission(events: events, continuation: continuation))
                state.queuedEvents += events.count
                state.handedOver += 1
                // Someone waits for these: no waiting for company.
                return Wake(writer: state.takeWakeUp(), linger: state.endLinger())
            }
            if let wake {
                wake.resume()
            } else {
                continuation.resume(throwing: MeterrError(.unavailable, "meterr is shutting down"))
            }
        }
    }

    /// Returns once every event handed over before it is committed (or has failed): for reads that
    /// must count every call recorded so far, such as a budget's spend when its period loads. Ends a
    /// wait for company at once.
    public func flush() async {
        await withCheckedContinuation { continuation in
            let wake: Wake? = state.withLock { state in
                guard state.handedOver > state.doneThrough else { return nil }
                state.flushes.append((state.handedOver, continuation))
                return Wake(writer: state.takeWakeUp(), linger: state.endLinger())
            }
            if let wake { wake.resume() } else { continuation.resume() }
        }
    }

    /// Hands over one event without waiting (the gateway's path): never blocks, never throws.
    /// An event that finds the queue full or the writer closed is dropped, logged and counted.
    /// - Parameters:
    ///   - shape: works out the call's shape for the savings report; called in the commit that stores
    ///     the event, and stored in the same transaction.
    ///   - shapeBytes: what `shape` holds until then (the request body's size); a shape that would
    ///     take the queued shapes past `maxShapeBytes` is skipped, and counted.
    ///   - wakesWriter: `false` leaves waking the writer to the caller's `wake()`. The event is queued
    ///     at once (a `flush` counts it); a gateway call wakes the writer once its answer has left, so
    ///     the answer does not wait on another thread's wake-up.
    public func enqueue(
        _ event: UsageEvent, shape: (@Sendable () -> CallShape?)? = nil, shapeBytes: Int = 0, wakesWriter: Bool = true
    ) {
        var skipped: (first: Bool, held: Int)?
        let wake: Wake? = state.withLock { state in
            if state.closed || state.queuedEvents >= maxQueuedEvents { return nil }
            var submission = Submission(events: [event], continuation: nil, shape: shape, shapeBytes: shapeBytes)
            if shape != nil {
                if state.shapeBytes + shapeBytes > maxShapeBytes {
                    skipped = (!state.loggedShapeSkip, state.shapeBytes)
                    state.loggedShapeSkip = true
                    submission.shape = nil
                    submission.shapeBytes = 0
                } else {
                    state.shapeBytes += shapeBytes
                }
            }
            state.queue.append(submission)
            state.queuedEvents += 1
            state.handedOver += 1
            return wakesWriter ? state.wakeForQueue() : Wake()
        }
        if let skipped {
            statistics.withLock { $0.shapesSkipped += 1 }
            if skipped.first {
                logger.warning(
                    "call shapes skipped: more prompt bytes wait for analysis than the writer holds; their events are kept",
                    metadata: ["held_bytes": "\(skipped.held)", "max_shape_bytes": "\(maxShapeBytes)"])
            }
        }
        if let wake {
            wake.resume()
        } else {
            statistics.withLock { $0.dropped += 1 }
            logger.error("usage event dropped: the ledger queue is full or closed", metadata: ["event": "\(event.id)"])
        }
    }

    /// Wakes the writer for the events queued with `wakesWriter: false`, if it waits for work.
    public func wake() {
        state.withLock { $0.wakeForQueue() }.resume()
    }

    public func run() async throws {
        // A graceful shutdown, or the group cancelling after another service failed (a port in use,
        // say): either way stop taking events and commit what is queued.
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withTaskGroup(of: Void.self) { commits in
                    var running = 0
                    while let group = await nextGroup() {
                        if running == concurrentCommits {
                            await commits.next()
                            running -= 1
                        }
                        commits.addTask { await self.commit(group) }
                        running += 1
                    }
                }
            } onGracefulShutdown: {
                self.close()
            }
        } onCancel: {
            self.close()
        }
        logger.info("ledger writer drained", metadata: ["committed": "\(stats.committed)"])
    }

    /// Stops taking events; what is queued is still committed.
    public func close() {
        state.withLock { state in
            state.closed = true
            return Wake(writer: state.takeWakeUp(), linger: state.endLinger())
        }.resume()
    }

    /// Submissions committed in one transaction: the `number`th group, ending with the `through`th
    /// submission handed over.
    struct Group {
        var submissions: [Submission]
        var number: Int
        var through: Int
    }

    /// Waits for work; `nil` once closed and drained.
    private func nextGroup() async -> Group? {
        var lingered = linger == .zero
        while true {
            enum Next {
                case group(Group)
                case finished
                case wait
                case linger
            }
            let next: Next = state.withLock { state in
                if state.queue.isEmpty { return state.closed ? .finished : .wait }
                // Events nobody waits for (the gateway's) may wait a moment for company: one commit
                // for many calls instead of one per call. Awaited batches go at once.
                if !lingered, !state.closed, state.flushes.isEmpty, state.queuedEvents < Self.enoughCompany,
                    state.queue.allSatisfy({ $0.continuation == nil })
                {
                    return .linger
                }
                var count = 0
                var taken = 0
                while taken < state.queue.count, taken == 0 || count + state.queue[taken].events.count <= maxGroupSize {
                    count += state.queue[taken].events.count
                    taken += 1
                }
                // Usually the whole queue: its buffer is handed over, not copied submission by submission.
                var group: [Submission] = []
                if taken == state.queue.count {
                    swap(&group, &state.queue)
                } else {
                    group = Array(state.queue.prefix(taken))
                    state.queue.removeFirst(taken)
                }
                state.queuedEvents -= count
                state.taken += taken
                state.groupsTaken += 1
                return .group(Group(submissions: group, number: state.groupsTaken, through: state.taken))
            }
            switch next {
            case .group(let group): return group
            case .finished: return nil
            case .linger:
                lingered = true
                await waitForCompany()
            case .wait:
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state in
                        if !state.queue.isEmpty || state.closed { return true }
                        state.wakeUp = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
        }
    }

    /// Waits `linger` for more events to share the next commit, or less when `endLinger` is called
    /// (an awaited batch, enough queued events, shutdown).
    private func waitForCompany() async {
        state.withLock { $0.linger = Linger() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: self.linger) }
            group.addTask {
                await withCheckedContinuation { continuation in
                    let over = self.state.withLock { state in
                        if state.linger?.over ?? true { return true }
                        state.linger?.waiter = continuation
                        return false
                    }
                    if over { continuation.resume() }
                }
            }
            await group.next()
            group.cancelAll()
            state.withLock { $0.endLinger() }?.resume()
        }
        state.withLock { $0.linger = nil }
    }

    private func commit(_ group: Group) async {
        await commit(group.submissions)
        // This group is done (committed, or its events failed): flushes waiting on it may return.
        let flushed = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.doneAhead[group.number] = group.through
            while let through = state.doneAhead.removeValue(forKey: state.groupsDone + 1) {
                state.groupsDone += 1
                state.doneThrough = through
            }
            let done = state.doneThrough
            let ready = state.flushes.filter { $0.through <= done }.map(\.continuation)
            state.flushes.removeAll { $0.through <= done }
            return ready
        }
        flushed.forEach { $0.resume() }
    }

    private func commit(_ group: [Submission]) async {
        var events: [UsageEvent] = []
        events.reserveCapacity(group.reduce(0) { $0 + $1.events.count })
        for submission in group { events.append(contentsOf: submission.events) }
        let shapes = group.compactMap { $0.shape?() }
        do {
            let inserted = try await ledger.append(events, shapes: shapes)
            release(shapesOf: group)
            let new = inserted.count { $0 }
            statistics.withLock {
                $0.commits += 1
                $0.committed += new
                $0.duplicates += events.count - new
            }
            var offset = 0
            for submission in group {
                let flags = Array(inserted[offset..<offset + submission.events.count])
                offset += submission.events.count
                submission.continuation?.resume(returning: flags)
            }
        } catch {
            statistics.withLock { $0.failures += 1 }
            logger.error("ledger commit failed", metadata: ["events": "\(events.count)", "error": "\(error)"])
            let failure = error as? MeterrError ?? MeterrError(.storage, "the usage ledger could not commit")
            // A caller that waits hears of the failure and may retry; events nobody waits for (the
            // gateway's) are tried again after a pause, so a passing disk hiccup loses none of them.
            var retry: [Submission] = []
            var gone: [Submission] = []
            for var submission in group {
                if let continuation = submission.continuation {
                    continuation.resume(throwing: failure)
                    gone.append(submission)
                } else if submission.attempts + 1 < Self.maxAttempts {
                    submission.attempts += 1
                    retry.append(submission)
                } else {
                    gone.append(submission)
                    statistics.withLock { $0.dropped += submission.events.count }
                    logger.error(
                        "usage events dropped after repeated commit failures",
                        metadata: ["events": "\(submission.events.count)"])
                }
            }
            // Retried submissions keep their shapes, and the bytes they hold.
            release(shapesOf: gone)
            if let attempts = retry.map(\.attempts).max() {
                try? await Task.sleep(for: .milliseconds(50 << attempts))
                let count = retry.reduce(0) { $0 + $1.events.count }
                state.withLock { state in
                    state.queue.insert(contentsOf: retry, at: 0)
                    state.queuedEvents += count
                    state.handedOver += retry.count
                }
            }
        }
    }

    /// The bytes of these submissions' shapes are no longer held.
    private func release(shapesOf submissions: [Submission]) {
        let bytes = submissions.reduce(0) { $0 + $1.shapeBytes }
        if bytes > 0 { state.withLock { $0.shapeBytes -= bytes } }
    }
}
