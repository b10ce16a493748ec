import NIOCore

/// One keep-alive connection to an upstream. Used on its channel's event loop only.
final class UpstreamConnection: @unchecked Sendable {
    let channel: any Channel
    let endpoint: UpstreamEndpoint
    let handler: UpstreamConnectionHandler
    /// The proxy this connection goes to when it forwards plain http requests (absolute-form).
    let forwardingProxy: UpstreamProxy?
    var idleTimer: Scheduled<Void>?
    weak var pool: UpstreamPool?

    init(
        channel: any Channel, endpoint: UpstreamEndpoint, handler: UpstreamConnectionHandler,
        forwardingProxy: UpstreamProxy? = nil
    ) {
        self.channel = channel
        self.endpoint = endpoint
        self.handler = handler
        self.forwardingProxy = forwardingProxy
    }
}
