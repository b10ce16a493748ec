import NIOCore

/// The time-outs of the calls in flight on one event loop, behind one timer set for the soonest.
///
/// A timer per call is set and cancelled on every call (a heap insert and removal, a promise, and a
/// `timerfd` change whenever it becomes the soonest); here a call starting, moving its deadline later
/// or ending touches an array. A call whose deadline moves sooner than the timer moves the timer.
/// Bound to its loop: not `Sendable`.
final class UpstreamDeadlines {
    private let loop: any EventLoop
    /// The calls watched, each knowing its place here (`UpstreamCall.watchIndex`).
    private var calls: [UpstreamCall] = []
    private var timer: (deadline: NIODeadline, scheduled: Scheduled<Void>)?

    init(loop: any EventLoop) {
        self.loop = loop
    }

    /// Watches `call` until `unwatch`, for its `deadline` (read again on each change and at each firing).
    func watch(_ call: UpstreamCall) {
        guard call.watchIndex == nil else { return changed(call) }
        call.watchIndex = calls.count
        calls.append(call)
        changed(call)
    }

    /// `call`'s deadline moved: the timer comes sooner if it must (a later deadline waits for it).
    func changed(_ call: UpstreamCall) {
        if let timer, timer.deadline <= call.deadline { return }
        schedule(at: call.deadline)
    }

    func unwatch(_ call: UpstreamCall) {
        guard let index = call.watchIndex else { return }
        call.watchIndex = nil
        let last = calls.removeLast()
        if index < calls.count {
            calls[index] = last
            last.watchIndex = index
        }
        if calls.isEmpty {
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

    /// The calls whose deadline has come leave the watch and hear of it (those that go on watch again);
    /// then the timer is set for the soonest deadline left.
    private func fire() {
        timer = nil
        let now = NIODeadline.now()
        let due = calls.filter { $0.deadline <= now }
        for call in due {
            unwatch(call)
            call.deadlineReached()
        }
        if timer == nil, let soonest = calls.lazy.map(\.deadline).min() { schedule(at: soonest) }
    }
}
