import MeterrGatewayChannel
import NIOCore
import NIOHTTP1

/// The gateway serves its mounts (`/openai/…`, `/anthropic/…`, `/v1/…`) and `GET /healthz`; the rest
/// is Hummingbird's.
extension Gateway: GatewayRouting {
    func serves(method: HTTPMethod, path: String) -> Bool {
        HealthAnswer.answers(method: method, path: path) || Gateway.mount(method: method, path: path) != nil
    }

    func receiver(
        for head: HTTPRequestHead, path: String, query: String?, context: ChannelHandlerContext,
        owner: GatewayChannelHandler
    ) -> (any GatewayRequestReceiver)? {
        if HealthAnswer.answers(method: head.method, path: path) {
            return HealthAnswer(gateway: self, head: head, context: context, owner: owner)
        }
        guard let mount = Gateway.mount(method: head.method, path: path) else { return nil }
        return GatewayExchange(
            gateway: self, owner: owner, context: context, head: head, path: path, query: query, mount: mount)
    }
}
