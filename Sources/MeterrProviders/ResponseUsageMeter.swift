import MeterrCore

/// Reads one provider response's usage as its bytes pass, a whole JSON body or a stream alike: the
/// usage tap that the gateway and the Swift SDK share.
///
/// A stream is read event by event and never held; a whole body is kept (up to `maxBodyBytes`)
/// until `finish()` parses it.
public struct ResponseUsageMeter: Sendable {
    /// The wire format the response speaks.
    public let provider: Provider
    /// The metered endpoint, or `nil` for calls that cost nothing (model lists, unknown paths).
    public let endpoint: ProviderEndpoint?
    /// Whether the response is read as a stream.
    public let streaming: Bool
    /// The largest whole body kept for parsing; a larger one yields no usage (never a wrong one).
    public let maxBodyBytes: Int
    private var scanner: StreamScanner
    private var tap: (any StreamUsageTap)?
    private var body: [UInt8] = []
    private var bodyTooLarge = false

    /// Creates a meter for a response whose head has arrived.
    /// - Parameters:
    ///   - contentType: the response's `content-type`, which decides the stream framing.
    ///   - streaming: whether to read the body as a stream (see `isStreamed`).
    public init(
        provider: Provider, endpoint: ProviderEndpoint?, contentType: String?, streaming: Bool,
        maxBodyBytes: Int = 256 << 20
    ) {
        self.provider = provider
        self.endpoint = endpoint
        self.streaming = streaming
        self.maxBodyBytes = maxBodyBytes
        scanner = StreamScanner(framing: StreamScanner.framing(forContentType: contentType))
        tap = streaming ? endpoint.map { UsageReader.tap(provider: provider, endpoint: $0) } : nil
    }

    /// Whether a response is a stream: an event stream, or a success answering a request that asked
    /// to stream (Gemini's `streamGenerateContent` always does).
    public static func isStreamed(status: Int, contentType: String?, requested: Bool, endpoint: ProviderEndpoint?)
        -> Bool
    {
        contentType?.containsIgnoringASCIICase("event-stream") == true
            || (status == 200 && (requested || endpoint == .streamGenerateContent))
    }

    /// The response headers that carry the provider's own request id, in the order they are looked at.
    public static let requestIdHeaders = ["x-request-id", "request-id", "apim-request-id"]

    /// Takes the next bytes of the body.
    public mutating func feed(_ bytes: some Sequence<UInt8>) {
        guard endpoint != nil else { return }
        if streaming {
            scanner.feed(bytes) { tap?.consume($0) }
        } else if !bodyTooLarge {
            body.append(contentsOf: bytes)
            if body.count > maxBodyBytes {
                bodyTooLarge = true
                body = []
            }
        }
    }

    /// Takes the next bytes of a stream, and hands each event they complete on after its usage is read
    /// (to translate it), so the stream is scanned once.
    public mutating func feed(_ bytes: some Sequence<UInt8>, events: (StreamEvent) -> Void) {
        guard streaming else { return feed(bytes) }
        scanner.feed(bytes) { event in
            tap?.consume(event)
            events(event)
        }
    }

    /// Ends a stream, handing on the event its last bytes completed, and says what it held.
    public mutating func finish(events: (StreamEvent) -> Void) -> UsageReading {
        guard streaming else { return finish() }
        scanner.finish { event in
            tap?.consume(event)
            events(event)
        }
        return tap?.reading ?? UsageReading(finished: true)
    }

    /// Ends the body and says what it held.
    public mutating func finish() -> UsageReading {
        guard let endpoint else { return UsageReading(finished: true) }
        if streaming {
            scanner.finish { tap?.consume($0) }
            return tap?.reading ?? UsageReading(finished: true)
        }
        return bodyTooLarge ? UsageReading() : UsageReader.read(provider: provider, endpoint: endpoint, body: body)
    }
}
