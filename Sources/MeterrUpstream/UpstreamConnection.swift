import NIOCore

/// One keep-alive connection to an upstream. What changes over its life (its idle timer, its pool)
/// and its handler are bound to the channel's event loop: touched from anywhere else, they trap.
final class UpstreamConnection: Sendable {
    private struct State {
        var idleTimer: Scheduled<Void>?
        weak var pool: UpstreamPool?
    }

    let channel: any Channel
    let endpoint: UpstreamEndpoint
    /// The proxy this connection goes to when it forwards plain http requests (absolute-form).
    let forwardingProxy: UpstreamProxy?
    private let boundHandler: NIOLoopBound<UpstreamConnectionHandler>
    private let state: NIOLoopBoundBox<State>

    /// Made on the channel's event loop.
    init(
        channel: any Channel, endpoint: UpstreamEndpoint, handler: UpstreamConnectionHandler,
        forwardingProxy: UpstreamProxy? = nil
    ) {
        self.channel = channel
        self.endpoint = endpoint
        self.forwardingProxy = forwardingProxy
        boundHandler = NIOLoopBound(handler, eventLoop: channel.eventLoop)
        state = NIOLoopBoundBox(State(), eventLoop: channel.eventLoop)
    }

    /// The handler that passes the response parts to the call that owns the connection.
    var handler: UpstreamConnectionHandler { boundHandler.value }

    /// Closes the connection when it has been idle too long.
    var idleTimer: Scheduled<Void>? {
        get { state.value.idleTimer }
        set { state.value.idleTimer = newValue }
    }

    /// The pool it returns to.
    var pool: UpstreamPool? {
        get { state.value.pool }
        set { state.value.pool = newValue }
    }
}
