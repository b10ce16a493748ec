import NIOCore
import NIOPosix

/// Runs a task's code on one NIO event loop: a gateway call's admission runs on its connection's
/// loop, with no hop to Swift's thread pool and back (two thread wake-ups a call). The code awaits
/// actors and the database as usual; each resumption comes back to the loop.
///
/// Used as a task executor preference for single tasks, not installed process-wide.
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    private init(_ loop: any EventLoop) {
        self.loop = loop
    }

    /// Each loop thread's executor.
    private static let current = ThreadSpecificVariable<EventLoopTaskExecutor>()

    /// The executor of `loop`, made once per loop thread rather than once per call.
    static func of(_ loop: any EventLoop) -> EventLoopTaskExecutor {
        guard loop.inEventLoop else { return EventLoopTaskExecutor(loop) }
        if let executor = current.currentValue, executor.loop === loop { return executor }
        let executor = EventLoopTaskExecutor(loop)
        current.currentValue = executor
        return executor
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
