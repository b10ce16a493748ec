import NIOCore

/// The idle connections of one event loop, by endpoint. Its state is bound to that loop: touched
/// from anywhere else, it traps (in debug builds).
final class UpstreamPool: Sendable {
    struct State {
        var idle: [UpstreamEndpoint: [UpstreamConnection]] = [:]
        var closed = false
    }

    let loop: any EventLoop
    let idleTimeout: TimeAmount
    private let state: NIOLoopBoundBox<State>

    init(loop: any EventLoop, idleTimeout: TimeAmount) {
        self.loop = loop
        self.idleTimeout = idleTimeout
        state = NIOLoopBoundBox(State(), eventLoop: loop)
    }

    /// The most recently used open connection to `endpoint`, if any. A connection whose provider has
    /// already hung up (its close not yet seen by the event loop) is closed instead of reused.
    func checkout(_ endpoint: UpstreamEndpoint) -> UpstreamConnection? {
        while let connection = state.value.idle[endpoint]?.popLast() {
            connection.idleTimer?.cancel()
            connection.idleTimer = nil
            if connection.channel.isActive && Self.stillEstablished(connection.channel) { return connection }
            connection.channel.close(promise: nil)
        }
        return nil
    }

    /// Whether the kernel still sees the connection as established: one `getsockopt` (TCP_INFO), which
    /// tells a provider's close that has arrived but not been read yet.
    static func stillEstablished(_ channel: any Channel) -> Bool {
        #if os(Linux)
            guard let provider = channel as? any SocketOptionProvider else { return true }
            var established = true
            // On the channel's own event loop the option is read at once and the future is complete;
            // 1 is TCP_ESTABLISHED.
            provider.getTCPInfo().assumeIsolated().whenSuccess { info in established = info.tcpi_state == 1 }
            return established
        #else
            return true
        #endif
    }

    func checkin(_ connection: UpstreamConnection) {
        guard !state.value.closed, connection.channel.isActive else {
            connection.channel.close(promise: nil)
            return
        }
        state.value.idle[connection.endpoint, default: []].append(connection)
        let bound = NIOLoopBound(connection, eventLoop: loop)
        connection.idleTimer = loop.scheduleTask(in: idleTimeout) { [weak self] in
            self?.remove(bound.value)
            bound.value.channel.close(promise: nil)
        }
    }

    /// Forgets a connection that closed while idle.
    func remove(_ connection: UpstreamConnection) {
        connection.idleTimer?.cancel()
        connection.idleTimer = nil
        state.value.idle[connection.endpoint]?.removeAll { $0 === connection }
    }

    func closeAll() {
        state.value.closed = true
        for connection in state.value.idle.values.joined() { connection.channel.close(promise: nil) }
        state.value.idle.removeAll()
    }
}
