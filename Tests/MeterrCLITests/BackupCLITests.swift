import Foundation
import MeterrCore
import MeterrStore
import MeterrTestSupport
import Synchronization
import Testing

@Suite("meterr backup, as an operator runs it")
struct BackupCLITests {
    let directory = temporaryDirectory()

    init() throws { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }

    @Test("Backups of a serving, ingesting meterr restore every acknowledged event; damage fails verify in one line")
    func backupWhileServing() async throws {
        let data = "\(directory)/data"
        let backups = "\(directory)/backups"
        // backup_dir: meterr serve takes the first scheduled backup as it starts.
        let server = try await ServerProcess.start(dataDirectory: data, environment: ["METERR_BACKUP_DIR": backups])
        var scheduled: [String] = []
        for _ in 0..<100 where scheduled.isEmpty {
            scheduled = ((try? FileManager.default.contentsOfDirectory(atPath: backups)) ?? []).filter {
                $0.hasSuffix(".json")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(scheduled.count == 1)

        // Batches are acknowledged one after another while the backup runs.
        let acknowledged = Mutex(0)
        let ingest = Task {
            var batch = 0
            while !Task.isCancelled && batch < 400 {
                let (status, _) = try await server.post(
                    "/api/usage/events", eventBatch(prefix: "b\(batch)", count: 100))
                guard status == 200 else { break }
                batch += 1
                acknowledged.withLock { $0 = batch }
            }
        }
        while acknowledged.withLock({ $0 }) < 20 { try await Task.sleep(for: .milliseconds(10)) }
        let before = acknowledged.withLock { $0 }
        let now = try await runMeterr(["backup", "now", "--data", data, "--dir", backups])
        #expect(now.status == 0, "\(now.errorOutput)")
        ingest.cancel()
        _ = try? await ingest.value
        let name = try #require(now.output.split(separator: " ").first.map(String.init))
        #expect(name.hasPrefix("meterr-"))

        let list = try await runMeterr(["backup", "list", "--dir", backups])
        #expect(list.output.split(separator: "\n").count == 2)
        let verify = try await runMeterr(["backup", "verify", "--dir", backups])
        #expect(verify.status == 0)
        #expect(verify.output.split(separator: "\n").allSatisfy { $0.hasPrefix("ok meterr-") })

        // Restoring over the live directory is refused; into a new one it brings every acknowledged event.
        let refused = try await runMeterr(["backup", "restore", name, "--dir", backups, "--into", data])
        #expect(refused.status == 1)
        #expect(refused.errorOutput.hasPrefix("meterr: \(data) already holds a meterr database"))
        let restored = "\(directory)/restored"
        let restore = try await runMeterr(["backup", "restore", name, "--dir", backups, "--into", restored])
        #expect(restore.status == 0, "\(restore.errorOutput)")
        #expect(restore.output.hasPrefix("restored \(name) into \(restored): integrity ok"))
        let copy = try SQLiteStore(directory: restored, readOnly: true)
        let organisation = try #require(try await copy.organisations().first)
        for batch in [0, before / 2, before - 1] {
            let page = try await copy.events(
                org: organisation.id, filter: EventFilter(tags: ["run": "b\(batch)"]), limit: 1_000, cursor: nil)
            #expect(page.events.count == 100, "batch \(batch) acknowledged before the backup")
        }
        #expect(await server.stop() == 0)

        // A damaged backup fails verify with the reason on its line and a non-zero exit.
        let file = "\(backups)/\(name).sqlite.gz"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        bytes[bytes.count / 3] ^= 0x5A
        try bytes.write(to: URL(fileURLWithPath: file))
        let damaged = try await runMeterr(["backup", "verify", "--dir", backups])
        #expect(damaged.status == 1)
        #expect(damaged.output.contains("FAILED \(name): SHA-256 mismatch"))
        #expect(damaged.errorOutput == "meterr: 1 of 2 backups failed verification\n")
        let missing = try await runMeterr([
            "backup", "restore", "meterr-nope", "--dir", backups, "--into", "\(directory)/x",
        ])
        #expect(missing.status == 1)
        #expect(missing.errorOutput == "meterr: no backup named meterr-nope in \(backups)\n")
    }
}
