import ArgumentParser
import Foundation
import MeterrCore
import MeterrPostgres
import MeterrStore

/// `meterr migrate --from ./meterr-data --to postgres://…`: the embedded database into PostgreSQL.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Copy everything of an embedded SQLite data directory into PostgreSQL.",
        discussion: """
            Stop meterr serve on the data directory first: the file is opened read-only and read as one \
            snapshot. Every table is copied with a line of progress; rollups are copied as they are, with the \
            totals of events retention already removed. Running it again copies only what is missing or changed, \
            never a row twice. It ends by comparing each organisation's events, rollup requests and cost, \
            summary totals, keys and budgets on both databases, and exits 1 when any differs. Provider \
            credentials and webhook secrets are copied sealed: the same master key opens them, so start meterr \
            serve --database-url with METERR_MASTER_KEY set to the data directory's master.key (or to the \
            METERR_MASTER_KEY it ran with). The database must hold no other organisations. Once meterr serves \
            from PostgreSQL, do not run it again: rows changed there (a key revoked) would take the data \
            directory's values back. Not copied: the response cache, which refills.
            """)

    @Option(help: "The data directory to copy (the server must not be running on it).") var from: String
    @Option(
        help: "The PostgreSQL database (postgres://user:password@host:5432/database; default: $METERR_DATABASE_URL).")
    var to: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let text = to ?? environment["METERR_DATABASE_URL"], !text.isEmpty else {
            throw CLIError("--to must name the PostgreSQL database (postgres://user:password@host:5432/database)")
        }
        let url: DatabaseURL
        do {
            url = try DatabaseURL(text)
        } catch {
            throw MeterrError.invalid("--to", error.message)
        }
        let source = try SQLiteStore(directory: from, readOnly: true, clock: Meterr.clock)
        let target = try await DatabaseOptions.connect(url)
        defer { target.close() }
        say("Copying \(source.path) into \(url)")
        let importer = SQLiteImport(from: source, to: target)
        let lines = ProgressLines(width: SQLiteImport.tableNames.map(\.count).max() ?? 0)
        var totals: [String: Int] = [:]
        try await importer.copy { progress in
            lines.show(progress)
            totals[progress.table] = progress.total
        }
        let comparisons = try await importer.compare()
        say("")
        say(Self.table(comparisons))
        let differing = comparisons.filter { !$0.matches }
        guard differing.isEmpty else {
            throw CLIError(
                differing.map { "\($0.org) differs (\(Self.differences($0).joined(separator: ", ")))" }
                    .joined(separator: "; "))
        }
        say("Every organisation's counts and totals are the same on both databases.")
        let keyFile = CredentialVault.keyPath(from)
        let sealed = (totals["provider_credentials"] ?? 0) + (totals["webhooks"] ?? 0)
        if sealed > 0, (environment["METERR_MASTER_KEY"] ?? "").isEmpty, FileManager.default.fileExists(atPath: keyFile)
        {
            say(
                "Provider credentials and webhook secrets are sealed with \(keyFile): start meterr serve "
                    + "--database-url with METERR_MASTER_KEY=$(cat \(keyFile)).")
        }
    }

    /// The comparison, two lines per organisation: SQLite's, then PostgreSQL's.
    static func table(_ comparisons: [SQLiteImport.Comparison]) -> String {
        var rows: [[String]] = [
            [
                "organisation", "database", "events", "requests", "cost USD (rollups)", "cost USD (summary)", "keys",
                "budgets",
            ]
        ]
        func cells(_ totals: SQLiteImport.Totals) -> [String] {
            [
                grouped(totals.events), grouped(Int(totals.rollupRequests)), totals.rollupCost.decimalString,
                totals.summaryCost.decimalString, grouped(totals.keys), grouped(totals.budgets),
            ]
        }
        for comparison in comparisons {
            let name = comparison.name.map { "\(comparison.org) (\($0))" } ?? comparison.org
            rows.append([name, "SQLite"] + cells(comparison.sqlite))
            rows.append(["", "PostgreSQL"] + cells(comparison.postgres) + [comparison.matches ? "same" : "DIFFERS"])
        }
        let widths = (0..<8).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                guard column < widths.count else { return cell }
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return column < 2 ? cell + padding : padding + cell
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }.joined(separator: "\n")
    }

    /// What differs between the two databases' totals, with both values.
    static func differences(_ comparison: SQLiteImport.Comparison) -> [String] {
        let (sqlite, postgres) = (comparison.sqlite, comparison.postgres)
        let fields: [(String, String, String)] = [
            ("events", grouped(sqlite.events), grouped(postgres.events)),
            ("rollup requests", String(sqlite.rollupRequests), String(postgres.rollupRequests)),
            ("rollup cost", sqlite.rollupCost.decimalString, postgres.rollupCost.decimalString),
            ("summary requests", String(sqlite.summaryRequests), String(postgres.summaryRequests)),
            ("summary cost", sqlite.summaryCost.decimalString, postgres.summaryCost.decimalString),
            ("keys", String(sqlite.keys), String(postgres.keys)),
            ("budgets", String(sqlite.budgets), String(postgres.budgets)),
        ]
        return fields.filter { $0.1 != $0.2 }.map { "\($0.0) \($0.1) in SQLite, \($0.2) in PostgreSQL" }
    }
}

/// One line per table: rewritten in place on a terminal, written once the table is done otherwise.
struct ProgressLines {
    let width: Int
    let terminal = isatty(1) == 1

    func show(_ progress: SQLiteImport.Progress) {
        let total = grouped(progress.total)
        let copied = grouped(progress.copied)
        let percent = progress.total == 0 ? 100 : progress.copied * 100 / progress.total
        let line =
            progress.table.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
            + String(repeating: " ", count: max(0, total.count - copied.count)) + "\(copied) / \(total)  "
            + String(repeating: " ", count: 3 - String(percent).count) + "\(percent)%"
            + (progress.finished ? "  \(grouped(progress.written)) written" : "")
        if terminal {
            // \u{1B}[K clears what a longer earlier line left.
            FileHandle.standardOutput.write(Data("\r\(line)\u{1B}[K\(progress.finished ? "\n" : "")".utf8))
        } else if progress.finished {
            say(line)
        }
    }
}

/// `1,234,567`.
func grouped(_ number: Int) -> String {
    let digits = String(number.magnitude)
    var text = ""
    for (index, digit) in digits.enumerated() {
        if index > 0, (digits.count - index) % 3 == 0 { text += "," }
        text.append(digit)
    }
    return (number < 0 ? "-" : "") + text
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
