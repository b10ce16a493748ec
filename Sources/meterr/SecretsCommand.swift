import ArgumentParser
import Foundation
import MeterrCore
import MeterrStore

struct SecretsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secrets", abstract: "Manage the master key that seals provider credentials.",
        subcommands: [RotateMaster.self])

    struct RotateMaster: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-master",
            abstract: "Re-seal every stored provider credential under a new master key.",
            discussion: """
                With master.key in the data directory, a new key replaces it. With METERR_MASTER_KEY, give the \
                new key in METERR_NEW_MASTER_KEY, then set METERR_MASTER_KEY to it. Stop the server first. On \
                PostgreSQL (--database-url) the key is always METERR_MASTER_KEY: stop every node.
                """)
        @OptionGroup var database: DatabaseOptions
        var data: DataOptions { database.data }

        func run() async throws {
            let environment = ProcessInfo.processInfo.environment
            if database.url != nil, (environment["METERR_MASTER_KEY"] ?? "").isEmpty {
                throw CLIError(
                    "on PostgreSQL the master key is METERR_MASTER_KEY, as meterr serve --database-url takes it: "
                        + "set it, and the new key in METERR_NEW_MASTER_KEY")
            }
            let store = try await database.open()
            let old = try CredentialVault.load(masterKey: environment["METERR_MASTER_KEY"], directory: data.directory)
            if let text = environment["METERR_MASTER_KEY"], !text.isEmpty {
                guard let newText = environment["METERR_NEW_MASTER_KEY"], !newText.isEmpty else {
                    throw CLIError("METERR_MASTER_KEY is set: give the new key in METERR_NEW_MASTER_KEY")
                }
                let new = try CredentialVault(keyBytes: CredentialVault.parseKey(newText))
                let count = try await store.resealCredentials(from: old, to: new)
                print("re-sealed \(count) credentials; now set METERR_MASTER_KEY to the new key")
                return
            }
            // File mode: the new key is written beside the old one before the database changes, and
            // takes its place after; a run cut short is finished by the next.
            let path = CredentialVault.keyPath(data.directory)
            let next = path + ".next"
            let newText: String
            if let pending = try? String(contentsOfFile: next, encoding: .utf8) {
                newText = pending
            } else {
                newText = CredentialVault.generateKeyText()
                try CredentialVault.writeKeyFile(newText, to: next)
            }
            let new = try CredentialVault(keyBytes: CredentialVault.parseKey(newText))
            let sealedWith = try await store.credentialFingerprints()
            let count = sealedWith == [new.fingerprint] ? 0 : try await store.resealCredentials(from: old, to: new)
            guard rename(next, path) == 0 else { throw CLIError("cannot replace \(path)") }
            print("re-sealed \(count) credentials under a new master key (\(new.fingerprint))")
        }
    }
}
