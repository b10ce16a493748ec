import Foundation
import MeterrCore
import NIOSSL
import Synchronization

/// The certificate and key meterr serves HTTPS with, swapped in place on SIGHUP: each new handshake
/// takes the pair in force when it starts, and open connections keep theirs, so none is dropped.
public final class ServingCertificate: Sendable {
    /// What `tls_min_version` allows: TLS 1.3 unless 1.2 is asked for.
    public enum MinimumVersion: String, Sendable {
        case tls12 = "1.2"
        case tls13 = "1.3"

        var nio: TLSVersion { self == .tls12 ? .tlsv12 : .tlsv13 }
    }

    struct Pair: @unchecked Sendable {
        // NIOSSL's certificate and key types are immutable once loaded.
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
    }

    let certificateFile: String
    let keyFile: String
    let minimumVersion: MinimumVersion
    private let current: Mutex<Pair>

    /// Loads the pair; throws a configuration error that names the file at fault.
    public init(certificateFile: String, keyFile: String, minimumVersion: MinimumVersion) throws {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.minimumVersion = minimumVersion
        current = Mutex(try Self.load(certificateFile: certificateFile, keyFile: keyFile))
    }

    /// Reads the files again and serves the new pair from the next handshake on; on any error the
    /// pair in force stays and the error says why.
    public func reload() throws {
        let pair = try Self.load(certificateFile: certificateFile, keyFile: keyFile)
        current.withLock { $0 = pair }
    }

    /// The server configuration: the pair is chosen per handshake, never fixed at start.
    var configuration: TLSConfiguration {
        let pair = current.withLock { $0 }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: pair.chain.map { .certificate($0) }, privateKey: .privateKey(pair.key))
        configuration.minimumTLSVersion = minimumVersion.nio
        configuration.applicationProtocols = ["http/1.1"]
        configuration.sslContextCallback = { [self] _, promise in
            let pair = current.withLock { $0 }
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = pair.chain.map { .certificate($0) }
            override.privateKey = .privateKey(pair.key)
            promise.succeed(override)
        }
        return configuration
    }

    static func load(certificateFile: String, keyFile: String) throws -> Pair {
        func read(_ path: String, _ what: String) throws -> [UInt8] {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw MeterrError(.configuration, "cannot read the TLS \(what) file \(path)")
            }
            return Array(data)
        }
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(read(certificateFile, "certificate"))
        } catch let error as MeterrError {
            throw error
        } catch {
            throw MeterrError(.configuration, "\(certificateFile) holds no PEM certificate")
        }
        guard !chain.isEmpty else { throw MeterrError(.configuration, "\(certificateFile) holds no PEM certificate") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(bytes: read(keyFile, "key"), format: .pem)
        } catch let error as MeterrError {
            throw error
        } catch {
            throw MeterrError(.configuration, "\(keyFile) holds no PEM private key (an encrypted key is not read)")
        }
        // A context checks that the key is the certificate's.
        do {
            _ = try NIOSSLContext(
                configuration: .makeServerConfiguration(
                    certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key)))
        } catch {
            throw MeterrError(
                .configuration, "the key in \(keyFile) is not the key of the certificate in \(certificateFile)")
        }
        return Pair(chain: chain, key: key)
    }
}
