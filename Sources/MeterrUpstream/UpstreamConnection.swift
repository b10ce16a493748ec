import NIOCore

/// One keep-alive connection to an upstream. What changes over its life (since when it is idle, its
/// pool) and its handler are bound to the channel's event loop: touched from anywhere else, they trap.
final class UpstreamConnection: Sendable {
    private struct State {
        var idleSince: NIODeadline?
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

    /// When it went back to the pool, while it waits there.
    var idleSince: NIODeadline? {
        get { state.value.idleSince }
        set { state.value.idleSince = newValue }
    }

    /// The pool it returns to.
    var pool: UpstreamPool? {
        get { state.value.pool }
        set { state.value.pool = newValue }
    }
}
