import Foundation

/// An HTTP proxy between meterr and the providers (a company's egress proxy): https upstreams are
/// reached through a `CONNECT` tunnel (TLS stays end to end), plain http ones by absolute-form
/// requests to the proxy.
package struct UpstreamProxy: Sendable, Hashable {
    package var host: String
    package var port: Int
    /// `user:password` from the URL, base64-encoded (Basic authentication).
    package var credentials: String?

    /// The `Proxy-Authorization` value.
    package var authorization: String? { credentials.map { "Basic " + $0 } }

    /// Reads `http://[user:password@]host[:port]` (a URL without a scheme is taken as http, as curl
    /// does); `nil` for anything else, https proxies included.
    package init?(url: String) {
        var rest = Substring(url.trimmingCharacters(in: .whitespaces))
        if rest.lowercased().hasPrefix("http://") {
            rest = rest.dropFirst(7)
        } else if rest.contains("://") {
            return nil
        }
        while rest.hasSuffix("/") { rest.removeLast() }
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let parts = userInfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let user = String(parts[0]).removingPercentEncoding ?? String(parts[0])
            let password = parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : ""
            credentials = Data("\(user):\(password)".utf8).base64EncodedString()
        }
        guard !rest.contains("/"), let endpoint = UpstreamEndpoint(baseURL: "http://" + rest) else { return nil }
        host = endpoint.host
        port = endpoint.port
    }
}

/// Which provider calls go through a proxy: https ones through `https`, plain ones through `http`,
/// except hosts named in `noProxy` and the machine's own (loopback is never proxied).
package struct UpstreamProxies: Sendable {
    package var https: UpstreamProxy?
    package var http: UpstreamProxy?
    /// Host names (each also covering its subdomains; a leading dot is the same) and addresses;
    /// `*` for every host.
    package var noProxy: [String] = []

    package init(https: UpstreamProxy? = nil, http: UpstreamProxy? = nil, noProxy: [String] = []) {
        self.https = https
        self.http = http
        self.noProxy = noProxy
    }

    /// The proxy a URL's calls go through (scheme, host and port are read; the rest is not).
    package func proxy(forURL url: String) -> UpstreamProxy? {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            let host = components.host, !host.isEmpty
        else { return nil }
        let name = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return UpstreamEndpoint(baseURL: "\(scheme)://\(name)" + (components.port.map { ":\($0)" } ?? ""))
            .flatMap(proxy(for:))
    }

    package func proxy(for endpoint: UpstreamEndpoint) -> UpstreamProxy? {
        guard let proxy = endpoint.tls ? https : http else { return nil }
        let host = endpoint.host.lowercased()
        if host == "localhost" || host.hasSuffix(".localhost") || host == "::1" || host.hasPrefix("127.") {
            return nil
        }
        for entry in noProxy {
            var name = Substring(entry.lowercased())
            if name == "*" { return nil }
            if name.hasPrefix(".") { name = name.dropFirst() }
            if !name.hasPrefix("["), let colon = name.lastIndex(of: ":"), name.firstIndex(of: ":") == colon {
                name = name[..<colon]
            }
            if name.hasPrefix("["), name.hasSuffix("]") { name = name.dropFirst().dropLast() }
            if !name.isEmpty, host == name || host.hasSuffix("." + name) { return nil }
        }
        return proxy
    }
}
