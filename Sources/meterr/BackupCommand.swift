import ArgumentParser
import Foundation
import MeterrCore
import MeterrStore

/// The backup directory option shared by the backup commands.
struct BackupDirectoryOptions: ParsableArguments {
    @Option(name: .long, help: "The backup directory (default: $METERR_BACKUP_DIR or ./meterr-backups).")
    var dir: String?

    var archive: BackupArchive {
        BackupArchive(directory: dir ?? ProcessInfo.processInfo.environment["METERR_BACKUP_DIR"] ?? "./meterr-backups")
    }
}

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup", abstract: "Back the database up, list, verify and restore backups.",
        discussion: """
            Backups are consistent while meterr serves and ingests (SQLite's online backup API), gzip-compressed, \
            with a SHA-256 manifest. Each is kept by the tiers it belongs to: every 6 hours for 7 days, the \
            first of each day for 30, of each week for 90, of each month for 365. `meterr serve` takes them on \
            that schedule when backup_dir is configured. master.key is never copied: keep it apart.
            """,
        subcommands: [Now.self, List.self, Verify.self, Restore.self])

    struct Now: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Back the database up now, then delete the backups no tier keeps any longer.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var backups: BackupDirectoryOptions
        var data: DataOptions { database.data }

        func run() async throws {
            guard database.url == nil else {
                throw CLIError("backup is for the embedded database; back PostgreSQL up with pg_dump")
            }
            let store = try SQLiteStore(directory: data.directory, readOnly: true, clock: Meterr.clock)
            let archive = backups.archive
            let before = Set(try archive.list().map(\.name))
            let manifest = try await archive.take(from: store, dataDirectory: data.directory, at: Meterr.clock.now())
            print(BackupCommand.line(manifest))
            for name in before.subtracting(try archive.list().map(\.name)).sorted() {
                print("deleted \(name): no tier keeps it")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the backups, oldest first.")
        @OptionGroup var backups: BackupDirectoryOptions

        func run() async throws {
            for manifest in try backups.archive.list() { print(BackupCommand.line(manifest)) }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check backups whole: checksum, integrity_check, counts, rollups against events.",
            discussion: "Exits 1 when any backup fails, with one line saying why.")
        @OptionGroup var backups: BackupDirectoryOptions
        @Argument(help: "The backups to check (default: every one).") var names: [String] = []

        func run() async throws {
            let archive = backups.archive
            let names = names.isEmpty ? try archive.list().map(\.name) : names
            guard !names.isEmpty else { throw CLIError("no backups in \(archive.directory)") }
            var failed = 0
            for name in names {
                do {
                    let check = try await archive.verify(name)
                    print("ok \(check.manifest.name): integrity ok, \(check.manifest.events) events")
                } catch let error as MeterrError {
                    failed += 1
                    print("FAILED \(error.message)")
                }
            }
            if failed > 0 { throw CLIError("\(failed) of \(names.count) backups failed verification") }
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a backup and restore it into a new data directory.",
            discussion: """
                The directory must hold no meterr database: restore beside the live one, stop meterr, swap the \
                directories, and bring master.key (or METERR_MASTER_KEY) along for the provider credentials.
                """)
        @OptionGroup var backups: BackupDirectoryOptions
        @Argument(help: "The backup's name (from `meterr backup list`).") var name: String
        @Option(name: .long, help: "The data directory to restore into.") var into: String

        func run() async throws {
            let check = try await backups.archive.restore(name, into: into)
            print("restored \(check.manifest.name) into \(into): integrity ok, \(check.manifest.events) events")
            let organisations = check.manifest.organisations.sorted { $0.key < $1.key }
            for (org, totals) in organisations {
                print("  \(org): \(totals.events) events, \(Money(nanos: totals.costNanos).decimalString) USD")
            }
        }
    }

    static func line(_ manifest: BackupManifest) -> String {
        let tiers = manifest.tiers.map(\.rawValue).joined(separator: ",")
        return "\(manifest.name)  \(manifest.createdAt.rfc3339)  \(tiers)  \(manifest.bytes) bytes  "
            + "\(manifest.events) events  sha256 \(manifest.sha256.prefix(16))"
    }
}
