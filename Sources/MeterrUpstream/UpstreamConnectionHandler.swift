import NIOCore
import NIOHTTP1

/// Hands a connection's response parts to the call that owns the connection.
final class UpstreamConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    weak var connection: UpstreamConnection?
    var call: UpstreamCall?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let call else { return }
        switch unwrapInboundIn(data) {
        case .head(let head): call.received(head: head)
        case .body(let body): call.received(body: body)
        case .end: call.received(end: ())
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        call?.readComplete()
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let call {
            call.connectionClosed()
        } else if let connection {
            connection.pool?.remove(connection)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        call?.connectionClosed()
        context.close(promise: nil)
    }
}
