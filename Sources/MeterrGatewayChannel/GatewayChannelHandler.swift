import NIOCore
import NIOHTTP1

/// One gateway call, fed its request as it arrives; it answers through the connection's context and
/// tells the handler when it is done (`GatewayChannelHandler.exchangeEnded`).
package protocol GatewayRequestReceiver: AnyObject {
    /// A part of the request body.
    func received(body part: ByteBuffer)
    /// The request has been read whole.
    func requestEnded()
    /// The caller's connection can take more (or no more) bytes now.
    func writabilityChanged(_ writable: Bool)
    /// The caller's connection closed before the call was answered whole.
    func callerLeft()
}

/// Which requests the gateway serves itself, and the receivers that serve them.
package protocol GatewayRouting: Sendable {
    /// Whether the gateway serves this request (the rest go to Hummingbird).
    func serves(method: HTTPMethod, path: String) -> Bool

    /// The receiver of a request the gateway serves, once no earlier answer is outstanding; `nil`
    /// leaves the request to Hummingbird.
    /// - Parameters:
    ///   - path: the request target up to `?`; `query`: what follows it.
    ///   - owner: the handler to tell when the call has been answered.
    func receiver(
        for head: HTTPRequestHead, path: String, query: String?, context: ChannelHandlerContext,
        owner: GatewayChannelHandler
    ) -> (any GatewayRequestReceiver)?
}

/// Takes gateway calls off Hummingbird's HTTP/1 pipeline and serves them on the connection's event
/// loop; every other request passes on to Hummingbird untouched.
///
/// It sits right after NIO's HTTP/1 decoder and encoder, before the conversion to `HTTPTypes` that
/// Hummingbird needs: a gateway call is read and answered in NIO's own HTTP/1 parts, never converted.
///
/// Answers leave in the order the requests came (HTTP/1.1 pipelining): a request that arrives while
/// an earlier one of the other kind is unanswered waits, and reading pauses meanwhile.
package final class GatewayChannelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    package typealias InboundIn = HTTPServerRequestPart
    package typealias InboundOut = HTTPServerRequestPart
    package typealias OutboundIn = HTTPServerResponsePart
    package typealias OutboundOut = HTTPServerResponsePart

    /// Where the rest of the request being read goes.
    private enum Route {
        case none
        case hummingbird
        case gateway
    }

    private let routing: any GatewayRouting
    private var route = Route.none
    /// Requests handed to Hummingbird whose answer has not ended yet.
    private var hummingbirdOpen = 0
    private var exchange: (any GatewayRequestReceiver)?
    /// Parts that wait for an earlier answer.
    private var backlog = CircularBuffer<HTTPServerRequestPart>()
    private var replaying = false
    private var heldRead = false
    private var heldQuiesce = false
    /// After an answer sent before its request was read whole (a 413): the bytes still to discard
    /// before the connection closes, so a caller that writes its whole body first still reads the answer.
    private var lingering: (bytesLeft: Int, timer: Scheduled<Void>)?
    /// How much of an unread body is read and dropped before the connection closes.
    package static let lingerBytes = 64 << 20
    /// How long at most, by default (nginx's `lingering_time` is 30 s, its `lingering_timeout` 5 s).
    package static let lingerTime = TimeAmount.seconds(5)
    private let lingerTime: TimeAmount

    /// A handler for one connection; `lingerTime` bounds the wait for an unread body after an early answer.
    package init(routing: any GatewayRouting, lingerTime: TimeAmount = GatewayChannelHandler.lingerTime) {
        self.routing = routing
        self.lingerTime = lingerTime
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if let linger = lingering {
            // Read and dropped until the request ends, the bound is reached or the time is up.
            var left = linger.bytesLeft
            switch part {
            case .body(let buffer): left -= buffer.readableBytes
            case .head, .end: left = 0
            }
            if left <= 0 {
                linger.timer.cancel()
                lingering = nil
                context.close(promise: nil)
            } else {
                lingering = (left, linger.timer)
            }
            return
        }
        if !backlog.isEmpty || !dispatch(part, context: context) {
            backlog.append(part)
        }
    }

    /// Routes one part; false when it has to wait for an earlier answer.
    private func dispatch(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) -> Bool {
        switch part {
        case .head(let head):
            guard exchange == nil else { return false }
            let target = Self.originForm(head.uri)
            let pathEnd = target.utf8.firstIndex(of: UInt8(ascii: "?")) ?? target.endIndex
            let path = String(target[..<pathEnd])
            if hummingbirdOpen == 0 {
                let query = pathEnd < target.endIndex ? String(target[target.index(after: pathEnd)...]) : nil
                if let receiver = routing.receiver(
                    for: head, path: path, query: query, context: context, owner: self)
                {
                    exchange = receiver
                    route = .gateway
                    return true
                }
            } else if routing.serves(method: head.method, path: path) {
                // A gateway call waits for Hummingbird's answers before it; Hummingbird orders its own.
                return false
            }
            hummingbirdOpen += 1
            route = .hummingbird
            context.fireChannelRead(wrapInboundOut(part))
        case .body(let buffer):
            switch route {
            case .hummingbird: context.fireChannelRead(wrapInboundOut(part))
            case .gateway: exchange?.received(body: buffer)
            case .none: break
            }
        case .end:
            switch route {
            case .hummingbird: context.fireChannelRead(wrapInboundOut(part))
            case .gateway: exchange?.requestEnded()
            case .none: break
            }
            route = .none
        }
        return true
    }

    /// The path and query of a request target: the origin form (`/path?query`) as it is, the path and
    /// query of an absolute form (`http://host/path?query`, as proxies send it), other forms as they are.
    package static func originForm(_ target: String) -> String {
        let bytes = target.utf8
        guard let first = bytes.first, first != UInt8(ascii: "/"),
            let colon = bytes.firstIndex(of: UInt8(ascii: ":")),
            bytes[colon...].starts(with: "://".utf8)
        else { return target }
        let scheme = target[..<colon].lowercased()
        guard scheme == "http" || scheme == "https" else { return target }
        let authorityStart = bytes.index(colon, offsetBy: 3)
        let rest = target[authorityStart...]
        guard let end = rest.utf8.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }) else {
            return "/"
        }
        return rest[end] == "/" ? String(rest[end...]) : "/" + rest[end...]
    }

    /// Goes on with the parts that waited, as far as the order of answers allows.
    private func drain(context: ChannelHandlerContext) {
        guard !replaying else { return }
        replaying = true
        var replayed = false
        while let part = backlog.first, dispatch(part, context: context) {
            backlog.removeFirst()
            replayed = true
        }
        replaying = false
        // Hummingbird takes what it was handed at the end of a read.
        if replayed { context.fireChannelReadComplete() }
        if backlog.isEmpty && heldRead {
            heldRead = false
            context.read()
        }
        if heldQuiesce && exchange == nil {
            heldQuiesce = false
            context.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }

    /// The gateway call has been answered. An answer given before the request was read whole closes
    /// the connection the way nginx's lingering close does: the answer goes out with a FIN, the rest of
    /// the body is read and dropped (within a bound), then the connection closes; closing at once would
    /// reset it, and a caller still writing its body would lose the answer.
    package func exchangeEnded(context: ChannelHandlerContext, close: Bool, unreadBody: Bool = false) {
        exchange = nil
        if close && unreadBody {
            route = .none
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            let timer = context.eventLoop.scheduleTask(in: lingerTime) { bound.value.close(promise: nil) }
            lingering = (Self.lingerBytes, timer)
            let closed = context.eventLoop.makePromise(of: Void.self)
            closed.futureResult.whenFailure { _ in bound.value.close(promise: nil) }
            context.close(mode: .output, promise: closed)
            context.read()
        } else if close {
            context.close(promise: nil)
        } else {
            drain(context: context)
        }
    }

    package func read(context: ChannelHandlerContext) {
        if backlog.isEmpty {
            context.read()
        } else {
            heldRead = true
        }
    }

    package func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
        // (Hummingbird also answers what it could not parse, which it was never handed as a request.)
        if case .end = unwrapOutboundIn(data), hummingbirdOpen > 0 {
            hummingbirdOpen -= 1
            if hummingbirdOpen == 0 { drain(context: context) }
        }
    }

    package func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // A graceful shutdown waits for the gateway call in flight.
        if event is ChannelShouldQuiesceEvent, exchange != nil {
            heldQuiesce = true
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    package func channelWritabilityChanged(context: ChannelHandlerContext) {
        exchange?.writabilityChanged(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    package func channelInactive(context: ChannelHandlerContext) {
        lingering?.timer.cancel()
        lingering = nil
        exchange?.callerLeft()
        context.fireChannelInactive()
    }
}
