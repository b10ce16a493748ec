import NIOCore
import NIOEmbedded
import Testing

@testable import MeterrUpstream

/// A call as the deadlines see it: when its deadline comes it tells the harness, which may set the next.
final class WatchedCall: DeadlineWatched {
    let name: String
    var deadline: NIODeadline
    var watchIndex: Int?
    /// Where its deadline goes when it comes, in turn.
    var next: [NIODeadline]
    var reached: (WatchedCall) -> Void = { _ in }

    init(_ name: String, at deadline: NIODeadline, then next: [NIODeadline]) {
        self.name = name
        self.deadline = deadline
        self.next = next
    }

    func deadlineReached() { reached(self) }
}

/// A loop whose clock the test moves, the deadlines on it, and what came when (`a at 100`).
final class DeadlineHarness {
    let loop = EmbeddedEventLoop()
    let deadlines: UpstreamDeadlines<WatchedCall>
    let start: NIODeadline
    var lines: [String] = []

    init() {
        deadlines = UpstreamDeadlines(loop: loop)
        start = loop.now
    }

    func at(_ milliseconds: Int64) -> NIODeadline { start + .milliseconds(milliseconds) }

    func advance(to milliseconds: Int64) { loop.advanceTime(to: at(milliseconds)) }

    /// A call watched now for `milliseconds`, and when that comes for each of `next` in turn.
    func watch(_ name: String, _ milliseconds: Int64, then next: [Int64] = []) -> WatchedCall {
        let call = WatchedCall(name, at: at(milliseconds), then: next.map(at))
        call.reached = { [unowned self] call in
            lines.append("\(call.name) at \((loop.now - start).nanoseconds / 1_000_000)")
            guard !call.next.isEmpty else { return }
            call.deadline = call.next.removeFirst()
            deadlines.watch(call)
        }
        deadlines.watch(call)
        return call
    }
}

/// The upstream calls' time-outs behind one timer per event loop, on a loop whose clock the test moves.
@Suite("One timer per event loop for the calls' time-outs")
struct UpstreamDeadlinesTests {
    @Test("Each deadline is kept, also when a call that came first goes on the watch again for a later one")
    func order() {
        let harness = DeadlineHarness()
        _ = harness.watch("a", 100, then: [1000])
        _ = harness.watch("b", 200)
        let c = harness.watch("c", 300)
        harness.advance(to: 99)
        #expect(harness.lines.isEmpty)
        // a comes first and goes on again for 1000: b's 200 must not wait for it.
        harness.advance(to: 100)
        #expect(harness.lines == ["a at 100"])
        harness.advance(to: 200)
        #expect(harness.lines == ["a at 100", "b at 200"])
        // c leaves the watch (its call ended) before its deadline: it never comes.
        harness.deadlines.unwatch(c)
        harness.advance(to: 999)
        #expect(harness.lines == ["a at 100", "b at 200"])
        harness.advance(to: 1000)
        #expect(harness.lines == ["a at 100", "b at 200", "a at 1000"])
        #expect(harness.deadlines.count == 0)
    }

    @Test(
        "A call watched for a sooner deadline than the timer's moves the timer; one taken out of the middle leaves the rest in place"
    )
    func sooner() {
        let harness = DeadlineHarness()
        let late = harness.watch("late", 500)
        let middle = harness.watch("middle", 400)
        _ = harness.watch("last", 450)
        _ = harness.watch("soon", 50)
        harness.advance(to: 50)
        #expect(harness.lines == ["soon at 50"])
        harness.deadlines.unwatch(middle)
        #expect(harness.deadlines.count == 2)
        harness.advance(to: 450)
        #expect(harness.lines == ["soon at 50", "last at 450"])
        // A deadline that moves later is checked then, not before.
        late.deadline = harness.at(800)
        harness.deadlines.changed(late)
        harness.advance(to: 799)
        #expect(harness.lines == ["soon at 50", "last at 450"])
        harness.advance(to: 800)
        #expect(harness.lines == ["soon at 50", "last at 450", "late at 800"])
    }
}
