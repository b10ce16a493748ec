import Foundation

/// Where a provider's calls go, read once from a base URL (`https://host[:port][/base/path]`).
package struct UpstreamEndpoint: Sendable, Hashable {
    package var tls: Bool
    package var host: String
    package var port: Int
    /// The base URL's path without a trailing slash (`""` for none).
    package var basePath: String

    package init?(baseURL: String) {
        // No spaces or control characters: the host goes into a header as it is.
        guard !baseURL.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else { return nil }
        var rest: Substring
        if baseURL.hasPrefix("https://") {
            tls = true
            rest = baseURL.dropFirst(8)
        } else if baseURL.hasPrefix("http://") {
            tls = false
            rest = baseURL.dropFirst(7)
        } else {
            return nil
        }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        rest = rest[authorityEnd...]
        // Byte tests: with Foundation imported, a string argument would search through NSString.
        guard !authority.utf8.contains(UInt8(ascii: "@")), !rest.utf8.contains(UInt8(ascii: "?")),
            !rest.utf8.contains(UInt8(ascii: "#"))
        else { return nil }
        var path = String(rest)
        while path.hasSuffix("/") { path.removeLast() }
        basePath = path
        let defaultPort = tls ? 443 : 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            guard after.isEmpty || after.hasPrefix(":") else { return nil }
            guard let port = after.isEmpty ? defaultPort : Int(after.dropFirst()) else { return nil }
            self.port = port
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let port = Int(authority[authority.index(after: colon)...]) else { return nil }
            self.port = port
        } else {
            host = String(authority)
            port = defaultPort
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
    }

    /// The path a call goes to: `path` (as the caller's SDK wrote it, `/v1/chat/completions`) under
    /// the base URL's path, which may already end in what the call's path begins with, the way each
    /// SDK's own docs write base URLs (`http://host:8000/v1`, `https://x.openai.azure.com/openai`).
    /// That overlap is not doubled; and a base ending in another version than the call names
    /// (`…/v1beta` for a `/v1/models/…` call) gives way to the caller's.
    package func path(for path: String) -> String {
        if basePath.isEmpty { return path }
        let base = basePath.split(separator: "/", omittingEmptySubsequences: true)
        let call = path.split(separator: "/", omittingEmptySubsequences: true)
        for overlap in stride(from: min(base.count, call.count), through: 1, by: -1)
        where base.suffix(overlap).elementsEqual(call.prefix(overlap)) {
            return "/" + base.dropLast(overlap).map { $0 + "/" }.joined() + path.drop { $0 == "/" }
        }
        if let last = base.last, let first = call.first, Self.isVersion(last), Self.isVersion(first) {
            return "/" + base.dropLast().map { $0 + "/" }.joined() + path.drop { $0 == "/" }
        }
        return basePath + path
    }

    /// `v1`, `v2`, `v1beta`, `v1alpha2`: an API version segment.
    package static func isVersion(_ segment: Substring) -> Bool {
        let bytes = Array(segment.utf8)
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "v"), (0x30...0x39).contains(bytes[1]) else { return false }
        let digit = { (byte: UInt8) in (0x30...0x39).contains(byte) }
        let rest = bytes.dropFirst(1).drop(while: digit)
        return rest.isEmpty
            || ["beta", "alpha"].contains { stage in
                rest.starts(with: stage.utf8) && rest.dropFirst(stage.utf8.count).allSatisfy(digit)
            }
    }

    /// The `Host` header: the port only when it is not the scheme's own.
    package var hostHeader: String {
        let name = host.utf8.contains(UInt8(ascii: ":")) ? "[\(host)]" : host
        return port == (tls ? 443 : 80) ? name : "\(name):\(port)"
    }

    /// Whether the host is an address literal (no server name to send in TLS).
    package var hostIsAddress: Bool {
        host.utf8.contains(UInt8(ascii: ":"))
            || host.utf8.allSatisfy { $0 == UInt8(ascii: ".") || (0x30...0x39).contains($0) }
    }
}
