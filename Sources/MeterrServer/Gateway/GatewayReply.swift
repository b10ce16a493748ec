import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// A gateway answer meterr makes itself (errors, refusals, the liveness answer).
struct GatewayReply: Sendable {
    var status: Int
    var headers: HTTPFields
    var body: ByteBuffer
}

extension GatewayReply {
    /// Writes the whole answer to the caller, with its length, and flushes once. `headers` should
    /// already carry the common ones (`Gateway.finish`).
    func write(to context: ChannelHandlerContext) {
        var headers = headers
        headers[.contentLength] = String(body.readableBytes)
        context.write(
            NIOAny(HTTPResponsePart.head(HTTPResponse(status: .init(code: status), headerFields: headers))),
            promise: nil)
        if body.readableBytes > 0 { context.write(NIOAny(HTTPResponsePart.body(body)), promise: nil) }
        context.writeAndFlush(NIOAny(HTTPResponsePart.end(nil)), promise: nil)
    }
}
