import NIOCore

/// The idle connections of one event loop, by endpoint. Used on that event loop only.
final class UpstreamPool: @unchecked Sendable {
    let loop: any EventLoop
    let idleTimeout: TimeAmount
    private var idle: [UpstreamEndpoint: [UpstreamConnection]] = [:]
    private var closed = false

    init(loop: any EventLoop, idleTimeout: TimeAmount) {
        self.loop = loop
        self.idleTimeout = idleTimeout
    }

    /// The most recently used open connection to `endpoint`, if any. A connection whose provider has
    /// already hung up (its close not yet seen by the event loop) is closed instead of reused.
    func checkout(_ endpoint: UpstreamEndpoint) -> UpstreamConnection? {
        while let connection = idle[endpoint]?.popLast() {
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
            // On the channel's own event loop the option is read at once and the future is complete.
            provider.getTCPInfo().whenSuccess { info in established = info.tcpi_state == 1 }  // TCP_ESTABLISHED
            return established
        #else
            return true
        #endif
    }

    func checkin(_ connection: UpstreamConnection) {
        guard !closed, connection.channel.isActive else {
            connection.channel.close(promise: nil)
            return
        }
        idle[connection.endpoint, default: []].append(connection)
        connection.idleTimer = loop.scheduleTask(in: idleTimeout) { [weak self, weak connection] in
            guard let self, let connection else { return }
            self.remove(connection)
            connection.channel.close(promise: nil)
        }
    }

    /// Forgets a connection that closed while idle.
    func remove(_ connection: UpstreamConnection) {
        connection.idleTimer?.cancel()
        connection.idleTimer = nil
        idle[connection.endpoint]?.removeAll { $0 === connection }
    }

    func closeAll() {
        closed = true
        for connection in idle.values.joined() { connection.channel.close(promise: nil) }
        idle.removeAll()
    }
}
