import HTTPTypes
import MeterrCore
import MeterrGatewayChannel
import NIOCore

/// `GET /healthz`, answered on the connection's event loop like a gateway call: liveness probes come
/// often, and through Hummingbird's router each one would hop to Swift's thread pool and back. The
/// answer is the router's own (`HealthRoutes`), `Date` included, with the headers every gateway answer carries.
final class HealthAnswer: GatewayRequestReceiver {
    static let path = "/healthz"
    private static let body = ByteBuffer(string: #"{"status":"ok"}"#)

    /// Whether a request is the one this answers (`GET /healthz`).
    static func answers(method: HTTPRequest.Method, path: String) -> Bool { method == .get && path == Self.path }

    private let gateway: Gateway
    private let head: HTTPRequest
    private let context: ChannelHandlerContext
    private weak var owner: GatewayChannelHandler?

    init(gateway: Gateway, head: HTTPRequest, context: ChannelHandlerContext, owner: GatewayChannelHandler) {
        self.gateway = gateway
        self.head = head
        self.context = context
        self.owner = owner
    }

    func received(body part: ByteBuffer) {}

    func requestEnded() {
        var headers: HTTPFields = [
            .contentType: "application/json; charset=utf-8", .date: gateway.clock.now().httpDate,
        ]
        gateway.finish(&headers, requestId: Identifier.ordered("req"), origin: head.headerFields[.origin])
        GatewayReply(status: 200, headers: headers, body: Self.body).write(to: context)
        end(close: head.headerFields[.connection] == "close")
    }

    func writabilityChanged(_ writable: Bool) {}

    func callerLeft() { end(close: true) }

    private func end(close: Bool) {
        let owner = self.owner
        self.owner = nil
        owner?.exchangeEnded(context: context, close: close)
    }
}
