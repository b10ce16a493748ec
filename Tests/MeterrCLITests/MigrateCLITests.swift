import Foundation
import Logging
import MeterrTestSupport
import PostgresNIO
import Testing

@Suite("meterr migrate and the commands on PostgreSQL")
struct MigrateCLITests {
    /// A data directory with an organisation, a key and 7,000 events (two pages of the copy).
    static func dataDirectory() async throws -> String {
        let directory = temporaryDirectory()
        #expect(try await runMeterr(["orgs", "create", "Acme", "--data", directory]).status == 0)
        let file = directory + "-events.jsonl"
        var lines = ""
        for index in 0..<7_000 {
            lines += """
                {"id":"evt_\(index)","ts":"2026-1\(index % 2 + 1)-0\(index % 9 + 1)T1\(index % 10):00:00Z",\
                "provider":"openai","model":"\(index % 3 == 0 ? "gpt-4o" : "gpt-4o-mini")","input_tokens":\(100 + index),\
                "output_tokens":\(index % 70),"team":"search","tags":{"env":"prod"},"latency_ms":\(index % 900)}

                """
        }
        try lines.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let imported = try await runMeterr(["usage", "import", file, "--data", directory])
        #expect(imported.status == 0, "\(imported.errorOutput)")
        #expect(try await runMeterr(["teams", "create", "search", "--data", directory]).status == 0)
        let key = try await runMeterr([
            "keys", "create", "--name", "reader", "--scope", "read", "--team", "search", "--data", directory,
        ])
        #expect(key.status == 0, "\(key.errorOutput)")
        return directory
    }

    @Test(
        "migrate copies a data directory, twice without writing anything the second time; keys, orgs and usage answer alike",
        .disabled(if: TestPostgres.unavailable != nil, "\(TestPostgres.unavailable ?? "")"))
    func migrate() async throws {
        let directory = try await Self.dataDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await TestPostgres.withDatabase { url in
            let first = try await runMeterr(["migrate", "--from", directory, "--to", url])
            #expect(first.status == 0, "\(first.errorOutput)")
            let lines = first.output.split(separator: "\n").map(String.init)
            #expect(
                lines.contains { $0.hasPrefix("usage_events") && $0.hasSuffix("7,000 / 7,000  100%  7,000 written") })
            #expect(lines.contains { $0.hasPrefix("organisations") && $0.hasSuffix("1 / 1  100%  1 written") })
            // The comparison: SQLite's line, then PostgreSQL's with the same cells and "same".
            let row = try #require(lines.firstIndex { $0.contains("(Acme)") })
            let sqlite = lines[row].split(separator: " ").dropFirst(2)
            let postgres = lines[row + 1].split(separator: " ")
            #expect(sqlite.first == "SQLite" && postgres.first == "PostgreSQL" && postgres.last == "same")
            #expect(Array(sqlite.dropFirst()) == Array(postgres.dropFirst().dropLast()))
            #expect(Array(sqlite.dropFirst().prefix(2)) == ["7,000", "7,000"], "\(sqlite)")
            #expect(lines.last == "Every organisation's counts and totals are the same on both databases.")

            let second = try await runMeterr(["migrate", "--from", directory, "--to", url])
            #expect(second.status == 0, "\(second.errorOutput)")
            let tables = second.output.split(separator: "\n").filter { $0.contains("%  ") }
            #expect(tables.count == 22 && tables.allSatisfy { $0.hasSuffix("  0 written") })

            for command in [
                ["keys", "list"], ["orgs", "list"], ["teams", "list"], ["usage", "export", "--format", "csv"],
            ] {
                let here = try await runMeterr(command + ["--data", directory])
                let there = try await runMeterr(command + ["--database-url", url])
                #expect(there.status == 0 && there.output == here.output && !here.output.isEmpty, "\(command)")
            }

            // A key made on PostgreSQL only: the next run's comparison says so and fails.
            let made = try await runMeterr(["keys", "create", "--name", "extra", "--database-url", url])
            #expect(made.status == 0, "\(made.errorOutput)")
            let third = try await runMeterr(["migrate", "--from", directory, "--to", url])
            #expect(third.status == 1)
            #expect(third.output.contains("DIFFERS"))
            #expect(third.errorOutput.split(separator: "\n").count == 1)
            #expect(third.errorOutput.contains("differs (keys 2 in SQLite, 3 in PostgreSQL)"), "\(third.errorOutput)")
        }
    }

    @Test("A missing directory, a bad or unreachable database URL print one line and exit non-zero")
    func badInput() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try await runMeterr(["orgs", "create", "Acme", "--data", directory]).status == 0)
        let unreachable = "postgres://meterr@127.0.0.1:1/meterr?sslmode=disable"
        for (arguments, message) in [
            (["migrate", "--from", directory + "-missing", "--to", unreachable], "no meterr database in"),
            (["migrate", "--from", directory, "--to", "mysql://x@y/z"], "--to: must be postgres://"),
            (["migrate", "--from", directory, "--to", unreachable], "cannot reach PostgreSQL at"),
            (["keys", "list", "--database-url", unreachable], "cannot reach PostgreSQL at"),
            (["backup", "now", "--data", directory, "--database-url", unreachable], "back PostgreSQL up with pg_dump"),
        ] {
            let result = try await runMeterr(arguments, environment: ["METERR_DATABASE_URL": ""])
            #expect(result.status == 1, "\(arguments)")
            let lines = result.errorOutput.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("meterr: ") && lines[0].contains(message), "\(lines)")
        }
        let missing = try await runMeterr(["migrate", "--from", directory], environment: ["METERR_DATABASE_URL": ""])
        #expect(missing.status == 1 && missing.errorOutput.contains("--to must name the PostgreSQL database"))
    }
}
