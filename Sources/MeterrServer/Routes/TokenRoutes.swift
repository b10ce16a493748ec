import Foundation
import Hummingbird
import MeterrCore
import MeterrTokenizer
import NIOCore

/// `POST /api/tokens/count`: tokens of text, chat messages, tools or Responses input for a model,
/// and whether the count is exact or estimated.
struct TokenRoutes: Sendable {
    let maxBodyBytes: Int

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.post("tokens/count", use: count)
    }

    @Sendable func count(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let body = try await collectBody(request, limit: maxBodyBytes)
        let count = try TokenizerCount.of(requestJSON: Data(body.readableBytesView))
        return try jsonResponse(TokenCountResult(tokens: count.count, exact: count.exact, encoding: count.encoding))
    }
}

/// The tokenizer's answers, with its errors as `MeterrError`s naming the field.
enum TokenizerCount {
    static func of(requestJSON: Data) throws -> TokenCount {
        try validate(requestJSON)
        do {
            return try TokenCounter.count(requestJSON: requestJSON)
        } catch let error as ChatCountError {
            throw MeterrError.invalid("body", "\(error)")
        } catch let error as TokenizerError {
            throw MeterrError(.unavailable, "the tokenizer could not load: \(error)")
        } catch let error as MeterrError {
            throw error
        } catch {
            throw MeterrError.invalid("body", "must be a JSON object with model and text, messages, tools or input")
        }
    }

    /// Checks the body's shape first, so errors name the field at fault.
    static func validate(_ body: Data) throws {
        guard let json = JSONValue(parsing: body), case .object(let members) = json else {
            throw MeterrError.invalid("body", "must be a JSON object with model and text, messages, tools or input")
        }
        guard let model = members["model"]?.string, !model.isEmpty else {
            throw MeterrError.invalid("model", "is required")
        }
        let present = ["text", "messages", "tools", "input", "instructions"].filter {
            members[$0].map { !$0.isNull } ?? false
        }
        if present.isEmpty { throw MeterrError.invalid("body", "give text, messages, tools or input to count") }
        if let text = members["text"], !text.isNull, text.string == nil {
            throw MeterrError.invalid("text", "must be a string")
        }
        for key in ["messages", "tools"] {
            guard let value = members[key], !value.isNull else { continue }
            guard let list = value.array, list.allSatisfy({ if case .object = $0 { true } else { false } }) else {
                throw MeterrError.invalid(key, "must be an array of objects")
            }
        }
    }
}

/// Collects a request body that must be a JSON object: its members, or a 400 naming the body.
func collectJSONObject(_ request: Request, limit: Int, expecting: String = "a JSON object") async throws
    -> [String: JSONValue]
{
    let body = try await collectBody(request, limit: limit)
    guard let json = JSONValue(parsing: body.readableBytesView), case .object(let members) = json else {
        throw MeterrError.invalid("body", "must be \(expecting)")
    }
    return members
}

/// Collects a request body up to a limit, as a `payload_too_large` error beyond it.
func collectBody(_ request: Request, limit: Int) async throws -> ByteBuffer {
    do {
        return try await request.body.collect(upTo: limit)
    } catch is NIOTooManyBytesError {
        throw MeterrError(.payloadTooLarge, "must be at most \(limit) bytes", field: "body")
    }
}

/// The gateway's estimates from the tokenizer: exact counts for OpenAI and Mistral models, calibrated
/// estimates for the others; the byte-length estimate if the body is not JSON it can read.
package struct TokenizerEstimator: TokenEstimator {
    let fallback = ByteLengthEstimator()

    package init() {}

    package func inputTokens(provider: Provider, model: String?, requestBody: [UInt8]) -> Int {
        guard let model, let count = try? TokenCounter.promptTokens(model: model, requestBody: requestBody) else {
            return fallback.inputTokens(provider: provider, model: model, requestBody: requestBody)
        }
        return count.count
    }

    package func outputTokens(provider: Provider, model: String?, text: String) -> Int {
        guard let model, let count = try? TokenCounter.count(model: model, text: text) else {
            return fallback.outputTokens(provider: provider, model: model, text: text)
        }
        return count.count
    }
}
