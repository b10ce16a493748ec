import Foundation
import GRDB
import Logging
import MeterrCore
import Synchronization
import Testing

@testable import MeterrStore

/// A store in a fresh directory with one organisation, and that directory.
func withOrganisationStore<T>(
    clock: WallClock = .system, _ body: (SQLiteStore, String, String) async throws -> T
) async throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meterr-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let store = try SQLiteStore(directory: directory, clock: clock)
    let org = try await store.bootstrap(adminKey: nil).organisation.id
    return try await body(store, org, directory)
}

func event(_ id: String, org: String, at time: String, user: String? = nil, cost: Int64 = 1_000) -> UsageEvent {
    UsageEvent(
        id: id, ts: Timestamp(rfc3339: time)!, org: org, team: "ml", user: user,
        tags: user.map { ["owner": $0] } ?? [:],
        provider: .openai, model: "gpt-4o", usage: Usage(inputTokens: 100, outputTokens: 10), cost: Money(nanos: cost))
}

@Suite("Backups, retention and forgetting, on the real database")
struct MaintenanceTests {
    @Test("Each backup joins the tiers whose slot it opens; pruning deletes exactly the backups no tier keeps")
    func tiersAndRetention() async throws {
        try await withOrganisationStore { store, org, directory in
            _ = try await store.append([event("a", org: org, at: "2026-01-20T10:00:00Z")])
            let archive = BackupArchive(directory: directory + "-backups")
            defer { try? FileManager.default.removeItem(atPath: archive.directory) }
            func take(_ time: String) async throws -> BackupManifest {
                try await archive.take(from: store, dataDirectory: directory, at: Timestamp(rfc3339: time)!)
            }
            // Saturday 31 January, 23:00 UTC: the first backup opens every slot.
            let first = try await take("2026-01-31T23:00:00Z")
            #expect(first.tiers == [.sixHourly, .daily, .weekly, .monthly])
            // Sunday 1 February, 01:00: a new six hours, day and month, but the same week (from Monday).
            let second = try await take("2026-02-01T01:00:00Z")
            #expect(second.tiers == [.sixHourly, .daily, .monthly])
            // 03:00: the same six hours; it is still a six-hourly backup.
            let third = try await take("2026-02-01T03:00:00Z")
            #expect(third.tiers == [.sixHourly])
            #expect(third.name != second.name)

            func names(_ now: String) throws -> [String] {
                _ = try archive.prune(at: Timestamp(rfc3339: now)!)
                return try archive.list().map(\.name)
            }
            // Seven days and 23 hours after the third: only its six-hourly tier, which keeps 7 days.
            #expect(try names("2026-02-08T23:00:00Z") == [first.name, second.name])
            // 30 days and one hour after the first: its day is over, its week keeps it; the second's day still does.
            #expect(try names("2026-03-03T00:00:00Z") == [first.name, second.name])
            // Past 90 days the week is over too; the month keeps both for 365.
            #expect(try names("2026-05-02T00:00:00Z") == [first.name, second.name])
            // 366 days after the first: gone; the second, an hour younger than 365 days, stays.
            #expect(try names("2027-02-01T00:30:00Z") == [second.name])
            #expect(try names("2027-02-01T01:00:00Z") == [])
            // Nothing but the manifests' own files was left behind.
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: archive.directory)
            #expect(leftovers == [])
        }
    }

    @Test("A backup taken during sustained ingest restores every event acknowledged before it began")
    func backupDuringIngest() async throws {
        try await withOrganisationStore { store, org, directory in
            let archive = BackupArchive(directory: directory + "-backups")
            defer { try? FileManager.default.removeItem(atPath: archive.directory) }
            let acknowledged = Mutex(0)
            let writer = Task {
                var batch = 0
                while !Task.isCancelled && batch < 2_000 {
                    let events = (0..<50).map { index in
                        event("e\(batch)-\(index)", org: org, at: "2026-11-\(10 + batch % 5)T12:00:00Z", cost: 7)
                    }
                    _ = try await store.append(events)
                    batch += 1
                    acknowledged.withLock { $0 = batch * 50 }
                }
            }
            while acknowledged.withLock({ $0 }) < 5_000 { try await Task.sleep(for: .milliseconds(5)) }
            let before = acknowledged.withLock { $0 }
            let manifest = try await archive.take(from: store, dataDirectory: directory, at: .now())
            let during = acknowledged.withLock { $0 }
            writer.cancel()
            _ = try? await writer.value
            #expect(during > before, "ingest went on while the backup ran")
            #expect(manifest.events >= Int64(before))

            let restored = directory + "-restored"
            defer { try? FileManager.default.removeItem(atPath: restored) }
            let check = try await archive.restore(manifest.name, into: restored)
            #expect(check.integrity == "ok")
            let copy = try SQLiteStore(directory: restored, readOnly: true)
            let ids = try await copy.pool.read { db in try Set(String.fetchAll(db, sql: "SELECT id FROM usage_events"))
            }
            #expect(ids.count == Int(manifest.events))
            // Every event acknowledged before the backup began is in it (batches are acknowledged in order).
            let missing = (0..<before / 50).flatMap { batch in (0..<50).map { "e\(batch)-\($0)" } }.filter {
                !ids.contains($0)
            }
            #expect(missing.isEmpty)
            // Rollups equal a recomputation from the restored events (verify checks each day).
            #expect(try BackupArchive.counts(ofDatabase: copy.path).rollupMismatch == nil)
            // A restore never goes over a database.
            await #expect(throws: MeterrError.self) { try await archive.restore(manifest.name, into: restored) }
        }
    }

    @Test("A corrupted or altered backup fails verify with a line that says why")
    func corruptedBackups() async throws {
        try await withOrganisationStore { store, org, directory in
            _ = try await store.append((0..<200).map { event("c\($0)", org: org, at: "2026-11-10T12:00:00Z") })
            let archive = BackupArchive(directory: directory + "-backups")
            defer { try? FileManager.default.removeItem(atPath: archive.directory) }
            let manifest = try await archive.take(from: store, dataDirectory: directory, at: .now())
            #expect(try await archive.verify(manifest.name).manifest.events == 200)

            let file = archive.path(manifest.file)
            var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
            bytes[bytes.count / 2] ^= 0xFF
            try bytes.write(to: URL(fileURLWithPath: file))
            await #expect(throws: MeterrError.self) { try await archive.verify(manifest.name) }
            do {
                _ = try await archive.verify(manifest.name)
            } catch let error as MeterrError {
                #expect(error.message.contains("SHA-256 mismatch"))
            }

            // A backup whose checksum was forged to match its damage still fails: it does not decompress.
            var forged = manifest
            forged.sha256 = try Gzip.sha256(of: file)
            try archive.write(forged)
            do {
                _ = try await archive.verify(manifest.name)
                Issue.record("a damaged backup passed")
            } catch let error as MeterrError {
                #expect(error.message.contains("gzip") || error.message.contains("integrity"))
            }
        }
    }

    @Test("Retention removes whole days of raw events per organisation in batches; rollups and totals stay")
    func retention() async throws {
        let now = Timestamp(rfc3339: "2026-12-04T15:00:00Z")!
        try await withOrganisationStore(clock: WallClock { now }) { store, org, directory in
            let (other, _) = try await store.createOrganisation(name: "other", actor: "test")
            var events: [UsageEvent] = []
            for day in 1...30 {
                let date = "2026-11-\(String(format: "%02d", day))T08:00:00Z"
                for index in 0..<5 {
                    events.append(event("a\(day)-\(index)", org: org, at: date))
                    events.append(event("b\(day)-\(index)", org: other.id, at: date))
                }
            }
            _ = try await store.append(events)
            let range = (Timestamp(rfc3339: "2026-11-01T00:00:00Z")!, now)
            let totalsBefore = try await store.summary(org: org, groupBy: .none, from: range.0, to: range.1).totals
            var policy = try await store.policy(org: org)
            policy.eventRetentionDays = 10
            try await store.setPolicy(org: org, policy, actor: "test")

            let retention = EventRetention(
                store: store, defaultDays: nil, clock: WallClock { now }, logger: Logger(label: "test"), batch: 7)
            let removed = try await retention.sweep()
            // 10 days back from the start of 4 December: 24 November; the 23 days before it go.
            #expect(removed[org] == 23 * 5)
            #expect((removed[other.id] ?? 0) == 0)
            let left = try await store.pool.read { db in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM usage_events WHERE org = ?", arguments: [org])
            }
            #expect(left == 7 * 5)
            let oldest = try await store.pool.read { db in
                try Int64.fetchOne(db, sql: "SELECT MIN(ts) FROM usage_events WHERE org = ?", arguments: [org])
            }
            #expect(oldest == Timestamp(rfc3339: "2026-11-24T08:00:00Z")!.milliseconds)
            // The month's totals come from the rollups, which keep the removed days.
            let totalsAfter = try await store.summary(org: org, groupBy: .none, from: range.0, to: range.1).totals
            #expect(totalsAfter == totalsBefore)
            #expect(try BackupArchive.counts(ofDatabase: store.path).rollupMismatch == nil)
            // The server's default covers organisations without a policy; a second sweep finds nothing.
            let defaulted = EventRetention(
                store: store, defaultDays: 20, clock: WallClock { now }, logger: Logger(label: "test"), batch: 1_000)
            let second = try await defaulted.sweep()
            #expect(second[org] == 0)
            #expect(second[other.id] == 13 * 5)
            let audit = try await store.audit(org: org, limit: 10)
            #expect(audit.contains { $0.action == "events.expire" && $0.detail?.contains("115 events") == true })
        }
    }

    @Test("Forgetting a person keeps every total, replaces them everywhere, and leaves no trace in the file")
    func forget() async throws {
        try await withOrganisationStore { store, org, directory in
            let email = "ada.lovelace@example.com"
            let person = try await store.createUser(
                org: org, email: email, name: "Ada Lovelace-Byron", role: .member, team: nil, passwordHash: nil,
                actor: "test")
            _ = try await store.createKey(
                org: org, KeyRequest(name: "ada-key", scopes: .ingest, user: email), actor: "test")
            var events = (0..<40).map { event("f\($0)", org: org, at: "2026-11-10T12:00:00Z", user: email, cost: 3) }
            events += (0..<10).map { event("g\($0)", org: org, at: "2026-11-11T12:00:00Z", user: person.id, cost: 5) }
            events += (0..<10).map { event("h\($0)", org: org, at: "2026-11-11T12:00:00Z", user: "grace", cost: 11) }
            _ = try await store.append(events)
            let range = (Timestamp(rfc3339: "2026-11-01T00:00:00Z")!, Timestamp(rfc3339: "2026-12-01T00:00:00Z")!)
            let before = try await store.summary(org: org, groupBy: .user, from: range.0, to: range.1)

            let export = try await store.exportPerson(org: org, person: email, actor: "test")
            let exported = try JSONSerialization.jsonObject(with: Data(export)) as? [String: Any]
            #expect((exported?["events"] as? [Any])?.count == 50)
            #expect((exported?["keys"] as? [Any])?.count == 1)
            #expect((exported?["account"] as? [String: Any])?["email"] as? String == email)

            let result = try await store.forgetPerson(org: org, person: email, actor: "test")
            #expect(result.accountDeleted && result.events == 50 && result.keys == 1)
            let after = try await store.summary(org: org, groupBy: .user, from: range.0, to: range.1)
            #expect(after.totals == before.totals)
            let groups = Dictionary(uniqueKeysWithValues: after.groups.map { ($0.value ?? "", $0.totals) })
            #expect(Set(groups.keys) == [result.token, "grace"])
            #expect(groups[result.token]?.requests == 50)
            #expect(groups[result.token]?.cost == Money(nanos: 40 * 3 + 10 * 5))

            // Not in any table, not in the database file or its write-ahead log.
            for needle in [email, person.id, "Ada Lovelace-Byron"] {
                for suffix in ["", "-wal"] {
                    let data = (try? Data(contentsOf: URL(fileURLWithPath: store.path + suffix))) ?? Data()
                    #expect(data.range(of: Data(needle.utf8)) == nil, "\(needle) in meterr.sqlite\(suffix)")
                }
            }
            await #expect(throws: MeterrError.self) {
                try await store.forgetPerson(org: org, person: email, actor: "t")
            }
            await #expect(throws: MeterrError.self) {
                try await store.exportPerson(org: org, person: email, actor: "t")
            }
            let audit = try await store.audit(org: org, limit: 20)
            #expect(audit.contains { $0.action == "user.forget" && $0.target == result.token })
        }
    }
}
