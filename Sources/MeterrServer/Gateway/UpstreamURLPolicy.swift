import Foundation
import MeterrCore

#if canImport(Glibc)
    import Glibc
#endif

/// Which base URLs an organisation may point a provider at: https, and never a private, loopback,
/// link-local or otherwise internal address (SSRF), unless the operator allow-lists the host.
///
/// Hosts are resolved when the URL is set; every address must be public. (A name whose addresses
/// change later is not re-checked per call; allow-list names you control.)
struct UpstreamURLPolicy: Sendable {
    /// Hosts (names or addresses) the operator allows, internal or not, http or https.
    let allowedHosts: Set<String>

    /// The URL normalised (no trailing slash), or an error naming the rule it breaks.
    func check(_ text: String) throws -> String {
        var url = text.trimmingCharacters(in: .whitespaces)
        while url.hasSuffix("/") { url.removeLast() }
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            let host = components.host?.lowercased(), !host.isEmpty, components.user == nil, components.password == nil,
            components.query == nil, components.fragment == nil
        else {
            throw MeterrError.invalid("base_url", "must be an absolute URL such as https://llm.example.com/v1")
        }
        let bareHost = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        if allowedHosts.contains(bareHost) || allowedHosts.contains(host) {
            guard scheme == "https" || scheme == "http" else {
                throw MeterrError.invalid("base_url", "must be http or https")
            }
            return url
        }
        guard scheme == "https" else { throw MeterrError.invalid("base_url", "must use https") }
        let addresses = try Self.resolve(bareHost)
        if let found = addresses.first(where: Self.isInternal) {
            throw MeterrError.invalid(
                "base_url", "\(bareHost) is an internal address (\(found)); an operator must allow-list it")
        }
        return url
    }

    /// The host's addresses, as text.
    static func resolve(_ host: String) throws -> [String] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else {
            throw MeterrError.invalid("base_url", "\(host) does not resolve")
        }
        defer { freeaddrinfo(first) }
        var addresses: [String] = []
        var current: UnsafeMutablePointer<addrinfo>? = first
        while let info = current {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(
                info.pointee.ai_addr, info.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST)
                == 0
            {
                addresses.append(String(cString: buffer))
            }
            current = info.pointee.ai_next
        }
        if addresses.isEmpty { throw MeterrError.invalid("base_url", "\(host) does not resolve") }
        return addresses
    }

    /// Whether an address is loopback, private, link-local, shared, multicast or unspecified.
    static func isInternal(_ address: String) -> Bool {
        if let v4 = ipv4(address) { return isInternal(v4: v4) }
        var bytes = [UInt8](repeating: 0, count: 16)
        guard inet_pton(AF_INET6, address.split(separator: "%").first.map(String.init) ?? address, &bytes) == 1 else {
            return true
        }
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            return isInternal(v4: Array(bytes[12..<16]))  // IPv4-mapped
        }
        if bytes.allSatisfy({ $0 == 0 }) { return true }  // ::
        if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }  // ::1
        if bytes[0] & 0xFE == 0xFC { return true }  // fc00::/7 unique local
        if bytes[0] == 0xFE && bytes[1] & 0xC0 == 0x80 { return true }  // fe80::/10 link-local
        if bytes[0] == 0xFF { return true }  // multicast
        return false
    }

    static func ipv4(_ address: String) -> [UInt8]? {
        var value = in_addr()
        guard inet_pton(AF_INET, address, &value) == 1 else { return nil }
        return withUnsafeBytes(of: value.s_addr) { Array($0) }
    }

    static func isInternal(v4 b: [UInt8]) -> Bool {
        switch (b[0], b[1]) {
        case (0, _), (10, _), (127, _): return true
        case (100, 64...127): return true  // shared address space (CGNAT)
        case (169, 254): return true  // link-local, cloud metadata
        case (172, 16...31): return true
        case (192, 168): return true
        case (192, 0) where b[2] == 0: return true
        case (198, 18...19): return true  // benchmarking
        case (224...255, _): return true  // multicast, reserved, broadcast
        default: return false
        }
    }
}
