import AsyncHTTPClient
import Crypto
import Foundation
import MeterrTestSupport
import NIOSSL
import SwiftASN1
import Synchronization
import Testing
import X509

/// A private certificate authority and the leaf certificates it signs, as PEM files.
struct PrivateAuthority {
    let key = P256.Signing.PrivateKey()
    let name: DistinguishedName
    let certificate: Certificate
    let pemFile: String

    init(_ commonName: String, in directory: String) throws {
        name = try DistinguishedName { CommonName(commonName) }
        certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: Date() - 3600, notValidAfter: Date() + 86_400, issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true))
            },
            issuerPrivateKey: .init(key))
        pemFile = "\(directory)/\(commonName).pem"
        try certificate.serializeAsPEM().pemString.write(toFile: pemFile, atomically: true, encoding: .utf8)
    }

    /// Signs a certificate for localhost and 127.0.0.1 and writes it and its key to the two files.
    func issueServerCertificate(certificateFile: String, keyFile: String) throws {
        let leafKey = P256.Signing.PrivateKey()
        let leaf = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(leafKey.publicKey),
            notValidBefore: Date() - 3600, notValidAfter: Date() + 86_400, issuer: name,
            subject: try DistinguishedName { CommonName("localhost") }, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                SubjectAlternativeNames([
                    .dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                ])
                try ExtendedKeyUsage([.serverAuth])
            },
            issuerPrivateKey: .init(key))
        try leaf.serializeAsPEM().pemString.write(toFile: certificateFile, atomically: true, encoding: .utf8)
        try leafKey.pemRepresentation.write(toFile: keyFile, atomically: true, encoding: .utf8)
    }
}

/// Runs curl and returns its exit status and what it printed (standard output, then standard error).
/// Started with `posix_spawn` (`ChildProcess`): Foundation's `Process.run()` can crash in a test
/// process holding many descriptors.
func curl(_ arguments: [String]) async throws -> (status: Int32, output: String) {
    try await onOwnThread {
        let process = try ChildProcess(
            path: "/usr/bin/curl", arguments: ["--silent", "--show-error", "--max-time", "10"] + arguments,
            environment: ProcessInfo.processInfo.environment)
        // Standard error is read on another thread, so neither pipe can fill and stall curl.
        let errors = Mutex(Data())
        let done = DispatchSemaphore(value: 0)
        Thread {
            let data = ChildProcess.readAll(process.errorOutput)
            errors.withLock { $0 = data }
            done.signal()
        }.start()
        let output = ChildProcess.readAll(process.output)
        done.wait()
        let status = process.wait()
        return (status, String(decoding: output + errors.withLock { $0 }, as: UTF8.self))
    }
}

/// Waits until the log file has a line containing `text` (at most ten seconds).
func waitForLog(_ file: String, containing text: String, occurrences: Int = 1) async throws -> Bool {
    for _ in 0..<200 {
        let log = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        if log.components(separatedBy: text).count - 1 >= occurrences { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return false
}

@Suite("meterr serve over TLS")
struct ServeTLSTests {
    let directory = temporaryDirectory()

    init() throws { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }

    @Test("HTTPS with TLS 1.3 and HSTS for curl against a private authority; TLS 1.2 only when configured")
    func servesTLS() async throws {
        let authority = try PrivateAuthority("meterr-test-ca", in: directory)
        let (certificate, key) = ("\(directory)/server.pem", "\(directory)/server.key")
        try authority.issueServerCertificate(certificateFile: certificate, keyFile: key)
        let server = try await ServerProcess.start(
            dataDirectory: "\(directory)/data", arguments: ["--tls-cert", certificate, "--tls-key", key])
        #expect(server.firstLines.last == "meterr listening on https://127.0.0.1:\(server.port)")
        let url = "https://127.0.0.1:\(server.port)/healthz"

        let trusted = try await curl(["--cacert", authority.pemFile, "--include", url])
        #expect(trusted.status == 0)
        #expect(trusted.output.contains("HTTP/1.1 200"))
        #expect(trusted.output.lowercased().contains("strict-transport-security: max-age=31536000"))
        let verbose = try await curl(["--cacert", authority.pemFile, "--verbose", "--output", "/dev/null", url])
        #expect(verbose.output.contains("TLSv1.3"))

        // Not trusted without the authority; TLS 1.2 and plain HTTP are refused.
        #expect(try await curl([url]).status == 60)
        #expect(try await curl(["--cacert", authority.pemFile, "--tlsv1.2", "--tls-max", "1.2", url]).status != 0)
        #expect(try await curl(["http://127.0.0.1:\(server.port)/healthz"]).status != 0)
        #expect(await server.stop() == 0)

        // tls_min_version: 1.2 lets TLS 1.2 clients in.
        let config = "\(directory)/meterr.yaml"
        try "tls_cert: \(certificate)\ntls_key: \(key)\ntls_min_version: \"1.2\"\n".write(
            toFile: config, atomically: true, encoding: .utf8)
        let older = try await ServerProcess.start(dataDirectory: "\(directory)/data", arguments: ["--config", config])
        let tls12 = try await curl([
            "--cacert", authority.pemFile, "--tlsv1.2", "--tls-max", "1.2", "--verbose", "--output", "/dev/null",
            "https://127.0.0.1:\(older.port)/healthz",
        ])
        #expect(tls12.status == 0)
        #expect(tls12.output.contains("TLSv1.2"))
        #expect(await older.stop() == 0)
    }

    @Test("SIGHUP swaps the certificate for new connections, keeps open ones, and refuses a bad key in one line")
    func reloadsCertificate() async throws {
        let first = try PrivateAuthority("first-ca", in: directory)
        let second = try PrivateAuthority("second-ca", in: directory)
        let (certificate, key) = ("\(directory)/server.pem", "\(directory)/server.key")
        try first.issueServerCertificate(certificateFile: certificate, keyFile: key)
        let log = "\(directory)/serve.log"
        let server = try await ServerProcess.start(
            dataDirectory: "\(directory)/data", logFile: log, arguments: ["--tls-cert", certificate, "--tls-key", key])
        let url = "https://127.0.0.1:\(server.port)/healthz"

        func client(trusting authority: PrivateAuthority) throws -> HTTPClient {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(authority.pemFile)
            var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
            configuration.connectionPool = .init(idleTimeout: .seconds(60))
            return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        }
        func status(_ client: HTTPClient) async -> Int? {
            guard let response = try? await client.execute(HTTPClientRequest(url: url), timeout: .seconds(3)) else {
                return nil
            }
            _ = try? await response.body.collect(upTo: 1 << 16)
            return Int(response.status.code)
        }

        let early = try client(trusting: first)
        let late = try client(trusting: second)
        #expect(await status(early) == 200)
        #expect(await status(late) == nil)

        try second.issueServerCertificate(certificateFile: certificate, keyFile: key)
        server.send(SIGHUP)
        #expect(try await waitForLog(log, containing: "configuration reloaded"))
        // The open connection goes on with the first certificate (a new one would fail to verify)...
        #expect(await status(early) == 200)
        // ...and every new handshake gets the second.
        #expect(await status(late) == 200)
        let fresh = try client(trusting: first)
        #expect(await status(fresh) == nil)

        // A key that does not load is refused; the certificate in force stays.
        try "not a key".write(toFile: key, atomically: true, encoding: .utf8)
        server.send(SIGHUP)
        #expect(try await waitForLog(log, containing: "configuration reload refused"))
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.contains("holds no PEM private key"))
        let again = try client(trusting: second)
        #expect(await status(again) == 200)

        for client in [early, late, fresh, again] { try await client.shutdown() }
        #expect(await server.stop() == 0)
    }

    @Test("A certificate without its key, or a key that is not the certificate's, stops the start with one line")
    func refusesBadPairs() async throws {
        let authority = try PrivateAuthority("ca", in: directory)
        let (certificate, key) = ("\(directory)/server.pem", "\(directory)/server.key")
        try authority.issueServerCertificate(certificateFile: certificate, keyFile: key)
        let other = "\(directory)/other.key"
        try P256.Signing.PrivateKey().pemRepresentation.write(toFile: other, atomically: true, encoding: .utf8)

        let lonely = try await runMeterr([
            "serve", "--data", "\(directory)/data", "--port", "0", "--tls-cert", certificate,
        ])
        #expect(lonely.status == 1)
        #expect(lonely.errorOutput == "meterr: tls_cert is set but tls_key is not: give both\n")
        let mismatched = try await runMeterr([
            "serve", "--data", "\(directory)/data", "--port", "0", "--tls-cert", certificate, "--tls-key", other,
        ])
        #expect(mismatched.status == 1)
        #expect(
            mismatched.errorOutput
                == "meterr: the key in \(other) is not the key of the certificate in \(certificate)\n")
    }
}
