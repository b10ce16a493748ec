import Foundation
import HTTPTypes
import MeterrCore
import MeterrTestSupport
import Synchronization
import Testing

@testable import MeterrServer
@testable import MeterrUpstream

/// The gateway behind a company's egress proxy: a real proxy on loopback (CONNECT tunnels and
/// forwarded plain requests) that sends every host name to 127.0.0.1.
@Suite("The gateway through an HTTP proxy")
struct UpstreamProxyTests {
    static let credentials = "Basic " + Data("meterr:s3cret".utf8).base64EncodedString()

    @Test("https calls go through a CONNECT tunnel with the proxy's credentials; TLS stays end to end")
    func tunnel() async throws {
        let (provider, port, caFile) = try await UpstreamTLSTests.tlsProvider(host: "api.provider.test")
        defer {
            provider.cancel()
            try? FileManager.default.removeItem(atPath: caFile)
        }
        let proxy = try LoopbackProxy(authorization: Self.credentials)
        defer { proxy.stop() }
        try await withGateway(configure: { configuration, _ in
            configuration.upstreams[.openai] = .init(baseURL: "https://api.provider.test:\(port)", apiKey: "sk-tls")
            configuration.upstreamCAFile = caFile
            configuration.upstreamHTTPSProxy = "http://meterr:s3cret@127.0.0.1:\(proxy.port)"
        }) { client, _ in
            for _ in 0..<2 {
                let response = try await client.call(
                    "/openai/v1/chat/completions", #"{"model":"gpt-4.1","messages":[]}"#,
                    headers: [.authorization: "Bearer \(adminKey)"])
                #expect(response.status == .ok)
                #expect(response.headers[.init("x-meterr-cost-usd")!] == "0.000060000")
            }
            #expect(proxy.requests == ["CONNECT api.provider.test:\(port) HTTP/1.1 \(Self.credentials)"])
        }
    }

    @Test("A proxy that refuses the tunnel (407) gets the caller a 502 in the provider's shape, recorded")
    func refusedTunnel() async throws {
        let proxy = try LoopbackProxy(authorization: Self.credentials)
        defer { proxy.stop() }
        try await withGateway(configure: { configuration, _ in
            configuration.upstreams[.anthropic] = .init(baseURL: "https://api.provider.test:443", apiKey: "sk-a")
            configuration.upstreamHTTPSProxy = "http://meterr:wrong@127.0.0.1:\(proxy.port)"
        }) { client, _ in
            let response = try await client.call(
                "/anthropic/v1/messages", #"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}"#,
                headers: [.init("x-api-key")!: adminKey])
            #expect(response.status == .badGateway)
            let error = response.json["error"] as? [String: Any]
            #expect(error?["type"] as? String == "api_error")
            #expect((error?["message"] as? String)?.contains("the proxy did not open a tunnel") == true)
            let event = try #require(try await client.event(response.headers[.init("x-meterr-request-id")!]!))
            #expect(event["status"] as? Int == 502)
            #expect(proxy.requests.count == 1)
        }
    }

    @Test("Plain http calls go to the proxy in absolute form with its credentials, and are metered")
    func forwarded() async throws {
        let seen = SeenRequests()
        let (provider, providerPort) = try await FakeProvider.start(seen: seen)
        defer { provider.cancel() }
        let proxy = try LoopbackProxy(authorization: Self.credentials)
        defer { proxy.stop() }
        try await withGateway(configure: { configuration, _ in
            configuration.upstreams[.openai] = .init(
                baseURL: "http://models.internal.test:\(providerPort)", apiKey: "real-openai-key")
            configuration.upstreamHTTPProxy = "http://meterr:s3cret@127.0.0.1:\(proxy.port)"
        }) { client, _ in
            let response = try await client.call(
                "/openai/v1/chat/completions", #"{"model":"gpt-4.1","messages":[]}"#,
                headers: [.authorization: "Bearer \(adminKey)"])
            #expect(response.status == .ok)
            #expect(response.headers[.init("x-meterr-cost-usd")!] == "0.000928000")
            #expect(
                proxy.requests == [
                    "POST http://models.internal.test:\(providerPort)/v1/chat/completions HTTP/1.1 \(Self.credentials)"
                ])
            let upstream = try #require(seen.last.withLock { $0 })
            #expect(upstream.headers["authorization"] == "Bearer real-openai-key")
            #expect(upstream.headers["proxy-authorization"] == nil)
        }
    }

    @Test("Webhooks go through the same proxy, by the same rules")
    func webhooks() async throws {
        let receiver = Receiver(failures: 0)
        let (receiverTask, receiverPort) = try await receiver.start()
        defer { receiverTask.cancel() }
        let proxy = try LoopbackProxy(authorization: Self.credentials)
        defer { proxy.stop() }
        try await withGateway(configure: { configuration, _ in
            configuration.upstreamAllowHosts = ["hooks.corp.test"]
            configuration.upstreamHTTPProxy = "http://meterr:s3cret@127.0.0.1:\(proxy.port)"
        }) { client, _ in
            let hook = try await client.post(
                "/api/webhooks", #"{"url":"http://hooks.corp.test:\#(receiverPort)/hook"}"#)
            #expect(hook.status == .created)
            // The call (USD 0.08) crosses 50% and the limit at once: one alert, no forecast, at any moment.
            _ = try await client.post("/api/budgets", #"{"name":"tiny","limit_usd":"0.05","thresholds":[50]}"#)
            let probe = #"{"model":"gpt-4.1","max_tokens":10000,"messages":[{"role":"user","content":"budget-probe"}]}"#
            _ = try await client.call(
                "/openai/v1/chat/completions", probe, headers: [.authorization: "Bearer \(adminKey)"])
            for _ in 0..<500 where receiver.received.withLock({ $0.isEmpty }) {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(receiver.received.withLock { $0.first?.body.contains("budget.threshold") } == true)
            #expect(
                proxy.requests.contains {
                    $0.contains("hooks.corp.test:\(receiverPort)") && $0.hasSuffix(Self.credentials)
                })
        }
    }

    @Test("Proxy URLs: credentials, a missing scheme, and what is refused")
    func proxyURLs() {
        let proxy = UpstreamProxy(url: "http://user%40corp:p%3Ass@proxy.corp:3128/")
        #expect(proxy?.host == "proxy.corp")
        #expect(proxy?.port == 3128)
        #expect(proxy?.authorization == "Basic " + Data("user@corp:p:ss".utf8).base64EncodedString())
        #expect(UpstreamProxy(url: "proxy.corp:8080")?.port == 8080)
        #expect(UpstreamProxy(url: "http://proxy.corp")?.port == 80)
        #expect(UpstreamProxy(url: "http://proxy.corp")?.authorization == nil)
        for refused in ["https://proxy.corp:443", "socks5://proxy.corp:1080", "http://proxy.corp:8080/path", "http://"]
        {
            #expect(UpstreamProxy(url: refused) == nil, "\(refused)")
        }
    }

    @Test("no_proxy names hosts and their subdomains; loopback is never proxied; each scheme has its proxy")
    func bypass() throws {
        let corporate = try #require(UpstreamProxy(url: "http://proxy.corp:3128"))
        let proxies = UpstreamProxies(
            https: corporate, http: nil, noProxy: ["internal.corp", ".azure.example", "10.1.2.3", "models:8000"])
        func via(_ url: String) -> UpstreamProxy? { proxies.proxy(for: UpstreamEndpoint(baseURL: url)!) }
        #expect(via("https://api.openai.com") == corporate)
        #expect(via("https://internal.corp") == nil)
        #expect(via("https://llm.internal.corp") == nil)
        #expect(via("https://notinternal.corp") == corporate)
        #expect(via("https://eu.azure.example") == nil)
        #expect(via("https://10.1.2.3:8443") == nil)
        #expect(via("https://models:8000") == nil)
        #expect(via("https://localhost:8443") == nil)
        #expect(via("https://127.0.0.1") == nil)
        #expect(via("https://[::1]:8443") == nil)
        #expect(via("http://api.openai.com") == nil, "no http proxy set")
        #expect(
            UpstreamProxies(https: corporate, noProxy: ["*"]).proxy(for: UpstreamEndpoint(baseURL: "https://a.b")!)
                == nil)
    }

    @Test("HTTPS_PROXY, HTTP_PROXY and NO_PROXY are followed unless meterr's own settings say otherwise")
    func environment() throws {
        let conventional = try ServerConfiguration.load(
            file: nil,
            environment: [
                "https_proxy": "http://proxy.corp:3128", "HTTP_PROXY": "proxy.corp:8080",
                "NO_PROXY": "internal.corp, .svc",
            ])
        #expect(conventional.upstreamHTTPSProxy == "http://proxy.corp:3128")
        #expect(conventional.upstreamHTTPProxy == "proxy.corp:8080")
        #expect(conventional.upstreamNoProxy == ["internal.corp", ".svc"])
        let own = try ServerConfiguration.load(
            file: nil,
            environment: [
                "HTTPS_PROXY": "http://proxy.corp:3128", "METERR_UPSTREAM_PROXY": "http://egress:9000",
                "METERR_UPSTREAM_NO_PROXY": "a.corp", "NO_PROXY": "b.corp",
            ])
        #expect(own.upstreamHTTPSProxy == "http://egress:9000")
        #expect(own.upstreamHTTPProxy == "http://egress:9000")
        #expect(own.upstreamNoProxy == ["a.corp"])
        #expect {
            _ = try ServerConfiguration.load(file: nil, environment: ["HTTPS_PROXY": "https://user:hunter2@proxy"])
        } throws: { error in
            let message = (error as? MeterrError)?.message ?? ""
            return message.hasPrefix("HTTPS_PROXY") && !message.contains("hunter2")
        }
    }
}

/// An HTTP proxy on loopback: `CONNECT` tunnels, and plain requests in absolute form forwarded in
/// origin form; every host name leads to 127.0.0.1. It answers 407 to a wrong `Proxy-Authorization`
/// and records each request line with the credentials it carried.
final class LoopbackProxy: Sendable {
    let port: Int
    private let listener: Int32
    private let seen = Mutex<[String]>([])

    var requests: [String] { seen.withLock { $0 } }

    init(authorization: String) throws {
        let (listener, port) = try listenOnLoopback()
        self.listener = listener
        self.port = port
        Thread { [self] in
            while true {
                let connection = accept(listener, nil, nil)
                guard connection >= 0 else { return }
                Thread { self.serve(connection, authorization: authorization) }.start()
            }
        }.start()
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        _ = Glibc.close(listener)
    }

    private func serve(_ client: Int32, authorization: String) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        var headEnd: Int?
        while headEnd == nil {
            let count = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            guard count > 0 else {
                _ = Glibc.close(client)
                return
            }
            received += buffer[..<count]
            headEnd = received.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound
        }
        let head = String(decoding: received[..<headEnd!], as: UTF8.self)
        let rest = Array(received[headEnd!...])
        var lines = head.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let requestLine = lines.removeFirst()
        let presented = lines.first { $0.lowercased().hasPrefix("proxy-authorization:") }
            .map { String($0.dropFirst("proxy-authorization:".count)).trimmingCharacters(in: .whitespaces) }
        seen.withLock { $0.append(requestLine + " " + (presented ?? "-")) }
        guard presented == authorization else {
            Self.send(client, Array("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n".utf8))
            _ = Glibc.close(client)
            return
        }
        let parts = requestLine.split(separator: " ")
        let tunnel = parts[0] == "CONNECT"
        var target = tunnel ? Substring(parts[1]) : parts[1].dropFirst("http://".count)
        var path = "/"
        if !tunnel, let slash = target.firstIndex(of: "/") {
            path = String(target[slash...])
            target = target[..<slash]
        }
        guard let targetPort = target.split(separator: ":").last.flatMap({ Int($0) }),
            let upstream = Self.connect(port: targetPort)
        else {
            Self.send(client, Array("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n".utf8))
            _ = Glibc.close(client)
            return
        }
        if tunnel {
            Self.send(client, Array("HTTP/1.1 200 Connection established\r\n\r\n".utf8))
            Self.send(upstream, rest)
        } else {
            let forwarded = lines.filter { !$0.lowercased().hasPrefix("proxy-authorization:") }
            let origin = "\(parts[0]) \(path) \(parts[2])\r\n" + forwarded.joined(separator: "\r\n") + "\r\n\r\n"
            Self.send(upstream, Array(origin.utf8) + rest)
        }
        let back = DispatchSemaphore(value: 0)
        Thread {
            Self.pump(from: upstream, to: client)
            back.signal()
        }.start()
        Self.pump(from: client, to: upstream)
        back.wait()
        _ = Glibc.close(client)
        _ = Glibc.close(upstream)
    }

    private static func connect(port: Int) -> Int32? {
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        if connected { return upstream }
        _ = Glibc.close(upstream)
        return nil
    }

    private static func send(_ socket: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { return }
            offset += sent
        }
    }

    /// Copies bytes one way until the source closes, then closes the way out.
    private static func pump(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(source, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            send(destination, Array(buffer[..<count]))
        }
        shutdown(destination, Int32(SHUT_WR))
    }
}
