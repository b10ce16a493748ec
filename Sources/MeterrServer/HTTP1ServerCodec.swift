import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// NIO's HTTP/1 parts as `HTTPTypes` parts and back, for the gateway and Hummingbird: NIO's own
/// `HTTP1ToHTTPServerCodec`, but for the request target. That codec parses every target as a URL
/// with Foundation's parser, only to find no scheme in the origin form (`/path?query`) that clients
/// send to a server; here such a target is the path as it is, and only another form is parsed.
final class HTTP1ServerCodec: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let secure: Bool

    /// - Parameter secure: whether requests read `https` as their scheme, or `http`.
    init(secure: Bool) {
        self.secure = secure
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            do {
                context.fireChannelRead(wrapInboundOut(.head(try request(head))))
            } catch {
                context.fireErrorCaught(error)
            }
        case .body(let body):
            context.fireChannelRead(wrapInboundOut(.body(body)))
        case .end(let trailers):
            context.fireChannelRead(wrapInboundOut(.end(trailers.map { HTTPFields($0, splitCookie: false) })))
        }
    }

    /// The request as `HTTPTypes` has it. `HTTPRequest` has no version: a request that does not keep its
    /// connection alive by its version's rule (HTTP/1.0 without `Connection: keep-alive`) says
    /// `Connection: close`, so the connection is closed after its answer as the client expects.
    private func request(_ head: HTTPRequestHead) throws -> HTTPRequest {
        var request: HTTPRequest
        if head.uri.utf8.first == UInt8(ascii: "/") {
            request = HTTPRequest(
                method: try HTTPRequest.Method(head.method), scheme: secure ? "https" : "http",
                authority: head.headers.first(name: "host"), path: head.uri,
                headerFields: HTTPFields(head.headers, splitCookie: false))
        } else {
            request = try HTTPRequest(head, secure: secure, splitCookie: false)
        }
        if !head.isKeepAlive { request.headerFields[.connection] = "close" }
        return request
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let response):
            context.write(wrapOutboundOut(.head(HTTPResponseHead(response))), promise: promise)
        case .body(let body):
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: promise)
        case .end(let trailers):
            context.write(wrapOutboundOut(.end(trailers.map(HTTPHeaders.init))), promise: promise)
        }
    }
}
