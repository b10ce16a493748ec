import NIOCore

/// The idle connections of one event loop, by endpoint. Its state is bound to that loop: touched
/// from anywhere else, it traps (in debug builds).
///
/// One timer per pool closes connections idle for `idleTimeout` (not one timer per connection, set
/// and cancelled on every call).
final class UpstreamPool: Sendable {
    struct State {
        var idle: [UpstreamEndpoint: [UpstreamConnection]] = [:]
        var closed = false
        /// The next sweep of idle connections, while any are idle.
        var sweep: Scheduled<Void>?
    }

    let loop: any EventLoop
    let idleTimeout: TimeAmount
    private let state: NIOLoopBoundBox<State>
    private let boundDeadlines: NIOLoopBound<UpstreamDeadlines<UpstreamCall>>

    init(loop: any EventLoop, idleTimeout: TimeAmount) {
        self.loop = loop
        self.idleTimeout = idleTimeout
        state = NIOLoopBoundBox(State(), eventLoop: loop)
        boundDeadlines = NIOLoopBound(UpstreamDeadlines(loop: loop), eventLoop: loop)
    }

    /// The time-outs of this loop's calls in flight.
    var deadlines: UpstreamDeadlines<UpstreamCall> { boundDeadlines.value }

    /// The most recently used open connection to `endpoint`, if any. A connection whose provider has
    /// already hung up (its close not yet seen by the event loop) is closed instead of reused.
    func checkout(_ endpoint: UpstreamEndpoint) -> UpstreamConnection? {
        while let connection = state.value.idle[endpoint]?.popLast() {
            connection.idleSince = nil
            if connection.channel.isActive && Self.stillEstablished(connection) { return connection }
            connection.channel.close(promise: nil)
        }
        return nil
    }

    /// Whether the kernel still sees the connection as established: one `getsockopt` (TCP_INFO), which
    /// tells a provider's close that has arrived but not been read yet.
    ///
    /// Read as a 4-byte socket option through the channel's synchronous options (no future): Linux
    /// copies as much of `tcp_info` as is asked for, and its first byte is the state (1 is
    /// TCP_ESTABLISHED).
    static func stillEstablished(_ connection: UpstreamConnection) -> Bool {
        #if os(Linux)
            guard let options = connection.channel.syncOptions,
                let head = try? options.getOption(ChannelOptions.Types.SocketOption(level: .tcp, name: .tcp_info))
            else { return true }
            return withUnsafeBytes(of: head) { $0[0] } == 1
        #else
            return true
        #endif
    }

    func checkin(_ connection: UpstreamConnection) {
        guard !state.value.closed, connection.channel.isActive else {
            connection.channel.close(promise: nil)
            return
        }
        let now = NIODeadline.now()
        connection.idleSince = now
        state.value.idle[connection.endpoint, default: []].append(connection)
        if state.value.sweep == nil { sweep(at: now + idleTimeout) }
    }

    /// Forgets a connection that closed while idle.
    func remove(_ connection: UpstreamConnection) {
        connection.idleSince = nil
        state.value.idle[connection.endpoint]?.removeAll { $0 === connection }
    }

    func closeAll() {
        state.value.closed = true
        state.value.sweep?.cancel()
        state.value.sweep = nil
        for connection in state.value.idle.values.joined() { connection.channel.close(promise: nil) }
        state.value.idle.removeAll()
    }

    private func sweep(at deadline: NIODeadline) {
        state.value.sweep = loop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
            self?.closeIdle()
        }
    }

    /// Closes the connections idle for `idleTimeout`, and comes back when the next one will be.
    private func closeIdle() {
        state.value.sweep = nil
        let now = NIODeadline.now()
        var expired: [UpstreamConnection] = []
        var next: NIODeadline?
        for (endpoint, connections) in state.value.idle {
            var kept: [UpstreamConnection] = []
            for connection in connections {
                let expiry = (connection.idleSince ?? now) + idleTimeout
                if expiry <= now {
                    expired.append(connection)
                } else {
                    kept.append(connection)
                    next = min(next ?? expiry, expiry)
                }
            }
            state.value.idle[endpoint] = kept.isEmpty ? nil : kept
        }
        if let next { sweep(at: next) }
        for connection in expired {
            connection.idleSince = nil
            connection.channel.close(promise: nil)
        }
    }
}
