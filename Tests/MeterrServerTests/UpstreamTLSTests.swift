import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTLS
import Logging
import MeterrCore
import MeterrServer
import NIOCore
import NIOSSL
import Testing
import X509

/// The gateway's client over TLS, against a real TLS server on loopback with its own authority.
@Suite("The gateway over https")
struct UpstreamTLSTests {
    /// A self-signed authority for `host`, its PEM file, and a TLS provider on loopback that
    /// answers every post with a chat completion.
    static func tlsProvider(host: String = "localhost") async throws -> (
        Task<Void, any Error>, port: Int, caFile: String
    ) {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(host) }
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: Date() - 3600, notValidAfter: Date() + 3600, issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                SubjectAlternativeNames([.dnsName(host)])
            },
            issuerPrivateKey: .init(key))
        let pem = try certificate.serializeAsPEM().pemString
        let caFile = FileManager.default.temporaryDirectory.appendingPathComponent("ca-\(UUID().uuidString).pem").path
        try pem.write(toFile: caFile, atomically: true, encoding: .utf8)

        let router = Router()
        router.post("**") { _, _ -> Response in
            let answer =
                #"{"id":"chatcmpl-tls","object":"chat.completion","model":"gpt-4.1-2025-04-14","choices":[],"#
                + #""usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}"#
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: answer)))
        }
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(pem.utf8), format: .pem))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem)))
        let listening = AsyncStream<Int>.makeStream()
        var logger = Logger(label: "tls-provider")
        logger.logLevel = .critical
        let app = Application(
            router: router, server: try .tls(tlsConfiguration: tls),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in listening.continuation.yield(channel.localAddress?.port ?? 0) },
            logger: logger)
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var port = 0
        for await value in listening.stream {
            port = value
            break
        }
        return (task, port, caFile)
    }

    @Test("An https upstream signed by upstream_ca_file is called, metered and priced; without it, a 502")
    func privateAuthority() async throws {
        let (provider, port, caFile) = try await Self.tlsProvider()
        defer {
            provider.cancel()
            try? FileManager.default.removeItem(atPath: caFile)
        }
        let body = #"{"model":"gpt-4.1","messages":[{"role":"user","content":"Say hello"}]}"#
        for trusted in [true, false] {
            try await withGateway(configure: { configuration, _ in
                configuration.upstreams[.openai] = .init(baseURL: "https://localhost:\(port)", apiKey: "sk-tls")
                if trusted { configuration.upstreamCAFile = caFile }
            }) { client, _ in
                let response = try await client.call(
                    "/openai/v1/chat/completions", body, headers: [.authorization: "Bearer \(adminKey)"])
                let requestId = try #require(response.headers[.init("x-meterr-request-id")!])
                let event = try #require(try await client.event(requestId))
                if trusted {
                    #expect(response.status == .ok)
                    #expect(response.headers[.init("x-meterr-cost-usd")!] == "0.000060000")
                    #expect(event["input_tokens"] as? Int == 10)
                    #expect(event["output_tokens"] as? Int == 5)
                } else {
                    // An unknown authority: the call never reaches the provider.
                    #expect(response.status == .badGateway)
                    #expect(event["status"] as? Int == 502)
                }
            }
        }
    }

    @Test("An upstream_ca_file that is not PEM stops meterr at start with the setting named")
    func unusableAuthorityFile() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ca-\(UUID().uuidString).pem").path
        try "not a certificate".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        var configuration = ServerConfiguration()
        configuration.dataDirectory =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("meterr-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: configuration.dataDirectory) }
        configuration.upstreamCAFile = file
        await #expect { _ = try await buildApplication(configuration) } throws: { error in
            (error as? MeterrError)?.message.contains("upstream_ca_file") == true
        }
    }
}
