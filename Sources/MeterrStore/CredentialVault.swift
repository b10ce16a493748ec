import Crypto
import Foundation
import MeterrCore

/// Seals provider credentials with AES-256-GCM under the installation's master key, so a copied
/// database file yields no provider key.
///
/// The master key comes from `METERR_MASTER_KEY` (32 bytes, base64 or hex) or from `master.key` in
/// the data directory, created with mode 0600 on first use. Each sealed value records the key's
/// fingerprint, so a wrong master key is reported, not mistaken for garbage.
public struct CredentialVault: Sendable {
    // Kept as bytes: SymmetricKey is not Sendable; making one per use costs nothing that matters.
    let keyBytes: [UInt8]
    var key: SymmetricKey { SymmetricKey(data: keyBytes) }
    /// The first 16 hex digits of the key's SHA-256: which key sealed a value.
    public let fingerprint: String

    /// A vault over a 32-byte key.
    public init(keyBytes: [UInt8]) throws {
        guard keyBytes.count == 32 else {
            throw MeterrError(.configuration, "the master key must be 32 bytes (base64 or 64 hex digits)")
        }
        self.keyBytes = keyBytes
        fingerprint = SHA256.hash(data: keyBytes).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    /// Parses a key written as base64 or hex.
    public static func parseKey(_ text: String) throws -> [UInt8] {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.count == 64, trimmed.allSatisfy(\.isHexDigit) {
            var bytes: [UInt8] = []
            var index = trimmed.startIndex
            while index < trimmed.endIndex {
                let next = trimmed.index(index, offsetBy: 2)
                bytes.append(UInt8(trimmed[index..<next], radix: 16)!)
                index = next
            }
            return bytes
        }
        guard let data = Data(base64Encoded: trimmed), data.count == 32 else {
            throw MeterrError(.configuration, "the master key must be 32 bytes, as base64 or 64 hex digits")
        }
        return Array(data)
    }

    /// A new random key, as base64.
    public static func generateKeyText() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<4).flatMap { _ in withUnsafeBytes(of: generator.next()) { Array($0) } }
        return Data(bytes).base64EncodedString()
    }

    /// The vault of `masterKey` (from `METERR_MASTER_KEY`), or of `master.key` in `directory`
    /// (created 0600 if absent).
    public static func load(masterKey: String?, directory: String) throws -> CredentialVault {
        if let text = masterKey, !text.isEmpty {
            return try CredentialVault(keyBytes: parseKey(text))
        }
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = keyPath(directory)
        if !FileManager.default.fileExists(atPath: path) {
            try writeKeyFile(generateKeyText(), to: path)
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw MeterrError(.configuration, "cannot read the master key \(path)")
        }
        return try CredentialVault(keyBytes: parseKey(text))
    }

    /// Where the key file lives.
    public static func keyPath(_ directory: String) -> String {
        (directory as NSString).appendingPathComponent("master.key")
    }

    /// Writes a key file readable by its owner only, atomically.
    public static func writeKeyFile(_ text: String, to path: String) throws {
        let temporary = path + ".tmp"
        FileManager.default.createFile(
            atPath: temporary, contents: Data((text + "\n").utf8), attributes: [.posixPermissions: 0o600])
        guard rename(temporary, path) == 0 else {
            throw MeterrError(.configuration, "cannot write the master key \(path)")
        }
    }

    /// Seals a secret: nonce, ciphertext and tag in one blob.
    public func seal(_ secret: String) throws -> [UInt8] {
        do {
            return Array(try AES.GCM.seal(Array(secret.utf8), using: key).combined!)
        } catch {
            throw MeterrError(.internal, "sealing a credential failed")
        }
    }

    /// Opens a sealed secret.
    public func open(_ sealed: [UInt8]) throws -> String {
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            return String(decoding: try AES.GCM.open(box, using: key), as: UTF8.self)
        } catch {
            throw MeterrError(.configuration, "a stored credential does not open with this master key")
        }
    }

    /// A secret as it may be shown: `sk-…x7Qa`.
    public static func mask(_ secret: String) -> String {
        guard secret.count > 10 else { return "…" }
        return String(secret.prefix(3)) + "…" + String(secret.suffix(4))
    }
}
