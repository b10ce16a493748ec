import NIOCore

/// What `UpstreamDeadlines` watches: an upstream call's next deadline, its place in the watch, and
/// what it does when the deadline comes.
protocol DeadlineWatched: AnyObject {
    var deadline: NIODeadline { get }
    var watchIndex: Int? { get set }
    /// The deadline has come; the watched has already left the watch (it may go on it again).
    func deadlineReached()
}

/// The time-outs of the calls in flight on one event loop, behind one timer set for the soonest.
///
/// A timer per call is set and cancelled on every call (a heap insert and removal, a promise, and a
/// `timerfd` change whenever it becomes the soonest); here a call starting, moving its deadline later
/// or ending touches an array. A call whose deadline moves sooner than the timer moves the timer.
/// Bound to its loop: not `Sendable`.
final class UpstreamDeadlines<Watched: DeadlineWatched> {
    private let loop: any EventLoop
    /// The calls watched, each knowing its place here (`watchIndex`).
    private var watched: [Watched] = []
    private var timer: (deadline: NIODeadline, scheduled: Scheduled<Void>)?

    init(loop: any EventLoop) {
        self.loop = loop
    }

    /// How many are watched.
    var count: Int { watched.count }

    /// Watches `call` until `unwatch`, for its `deadline` (read again on each change and at each firing).
    func watch(_ call: Watched) {
        guard call.watchIndex == nil else { return changed(call) }
        call.watchIndex = watched.count
        watched.append(call)
        changed(call)
    }

    /// `call`'s deadline moved: the timer comes sooner if it must (a later deadline waits for it).
    func changed(_ call: Watched) {
        if let timer, timer.deadline <= call.deadline { return }
        schedule(at: call.deadline)
    }

    func unwatch(_ call: Watched) {
        guard let index = call.watchIndex else { return }
        call.watchIndex = nil
        let last = watched.removeLast()
        if index < watched.count {
            watched[index] = last
            last.watchIndex = index
        }
        if watched.isEmpty {
            timer?.scheduled.cancel()
            timer = nil
        }
    }

    private func schedule(at deadline: NIODeadline) {
        timer?.scheduled.cancel()
        let scheduled = loop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] () -> Void in
            self?.fire()
        }
        timer = (deadline, scheduled)
    }

    /// The calls whose deadline has come leave the watch and hear of it (some go on it again, for a
    /// later deadline); then the timer is set for the soonest deadline left, unless it already is.
    private func fire() {
        timer = nil
        let now = loop.now
        let due = watched.filter { $0.deadline <= now }
        for call in due {
            unwatch(call)
            call.deadlineReached()
        }
        // A call that went on the watch again may have set the timer for its own new deadline, later
        // than another's still to come.
        guard let soonest = watched.lazy.map(\.deadline).min() else { return }
        if timer.map({ $0.deadline > soonest }) ?? true { schedule(at: soonest) }
    }
}
