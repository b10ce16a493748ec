import MeterrCore
import MeterrProviders
import MeterrStore

/// A cached answer as the caller asked for it: in the caller's format, whole or streamed.
///
/// An answer served in the shape it was stored in is the provider's bytes with the answer's id and
/// `created` time replaced (each call gets its own, as from the provider); a `/v1` caller of a
/// translated answer gets it translated as on the first call. A Chat Completions answer in OpenAI's
/// format also changes shape: a stream from a whole answer and a whole answer from a stream.
struct CachedReply {
    var contentType: String
    var body: [UInt8]

    /// The reply, or `nil` when the answer cannot be served in this shape and format.
    /// - Parameters:
    ///   - format: the caller's format (OpenAI's on `/v1`).
    ///   - request: the caller's body; `stripUsage`: the stream's usage chunk goes only to callers that asked.
    init?(
        _ answer: CachedAnswer, stream: Bool, format: Provider, endpoint: ProviderEndpoint, request: [UInt8],
        model: String, stripUsage: Bool, requestId: String, now: Timestamp
    ) {
        let created = now.milliseconds / 1000
        let wanted: CachedAnswer.Shape = stream ? .stream : .whole
        if answer.format == format, answer.shape == wanted {
            var body = Self.restamped(
                answer.body, responseId: answer.responseId, requestId: requestId, created: created)
            if stream && stripUsage {
                var stripper = UsageChunkStripper()
                body = stripper.pass(body) + stripper.flush()
            }
            self.init(contentType: answer.contentType, body: body)
            return
        }
        // Translated or reshaped: only Chat Completions in OpenAI's format, read into a neutral answer.
        guard endpoint == .chatCompletions, format == OpenAIWire.provider,
            let chat = try? ChatRequest(body: request, model: model)
        else { return nil }
        let reader: any ChatReader
        if answer.format == format {
            reader = OpenAIChatReader()
        } else if let translator = Providers.profile(answer.format).chatTranslator {
            reader = translator
        } else {
            return nil
        }
        let usage = chat.includeUsage || !stream ? answer.usage : nil
        switch (answer.shape, wanted) {
        case (.whole, .whole):
            guard let read = reader.answer(answer.body, chat: chat) else { return nil }
            self.init(
                contentType: "application/json",
                body: read.completionBody(created: created, fallbackId: requestId, fallbackModel: model, usage: usage))
        case (.whole, .stream):
            guard let read = reader.answer(answer.body, chat: chat) else { return nil }
            self.init(
                contentType: "text/event-stream",
                body: read.streamBody(created: created, fallbackId: requestId, fallbackModel: model, usage: usage))
        case (.stream, .stream):
            var translated = ChatStream(
                reader: reader.stream(chat), chat: chat, created: created, fallbackId: requestId)
            var out: [UInt8] = []
            var scanner = StreamScanner(framing: StreamScanner.framing(forContentType: answer.contentType))
            scanner.feed(answer.body) { translated.translate($0, into: &out) }
            scanner.finish { translated.translate($0, into: &out) }
            translated.finish(usage: answer.usage, into: &out)
            self.init(contentType: "text/event-stream", body: out)
        case (.stream, .whole):
            var events = reader.stream(chat)
            var deltas: [ChatDelta] = []
            var scanner = StreamScanner(framing: StreamScanner.framing(forContentType: answer.contentType))
            scanner.feed(answer.body) { events.read($0, into: &deltas) }
            scanner.finish { events.read($0, into: &deltas) }
            guard let read = ChatAnswer(deltas: deltas) else { return nil }
            self.init(
                contentType: "application/json",
                body: read.completionBody(created: created, fallbackId: requestId, fallbackModel: model, usage: usage))
        }
    }

    init(contentType: String, body: [UInt8]) {
        self.contentType = contentType
        self.body = body
    }

    /// The provider's bytes with the answer's id made new (its prefix kept: `chatcmpl-`, `msg_`) and
    /// every `created`/`created_at` second made now: SDKs and logs that key on the id must not see two
    /// calls as one.
    static func restamped(_ body: [UInt8], responseId: String?, requestId: String, created: Int64) -> [UInt8] {
        var out = body
        if let responseId, responseId.utf8.count >= 4 {
            let prefixEnd =
                responseId.firstIndex { $0 == "-" || $0 == "_" }.map { responseId.index(after: $0) }
                ?? responseId.startIndex
            let fresh = String(responseId[..<prefixEnd]) + requestId.replacingOccurrences(of: "req_", with: "")
            out = replacing(Array("\"\(responseId)\"".utf8), with: Array("\"\(fresh)\"".utf8), in: out)
        }
        for key in ["\"created\"", "\"created_at\""] {
            out = replacingNumber(after: Array(key.utf8), with: Array(String(created).utf8), in: out)
        }
        return out
    }

    static func replacing(_ pattern: [UInt8], with replacement: [UInt8], in bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var from = 0
        while let found = bytes[from...].range(ofBytes: pattern) {
            out.append(contentsOf: bytes[from..<found.lowerBound])
            out.append(contentsOf: replacement)
            from = found.upperBound
        }
        out.append(contentsOf: bytes[from...])
        return out
    }

    /// Replaces the integer after each `"key":` (spaces allowed around the colon).
    static func replacingNumber(after key: [UInt8], with number: [UInt8], in bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var from = 0
        while let found = bytes[from...].range(ofBytes: key) {
            var index = found.upperBound
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == UInt8(ascii: ":") { index += 1 }
            var end = index
            while end < bytes.count, bytes[end] >= 0x30, bytes[end] <= 0x39 { end += 1 }
            out.append(contentsOf: bytes[from..<index])
            if end > index { out.append(contentsOf: number) }
            from = end
        }
        out.append(contentsOf: bytes[from...])
        return out
    }
}
