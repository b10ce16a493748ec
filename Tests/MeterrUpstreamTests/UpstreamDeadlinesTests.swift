import NIOCore
import NIOEmbedded
import Testing

@testable import MeterrUpstream

/// A call as the deadlines see it: it notes when its deadline came, and may set the next.
final class WatchedCall: DeadlineWatched {
    let name: String
    var deadline: NIODeadline
    var watchIndex: Int?
    /// Where its deadline goes when it comes, if anywhere.
    var next: [NIODeadline]
    let reached: (String) -> Void
    let deadlines: () -> UpstreamDeadlines<WatchedCall>

    init(
        _ name: String, at deadline: NIODeadline, then next: [NIODeadline] = [],
        deadlines: @escaping () -> UpstreamDeadlines<WatchedCall>, reached: @escaping (String) -> Void
    ) {
        self.name = name
        self.deadline = deadline
        self.next = next
        self.deadlines = deadlines
        self.reached = reached
    }

    func deadlineReached() {
        reached(name)
        guard !next.isEmpty else { return }
        deadline = next.removeFirst()
        deadlines().watch(self)
    }
}

/// The upstream calls' time-outs behind one timer per event loop, on a loop whose clock the test moves.
@Suite("One timer per event loop for the calls' time-outs")
struct UpstreamDeadlinesTests {
    final class Log {
        var lines: [String] = []
    }

    @Test("Each deadline is kept, also when a call that came first goes on the watch again for a later one")
    func order() {
        let loop = EmbeddedEventLoop()
        let deadlines = UpstreamDeadlines<WatchedCall>(loop: loop)
        let log = Log()
        let start = loop.now
        func at(_ ms: Int64) -> NIODeadline { start + .milliseconds(ms) }
        func call(_ name: String, _ ms: Int64, then next: [Int64] = []) -> WatchedCall {
            WatchedCall(name, at: at(ms), then: next.map(at), deadlines: { deadlines }) { name in
                log.lines.append("\(name) at \((loop.now - start).nanoseconds / 1_000_000)")
            }
        }
        let a = call("a", 100, then: [1000])
        let b = call("b", 200)
        let c = call("c", 300)
        deadlines.watch(a)
        deadlines.watch(b)
        deadlines.watch(c)
        loop.advanceTime(to: at(99))
        #expect(log.lines.isEmpty)
        // a comes first and goes on again for 1000: b's 200 must not wait for it.
        loop.advanceTime(to: at(100))
        #expect(log.lines == ["a at 100"])
        loop.advanceTime(to: at(200))
        #expect(log.lines == ["a at 100", "b at 200"])
        // c leaves the watch (its call ended) before its deadline: it never comes.
        deadlines.unwatch(c)
        loop.advanceTime(to: at(999))
        #expect(log.lines == ["a at 100", "b at 200"])
        loop.advanceTime(to: at(1000))
        #expect(log.lines == ["a at 100", "b at 200", "a at 1000"])
        #expect(deadlines.count == 0)
    }

    @Test(
        "A call watched for a sooner deadline than the timer's moves the timer; one taken out of the middle leaves the rest in place"
    )
    func sooner() {
        let loop = EmbeddedEventLoop()
        let deadlines = UpstreamDeadlines<WatchedCall>(loop: loop)
        let log = Log()
        let start = loop.now
        func at(_ ms: Int64) -> NIODeadline { start + .milliseconds(ms) }
        func call(_ name: String, _ ms: Int64) -> WatchedCall {
            WatchedCall(name, at: at(ms), deadlines: { deadlines }) { log.lines.append($0) }
        }
        let late = call("late", 500)
        let middle = call("middle", 400)
        let last = call("last", 450)
        deadlines.watch(late)
        deadlines.watch(middle)
        deadlines.watch(last)
        let soon = call("soon", 50)
        deadlines.watch(soon)
        loop.advanceTime(to: at(50))
        #expect(log.lines == ["soon"])
        deadlines.unwatch(middle)
        #expect(deadlines.count == 2)
        loop.advanceTime(to: at(450))
        #expect(log.lines == ["soon", "last"])
        // A deadline that moves later is checked then, not before.
        late.deadline = at(800)
        deadlines.changed(late)
        loop.advanceTime(to: at(799))
        #expect(log.lines == ["soon", "last"])
        loop.advanceTime(to: at(800))
        #expect(log.lines == ["soon", "last", "late"])
    }
}
