import ArgumentParser
import Foundation
import MeterrCore
import MeterrPricing
import MeterrStore

struct UsageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage",
        abstract: "Export and import the usage ledger.",
        subcommands: [Export.self, Import.self]
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case jsonl, csv
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print usage events in time order, one per line; works while the server runs.")

        @OptionGroup var database: DatabaseOptions
        @Option(help: "jsonl (one usage event per line) or csv.") var format: Format = .jsonl
        @Option(help: "Only events at or after this RFC 3339 time.") var from: String?
        @Option(help: "Only events before this RFC 3339 time.") var to: String?
        @Option(help: "Only this organisation's events.") var org: String?

        func run() async throws {
            let from = try from.map { try parseTime($0, option: "--from") }
            let to = try to.map { try parseTime($0, option: "--to") }
            let store = try await database.open(readOnly: true)
            let output = OutputBuffer()
            let format = format
            if format == .csv { output.write(CSV.header + "\n") }
            try await store.forEachEvent(org: org, from: from, to: to) { event in
                switch format {
                case .jsonl:
                    output.write(event.jsonLine)
                    output.write("\n")
                case .csv:
                    output.write(CSV.row(event) + "\n")
                }
            }
            output.flush()
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Add the usage events of a JSONL file to the ledger, priced like reported events; stored ids are skipped.",
            discussion: "The whole file is checked first: one bad line imports nothing.")

        @Argument(help: "A file of usage events, one JSON object per line.") var file: String
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            // First pass: every line must be a valid event, or nothing is imported.
            var total = 0
            let checker = try LineReader(path: file)
            while let line = checker.next() {
                if LineReader.isBlank(line) { continue }
                do {
                    try UsageEventParser.parseEvent(line, receivedAt: Meterr.clock.now()).validate()
                } catch {
                    throw CLIError("\(file):\(checker.lineNumber): \(error.field ?? "event"): \(error.message)")
                }
                total += 1
            }
            let store = try await database.open()
            let pricer = CostEngine(catalog: try PriceCatalog.load(dataDirectory: database.data.directory))
            let bootstrap = try await store.bootstrap(adminKey: ProcessInfo.processInfo.environment["METERR_ADMIN_KEY"])
            if let key = bootstrap.createdAdminKey {
                let made = database.url == nil ? "created a new data directory" : "set up the PostgreSQL database"
                FileHandle.standardError.write(Data("meterr \(made); admin key: \(key)\n".utf8))
            }
            // Second pass: the lines are known good; store them in batches.
            let progress = Progress(total: total)
            var batch: [UsageEvent] = []
            batch.reserveCapacity(1000)
            var inserted = 0
            var done = 0
            let reader = try LineReader(path: file)
            while true {
                let line = reader.next()
                if let line, !LineReader.isBlank(line) {
                    var event = try UsageEventParser.parseEvent(line, receivedAt: Meterr.clock.now())
                    if event.org.isEmpty { event.org = bootstrap.organisation.id }
                    event.applyPrice(from: pricer)
                    batch.append(event)
                }
                if batch.count == 1000 || (line == nil && !batch.isEmpty) {
                    inserted += try await store.append(batch).count { $0 }
                    done += batch.count
                    batch.removeAll(keepingCapacity: true)
                    progress.show(done)
                }
                if line == nil { break }
            }
            progress.finish()
            print("imported \(total) events: \(inserted) new, \(total - inserted) already in the ledger")
        }
    }
}

func parseTime(_ text: String, option: String) throws -> Timestamp {
    guard let time = Timestamp(rfc3339: text) else {
        throw CLIError("\(option) must be an RFC 3339 time such as 2026-11-01T00:00:00Z")
    }
    return time
}

/// A failure the CLI reports as one line, as it is.
struct CLIError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }
}
