import Dispatch
import Foundation
import GRDB
import MeterrCore

/// A directory of backups of one meterr database: each is the database as SQLite's online backup
/// API copied it inside one read transaction (a consistent snapshot while meterr serves and
/// ingests), gzip-compressed, with a manifest of its SHA-256, schema and counts.
///
/// The data directory's `master.key` is never copied: a backup that leaks must not open the provider
/// credentials sealed in it. Keep the key (or `METERR_MASTER_KEY`) in a secret store.
public struct BackupArchive: Sendable {
    /// Where the backups are.
    public let directory: String

    public init(directory: String) { self.directory = directory }

    /// What `verify` found in a sound backup.
    public struct Check: Sendable {
        public var manifest: BackupManifest
        /// SQLite's `integrity_check` answer: `ok`.
        public var integrity: String
    }

    // MARK: Taking

    /// Backs the store up now and applies the schedule's retention; returns the new backup's manifest.
    public func take(from store: SQLiteStore, dataDirectory: String, at now: Timestamp) async throws -> BackupManifest {
        try await Self.offThread { try takeBlocking(from: store, dataDirectory: dataDirectory, at: now) }
    }

    func takeBlocking(from store: SQLiteStore, dataDirectory: String, at now: Timestamp) throws -> BackupManifest {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw MeterrError(.storage, "cannot create the backup directory \(directory)", underlying: error)
        }
        removeUnfinished()
        let existing = try list()
        var name = "meterr-" + Self.compact(now)
        var suffix = 2
        while existing.contains(where: { $0.name == name })
            || FileManager.default.fileExists(atPath: path(name + ".json"))
        {
            name = "meterr-" + Self.compact(now) + "-\(suffix)"
            suffix += 1
        }
        let copy = path(".\(name).sqlite.partial")
        defer { Self.removeDatabase(copy) }
        do {
            let destination = try DatabaseQueue(path: copy)
            try store.pool.backup(to: destination)
            try destination.close()
        } catch {
            throw MeterrError(.storage, "the online backup of \(store.path) failed", underlying: error)
        }
        let counts = try Self.counts(ofDatabase: copy)
        let file = name + ".sqlite.gz"
        let partial = path(".\(file).partial")
        defer { try? FileManager.default.removeItem(atPath: partial) }
        let (sha256, bytes) = try Gzip.compress(copy, to: partial)
        try FileManager.default.moveItem(atPath: partial, toPath: path(file))

        var manifest = BackupManifest(
            name: name, createdAt: now, tiers: BackupTier.tiers(at: now, existing: existing), file: file, bytes: bytes,
            sha256: sha256, databaseBytes: Self.size(of: copy), schema: counts.schema, tables: counts.tables,
            organisations: counts.organisations)
        let prices = (dataDirectory as NSString).appendingPathComponent("prices.json")
        if FileManager.default.fileExists(atPath: prices) {
            manifest.pricesFile = name + ".prices.json"
            try FileManager.default.copyItem(atPath: prices, toPath: path(manifest.pricesFile!))
            manifest.pricesSHA256 = try Gzip.sha256(of: path(manifest.pricesFile!))
        }
        try write(manifest)
        _ = try prune(at: now)
        return manifest
    }

    // MARK: Listing and retention

    /// The finished backups, oldest first.
    public func list() throws -> [BackupManifest] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        let decoder = JSONDecoder()
        return names.filter { $0.hasPrefix("meterr-") && $0.hasSuffix(".json") && !$0.hasSuffix(".prices.json") }
            .compactMap { name in
                FileManager.default.contents(atPath: path(name)).flatMap {
                    try? decoder.decode(BackupManifest.self, from: $0)
                }
            }
            .sorted { ($0.createdAt, $0.name) < ($1.createdAt, $1.name) }
    }

    /// The backup of that name, or a clear error.
    public func manifest(named name: String) throws -> BackupManifest {
        let name = name.hasSuffix(".json") ? String(name.dropLast(5)) : name
        guard let data = FileManager.default.contents(atPath: path(name + ".json")) else {
            throw MeterrError(.notFound, "no backup named \(name) in \(directory)")
        }
        do {
            return try JSONDecoder().decode(BackupManifest.self, from: data)
        } catch {
            throw MeterrError(.storage, "the manifest \(name).json is not readable: \(error)")
        }
    }

    /// Deletes the backups no tier keeps any longer at `now`; returns them.
    public func prune(at now: Timestamp) throws -> [BackupManifest] {
        let expired = try list().filter { !BackupTier.keeps($0, at: now) }
        for manifest in expired {
            // The manifest goes first: a backup is either listed and whole, or gone.
            try FileManager.default.removeItem(atPath: path(manifest.name + ".json"))
            try? FileManager.default.removeItem(atPath: path(manifest.file))
            if let prices = manifest.pricesFile { try? FileManager.default.removeItem(atPath: path(prices)) }
        }
        return expired
    }

    // MARK: Verifying and restoring

    /// Checks a backup whole: its checksum, that it decompresses, SQLite's integrity check, the counts
    /// of its manifest, and that its rollups agree with its events. Throws with the first fault.
    public func verify(_ name: String) async throws -> Check {
        try await Self.offThread {
            let scratch = path(".verify-\(UUID().uuidString).sqlite")
            defer { Self.removeDatabase(scratch) }
            return try verifyBlocking(name, into: scratch)
        }
    }

    func verifyBlocking(_ name: String, into database: String) throws -> Check {
        let manifest = try manifest(named: name)
        let file = path(manifest.file)
        guard FileManager.default.fileExists(atPath: file) else {
            throw MeterrError(.storage, "\(manifest.name): its database file \(manifest.file) is missing")
        }
        guard try Gzip.sha256(of: file) == manifest.sha256 else {
            throw MeterrError(
                .storage, "\(manifest.name): SHA-256 mismatch, \(manifest.file) changed after it was written")
        }
        if let prices = manifest.pricesFile, try Gzip.sha256(of: path(prices)) != manifest.pricesSHA256 {
            throw MeterrError(.storage, "\(manifest.name): SHA-256 mismatch, \(prices) changed after it was written")
        }
        try Gzip.decompress(file, to: database)
        let integrity: String
        do {
            let queue = try DatabaseQueue(path: database, configuration: Self.readOnly)
            integrity = try queue.read { db in
                try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ")
            }
            try queue.close()
        } catch {
            throw MeterrError(.storage, "\(manifest.name): the database does not open: \(error)")
        }
        guard integrity == "ok" else { throw MeterrError(.storage, "\(manifest.name): integrity_check: \(integrity)") }
        let counts = try Self.counts(ofDatabase: database)
        guard counts.tables == manifest.tables, counts.organisations == manifest.organisations else {
            throw MeterrError(.storage, "\(manifest.name): its counts differ from its manifest")
        }
        if let day = counts.rollupMismatch {
            throw MeterrError(.storage, "\(manifest.name): the day rollups disagree with the events (\(day))")
        }
        return Check(manifest: manifest, integrity: integrity)
    }

    /// Verifies a backup and restores it into `dataDirectory`, which must hold no meterr database
    /// (restoring over a live one would pull it from under its server): restore beside it, stop
    /// meterr, swap the directories.
    public func restore(_ name: String, into dataDirectory: String) async throws -> Check {
        let target = (dataDirectory as NSString).appendingPathComponent("meterr.sqlite")
        for existing in [target, target + "-wal"] where FileManager.default.fileExists(atPath: existing) {
            throw MeterrError(
                .conflict,
                "\(dataDirectory) already holds a meterr database: restore into a new directory, then stop meterr and swap them"
            )
        }
        return try await Self.offThread {
            do {
                try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
            } catch {
                throw MeterrError(.storage, "cannot create \(dataDirectory)", underlying: error)
            }
            let partial = target + ".restoring"
            defer { Self.removeDatabase(partial) }
            let check = try verifyBlocking(name, into: partial)
            if let prices = check.manifest.pricesFile {
                let destination = (dataDirectory as NSString).appendingPathComponent("prices.json")
                try? FileManager.default.removeItem(atPath: destination)
                try FileManager.default.copyItem(atPath: path(prices), toPath: destination)
            }
            try FileManager.default.moveItem(atPath: partial, toPath: target)
            return check
        }
    }

    // MARK: Helpers

    struct Counts {
        var schema: String
        var tables: [String: Int64]
        var organisations: [String: BackupManifest.OrganisationTotals]
        /// The first organisation and day whose day rollup disagrees with its events, if any.
        var rollupMismatch: String?
    }

    static var readOnly: Configuration {
        var configuration = Configuration()
        configuration.readonly = true
        return configuration
    }

    static func counts(ofDatabase path: String) throws -> Counts {
        let queue = try DatabaseQueue(path: path, configuration: readOnly)
        defer { try? queue.close() }
        return try queue.read { db in
            let schema =
                try String.fetchOne(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid DESC LIMIT 1") ?? ""
            var tables: [String: Int64] = [:]
            let names = try String.fetchAll(
                db,
                sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            for name in names {
                tables[name] = try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM \"\(name)\"") ?? 0
            }
            var organisations: [String: BackupManifest.OrganisationTotals] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT org, COUNT(*) AS n, COALESCE(SUM(cost_nanos), 0) AS c FROM usage_events GROUP BY org")
            {
                organisations[row["org"]] = .init(events: row["n"], costNanos: row["c"])
            }
            // Every day that still has events must have a day rollup equal to them (retention drops
            // whole days of events and keeps their rollups).
            let mismatch = try Row.fetchOne(
                db,
                sql: """
                    SELECT e.org, e.day FROM
                      (SELECT org, ts - ts % 86400000 AS day, COUNT(*) AS n, COALESCE(SUM(cost_nanos), 0) AS c
                         FROM usage_events GROUP BY org, day) e
                    LEFT JOIN usage_rollups r
                      ON r.org = e.org AND r.grain = 1 AND r.dim = 0 AND r.bucket = e.day AND r.value = ''
                    WHERE r.requests IS NOT e.n OR r.cost_nanos IS NOT e.c LIMIT 1
                    """
            ).map { row -> String in
                let day: Int64 = row["day"]
                return "\(row["org"] as String) on \(Timestamp(milliseconds: day).rfc3339.prefix(10))"
            }
            return Counts(schema: schema, tables: tables, organisations: organisations, rollupMismatch: mismatch)
        }
    }

    func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    func write(_ manifest: BackupManifest) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let partial = path(".\(manifest.name).json.partial")
        try encoder.encode(manifest).write(to: URL(fileURLWithPath: partial))
        // rename(2): the manifest appears whole, or not at all.
        guard rename(partial, path(manifest.name + ".json")) == 0 else {
            throw MeterrError(.storage, "cannot write the manifest of \(manifest.name) in \(directory)")
        }
    }

    /// Removes what an interrupted backup or check left (names starting with a dot).
    func removeUnfinished() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.hasPrefix(".") {
            try? FileManager.default.removeItem(atPath: path(name))
        }
    }

    static func removeDatabase(_ path: String) {
        for suffix in ["", "-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    static func size(of path: String) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
    }

    /// `20261204T180000Z`.
    static func compact(_ time: Timestamp) -> String {
        let text = time.rfc3339
        let digits = text.prefix(19).filter { $0 != "-" && $0 != ":" }
        return digits + "Z"
    }

    /// Runs blocking file and database work on a dispatch thread, off Swift's cooperative pool.
    static func offThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .utility).async { continuation.resume(with: Result { try work() }) }
        }
    }
}
