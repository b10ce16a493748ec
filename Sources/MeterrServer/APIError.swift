import Foundation
import Hummingbird
import MeterrCore

/// The one place where a `MeterrError` becomes an HTTP status and a JSON body.
typealias APIError = MeterrError

extension MeterrError.Code {
    /// The HTTP status of errors of this kind.
    var status: HTTPResponse.Status {
        switch self {
        case .invalidRequest: .badRequest
        case .payloadTooLarge: .contentTooLarge
        case .unauthenticated: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .conflict: .conflict
        case .rateLimited: .tooManyRequests
        case .unavailable, .storage: .serviceUnavailable
        case .badGateway: .badGateway
        case .gatewayTimeout: .gatewayTimeout
        default: .internalServerError
        }
    }
}

extension MeterrError.Code {
    /// The HTTP status code of errors of this kind, as a number (the gateway's answers and metrics).
    var httpStatus: Int { Int(status.code) }
}

extension MeterrError {
    /// The error as a response: `{"error": {"code", "message", "field"}}`.
    func response() -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        if code == .unauthenticated { headers[.wwwAuthenticate] = "Bearer" }
        let data = (try? WireEncoder().encode(APIErrorBody(self))) ?? []
        return Response(status: code.status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Any error as a `MeterrError`, with a safe message for errors of unknown kind.
    static func from(_ error: any Error) -> MeterrError {
        switch error {
        case let error as MeterrError:
            return error
        case let error as HTTPError:
            switch error.status {
            case .contentTooLarge: return MeterrError(.payloadTooLarge, "the request body is too large")
            case .notFound: return MeterrError(.notFound, "no such route")
            case .methodNotAllowed: return MeterrError(.invalidRequest, "method not allowed for this route")
            case .unauthorized: return MeterrError(.unauthenticated, "a valid meterr key is required")
            default:
                let code: Code = error.status.code < 500 ? .invalidRequest : .internal
                return MeterrError(code, error.body ?? error.status.reasonPhrase)
            }
        default:
            return MeterrError(.internal, "internal error", underlying: error)
        }
    }
}

/// A response of JSON text written elsewhere.
func jsonResponse(bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "application/json; charset=utf-8"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
}

/// A wire type as a JSON response, its members in the contract's order (`WireEncoder`).
func jsonResponse(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    let data = try WireEncoder().encode(value)
    var headers = HTTPFields()
    headers[.contentType] = "application/json; charset=utf-8"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
}
