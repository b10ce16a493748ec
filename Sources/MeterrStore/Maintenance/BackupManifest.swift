import MeterrCore

/// What a backup holds, written beside it as `NAME.json` once the backup is whole: a backup without
/// its manifest is unfinished and never listed.
public struct BackupManifest: Codable, Sendable, Equatable {
    /// Events and cost of one organisation, for `verify` and for comparing a restore.
    public struct OrganisationTotals: Codable, Sendable, Equatable {
        public var events: Int64
        /// Priced cost in nano-dollars.
        public var costNanos: Int64

        enum CodingKeys: String, CodingKey {
            case events
            case costNanos = "cost_nanos"
        }
    }

    /// `meterr-20261204T180000Z`: sorts by time.
    public var name: String
    public var createdAt: Timestamp
    /// The schedule's tiers this backup belongs to.
    public var tiers: [BackupTier]
    /// The gzip file of the SQLite database, in the backup directory.
    public var file: String
    /// Its size in bytes.
    public var bytes: Int64
    /// Its SHA-256, hex.
    public var sha256: String
    /// The database's size before compression.
    public var databaseBytes: Int64
    /// The last schema migration the database had.
    public var schema: String
    /// Rows per table.
    public var tables: [String: Int64]
    /// Events and cost per organisation.
    public var organisations: [String: OrganisationTotals]
    /// The copy of the data directory's imported prices (`prices.json`), if it had any.
    public var pricesFile: String?
    public var pricesSHA256: String?

    enum CodingKeys: String, CodingKey {
        case name
        case createdAt = "created_at"
        case tiers, file, bytes, sha256
        case databaseBytes = "database_bytes"
        case schema, tables, organisations
        case pricesFile = "prices_file"
        case pricesSHA256 = "prices_sha256"
    }

    /// Events in the backup, across organisations.
    public var events: Int64 { organisations.values.reduce(0) { $0 + $1.events } }
}
