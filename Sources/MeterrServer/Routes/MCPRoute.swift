import Foundation
import HTTPTypes
import Hummingbird
import MCP
import MeterrCore
import MeterrMCP
import MeterrSDK
import Synchronization

/// `/mcp`: meterr's MCP tools over streamable HTTP (stateless: every POST is answered with one JSON
/// message), behind a meterr key. Each tool asks this server's own `/api` on loopback with the
/// caller's key, exactly as `meterr mcp` does over stdio, so both see the key's organisation only.
struct MCPRoute: Sendable {
    let loopback: LoopbackURL

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.post(use: handle)
        group.get(use: handle)
        group.delete(use: handle)
    }

    @Sendable func handle(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        guard let baseURL = loopback.value, let key = request.headers[.authorization].flatMap(PresentedKey.bearer)
        else { throw MeterrError(.unavailable, "the MCP endpoint is not ready yet") }
        let body = try await request.body.collect(upTo: 1 << 20)
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let client = ManagementClient(connection: MeterrConnection(baseURL: baseURL, key: key))
        let server = await MeterrTools(client: client).makeServer()
        let transport = StatelessHTTPServerTransport()
        try await server.start(transport: transport)
        let answer = await transport.handleRequest(
            MCP.HTTPRequest(
                method: request.method.rawValue, headers: headers, body: Data(body.readableBytesView), path: "/mcp"))
        await server.stop()
        var fields = HTTPFields()
        for (name, value) in answer.headers {
            if let name = HTTPField.Name(name) { fields[name] = value }
        }
        let bytes = answer.bodyData.map { ByteBuffer(bytes: $0) } ?? ByteBuffer()
        return Response(
            status: .init(code: answer.statusCode), headers: fields, body: .init(byteBuffer: bytes))
    }
}

/// Where this server can reach itself, known once it listens.
final class LoopbackURL: Sendable {
    private let url = Mutex<String?>(nil)

    var value: String? { url.withLock { $0 } }

    /// Records the port the server listens on; a wildcard host is reached on 127.0.0.1.
    func listening(host: String, port: Int) {
        let reachable =
            ["0.0.0.0", "::", ""].contains(host) ? "127.0.0.1" : host.contains(":") ? "[\(host)]" : host
        url.withLock { $0 = "http://\(reachable):\(port)" }
    }
}
