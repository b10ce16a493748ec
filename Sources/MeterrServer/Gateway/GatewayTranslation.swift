import MeterrCore
import MeterrProviders
import NIOHTTP1

/// A `/v1` Chat Completions call translated to its provider's native API: the translator, the call as
/// the caller sent it, and the native request. The answer is read for usage in the native format and
/// written back in OpenAI's.
struct GatewayTranslation: Sendable {
    let translator: any ChatTranslator
    let chat: ChatRequest
    let native: NativeRequest
    /// The `created` second of the answer.
    let created: Int64
}

extension Gateway {
    /// The native translation of a `/v1` call routed to `target`, or `nil` when the call goes to the
    /// provider's OpenAI-compatible surface instead: the provider speaks OpenAI's format, the call is
    /// not Chat Completions, or the caller asked for that surface (`x-meterr-wire: compatible`).
    func translation(_ call: AuthenticatedCall, _ inspected: InspectedCall, target: Provider, model: String) throws
        -> GatewayTranslation?
    {
        let headers = call.inbound.head.headers
        guard let translator = Providers.profile(target).chatTranslator, inspected.endpoint == .chatCompletions
        else { return nil }
        switch headers.value(MeterrHeader.wire)?.lowercased() {
        case nil, "native": break
        case "compatible": return nil
        case let other?:
            throw GatewayRefusal(
                .invalidRequest, "\(MeterrHeader.wire) must be native or compatible (got \(other))", counted: false)
        }
        var options = TranslationOptions()
        if let value = headers.value(MeterrHeader.unsupportedParameters) {
            guard let policy = TranslationOptions.Unsupported(rawValue: value.lowercased()) else {
                throw GatewayRefusal(
                    .invalidRequest, "\(MeterrHeader.unsupportedParameters) must be drop or reject (got \(value))",
                    counted: false)
            }
            options.unsupported = policy
        }
        let now = clock.now()
        if let limit = engine.resolve(model: model, provider: target)?.maxOutputTokens {
            options.defaultMaxTokens = limit
        }
        do {
            let chat = try ChatRequest(body: inspected.bytes, model: model)
            let native = try translator.request(chat, options: options)
            return GatewayTranslation(
                translator: translator, chat: chat, native: native, created: now.milliseconds / 1000)
        } catch {
            throw GatewayRefusal(.invalidRequest, error.message, counted: false)
        }
    }
}
