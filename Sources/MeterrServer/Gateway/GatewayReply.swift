import HTTPTypes
import NIOCore

/// A gateway answer meterr makes itself (errors and refusals).
struct GatewayReply: Sendable {
    var status: Int
    var headers: HTTPFields
    var body: ByteBuffer
}
