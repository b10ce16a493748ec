import Foundation
import Hummingbird
import MeterrCore

/// `GET /api/openapi.yaml`: the API's OpenAPI 3.1 document (a test checks it against the routes).
struct OpenAPIRoute: Sendable {
    /// The document, read once from the target's resources.
    static let document: String? = Bundle.module.url(forResource: "openapi", withExtension: "yaml")
        .flatMap { try? String(contentsOf: $0, encoding: .utf8) }

    func register(on router: Router<MeterrRequestContext>) {
        router.get("api/openapi.yaml") { _, _ in
            guard let document = Self.document else {
                throw MeterrError(.unavailable, "the OpenAPI document is not installed beside meterr")
            }
            var headers = HTTPFields()
            headers[.contentType] = "application/yaml; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: document)))
        }
    }
}
