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
}

/// Headers meterr writes (an answer to its caller, a request to a provider), gathered as name-value
/// pairs and made into NIO's headers once, when the head goes out. `HTTPHeaders.add` checks each name
/// it is given byte by byte; these names are meterr's own, or come from a head NIO parsed.
struct OutgoingHeaders: Sendable {
    private(set) var fields: [(String, String)] = []

    init(capacity: Int = 0) {
        fields.reserveCapacity(capacity)
    }

    /// Fields made as `HTTPFields` (meterr's own answers and headers).
    init(_ fields: HTTPFields) {
        self.fields = fields.map { ($0.name.rawName, $0.value) }
    }

    mutating func add(_ name: String, _ value: String) { fields.append((name, value)) }

    mutating func add(contentsOf fields: HTTPFields) {
        for field in fields { add(field.name.rawName, field.value) }
    }

    /// Sets a field over any field of the same name (compared without regard to case).
    mutating func set(_ name: String, _ value: String) {
        fields.removeAll { $0.0.equalsIgnoringASCIICase(name) }
        fields.append((name, value))
    }

    /// What every gateway answer carries (`HTTPFields.setCommonHeaders`), added to headers that have
    /// none of them: meterr's own answers, and a provider's without its `Gateway.answerOwnHeaders`.
    mutating func addCommonHeaders(requestId: String, servesTLS: Bool) {
        add(MeterrHeader.requestId, requestId)
        for field in HTTPFields.securityHeaders(servesTLS: servesTLS) { add(field.name.rawName, field.value) }
    }

    /// The fields as NIO's headers.
    var http1: HTTPHeaders { HTTPHeaders(fields) }
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
