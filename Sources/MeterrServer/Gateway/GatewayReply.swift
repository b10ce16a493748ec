import HTTPTypes
import NIOCore
import NIOHTTP1

/// A gateway answer meterr makes itself (errors, refusals, cached answers).
struct GatewayReply: Sendable {
    var status: Int
    var headers: HTTPFields
    var body: ByteBuffer
}

extension GatewayReply {
    /// Writes a whole answer to the caller in NIO's HTTP/1 parts, with its length, and flushes once.
    /// `headers` should already carry the common ones (`Gateway.finish`), and no length: meterr's own
    /// answers have none, and a provider's is not passed on (`Gateway.hopByHop`).
    static func write(status: Int, headers: OutgoingHeaders, body: ByteBuffer, to context: ChannelHandlerContext) {
        var headers = headers
        headers.add("Content-Length", String(body.readableBytes))
        let head = HTTPResponseHead(
            version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers.http1)
        context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
        if body.readableBytes > 0 {
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(body))), promise: nil)
        }
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
    }
}
