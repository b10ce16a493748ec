import MeterrCore
import MeterrGatewayChannel
import NIOCore
import NIOHTTP1

/// `GET /healthz`, answered on the connection's event loop like a gateway call: liveness probes come
/// often, and through Hummingbird's router each one would hop to Swift's thread pool and back. The
/// answer is the router's own (`HealthRoutes`), `Date` included, with the headers every gateway answer carries.
final class HealthAnswer: GatewayRequestReceiver {
    static let path = "/healthz"
    private static let body = ByteBuffer(string: #"{"status":"ok"}"#)

    /// Whether a request is the one this answers (`GET /healthz`).
    static func answers(method: HTTPMethod, path: String) -> Bool { method == .GET && path == Self.path }

    private let gateway: Gateway
    private let head: HTTPRequestHead
    private let context: ChannelHandlerContext
    private weak var owner: GatewayChannelHandler?

    init(gateway: Gateway, head: HTTPRequestHead, context: ChannelHandlerContext, owner: GatewayChannelHandler) {
        self.gateway = gateway
        self.head = head
        self.context = context
        self.owner = owner
    }

    func received(body part: ByteBuffer) {}

    func requestEnded() {
        var headers = OutgoingHeaders(capacity: 10)
        headers.add("Content-Type", "application/json; charset=utf-8")
        headers.add("Date", gateway.clock.now().httpDate)
        gateway.finish(&headers, requestId: Identifier.ordered("req"), origin: head.headers.value("origin"))
        GatewayReply.write(status: 200, headers: headers, body: Self.body, to: context)
        end(close: !head.isKeepAlive)
    }

    func writabilityChanged(_ writable: Bool) {}

    func callerLeft() { end(close: true) }

    private func end(close: Bool) {
        let owner = self.owner
        self.owner = nil
        owner?.exchangeEnded(context: context, close: close)
    }
}
