import HTTPTypes
import MeterrCore
import NIOHTTP1

// The gateway reads and answers its calls in NIO's HTTP/1 headers (`GatewayChannelHandler`): these
// read them the way `HTTPFields` does, and carry meterr's own headers over.

extension HTTPHeaders {
    /// A field's value as `HTTPFields` reads it: `nil` when it is absent, its values joined with
    /// ", " when it repeats. Names compare without regard to case.
    func value(_ name: String) -> String? {
        var found: String?
        for (fieldName, value) in self where fieldName.equalsIgnoringASCIICase(name) {
            found = found.map { $0 + ", " + value } ?? value
        }
        return found
    }

    /// Appends fields made as `HTTPFields` (meterr's own answers and headers).
    mutating func add(contentsOf fields: HTTPFields) {
        for field in fields { add(name: field.name.rawName, value: field.value) }
    }

    /// What every gateway answer carries (`HTTPFields.setCommonHeaders`), added to headers that have
    /// none of them: meterr's own answers, and a provider's without its `Gateway.answerOwnHeaders`.
    mutating func setCommonHeaders(requestId: String, servesTLS: Bool) {
        add(name: MeterrHeader.requestId, value: requestId)
        for field in HTTPFields.securityHeaders(servesTLS: servesTLS) {
            add(name: field.name.rawName, value: field.value)
        }
    }
}

extension HTTPFields {
    /// The same fields as NIO's HTTP/1 headers.
    var http1: HTTPHeaders {
        var headers = HTTPHeaders()
        headers.reserveCapacity(count)
        headers.add(contentsOf: self)
        return headers
    }
}

/// A few header names, matched without regard to case, and without lower-casing (copying) the name
/// looked up, as a `Set` would need for every name in every head.
struct HeaderNames: Sendable {
    private let names: [String]

    init(_ names: some Sequence<String>) {
        self.names = names.map(\.asciiLowercased)
    }

    func contains(_ name: String) -> Bool {
        names.contains { $0.utf8.count == name.utf8.count && $0.equalsIgnoringASCIICase(name) }
    }

    func union(_ more: some Sequence<String>) -> HeaderNames { HeaderNames(names + more) }
}
