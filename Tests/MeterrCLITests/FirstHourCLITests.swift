import Foundation
import MeterrTestSupport
import Testing

/// The usual mistakes of a first hour with meterr at the command line: each gets one line that says
/// what is wrong and what to do.
@Suite("The first hour at the command line")
struct FirstHourCLITests {
    let directory = temporaryDirectory()

    init() throws { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }

    @Test("A data directory that is a file, or inside one, stops the start with one line that says so")
    func dataDirectoryProblems() async throws {
        let file = "\(directory)/a-file"
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        let isFile = try await runMeterr(["serve", "--data", file, "--port", "0"])
        #expect(isFile.status == 1)
        #expect(isFile.errorOutput == "meterr: the data directory \(file) is a file, not a directory\n")
        let inside = try await runMeterr(["serve", "--data", "\(file)/data", "--port", "0"])
        #expect(
            inside.errorOutput
                == "meterr: cannot create the data directory \(file)/data: \(file) is a file, not a directory\n")
    }

    @Test("A port in use is one line, no error log before it, and no data directory left behind")
    func portInUse() async throws {
        let first = try await ServerProcess.start(dataDirectory: "\(directory)/first")
        let data = "\(directory)/second"
        let second = try await runMeterr(["serve", "--data", data, "--port", String(first.port)])
        #expect(second.status != 0)
        #expect(
            second.errorOutput == "meterr: cannot listen on 127.0.0.1:\(first.port): the address is already in use\n")
        #expect(second.output.isEmpty, "no admin key is shown for a start that failed")
        #expect(!FileManager.default.fileExists(atPath: data))
        #expect(await first.stop() == 0)
    }

    @Test("Configuration typos get the nearest key; an Azure deployment of an unknown model is refused at start")
    func configurationMistakes() async throws {
        let config = "\(directory)/meterr.yaml"
        try "prot: 8080\n".write(toFile: config, atomically: true, encoding: .utf8)
        let typo = try await runMeterr(["serve", "--config", config, "--data", "\(directory)/d1"])
        #expect(typo.errorOutput == "meterr: \(config): unknown setting \"prot\": did you mean port?\n")
        try "upstream_read_timout: 30\n".write(toFile: config, atomically: true, encoding: .utf8)
        let other = try await runMeterr(["serve", "--config", config, "--data", "\(directory)/d1"])
        #expect(other.errorOutput.hasSuffix("did you mean upstream_read_timeout?\n"))
        try "zzz: 1\n".write(toFile: config, atomically: true, encoding: .utf8)
        let far = try await runMeterr(["serve", "--config", config, "--data", "\(directory)/d1"])
        #expect(far.errorOutput == "meterr: \(config): unknown setting \"zzz\"\n")
        try "azure_deployments:\n  prod-chat: gpt-9000\n".write(toFile: config, atomically: true, encoding: .utf8)
        let azure = try await runMeterr(["serve", "--config", config, "--data", "\(directory)/d1", "--port", "0"])
        #expect(
            azure.errorOutput
                == "meterr: azure_deployments: prod-chat maps to \"gpt-9000\", which the price catalog does not know\n")
        #expect(!FileManager.default.fileExists(atPath: "\(directory)/d1"))
        let version = try await runMeterr(["--version"])
        #expect(version.status == 0 && version.output.hasPrefix("meterr 0."))
    }

    @Test("A start with a revoked METERR_ADMIN_KEY says so in one line")
    func revokedAdminKey() async throws {
        let data = "\(directory)/data"
        let server = try await ServerProcess.start(dataDirectory: data)
        let (_, body) = try await server.get("/api/keys")
        let keys = (try JSONSerialization.jsonObject(with: body) as? [String: Any])?["keys"] as? [[String: Any]] ?? []
        let id = try #require(keys.first { $0["name"] as? String == "METERR_ADMIN_KEY" }?["id"] as? String)
        #expect(await server.stop() == 0)
        let revoke = try await runMeterr(["keys", "revoke", id, "--data", data])
        #expect(revoke.status == 0, "\(revoke.errorOutput)")
        let again = try await runMeterr(
            ["serve", "--data", data, "--port", "0"], environment: ["METERR_ADMIN_KEY": server.adminKey])
        #expect(again.status == 1)
        #expect(again.errorOutput.hasPrefix("meterr: METERR_ADMIN_KEY was revoked on "), "\(again.errorOutput)")
        #expect(again.errorOutput.split(separator: "\n").count == 1)
    }

    @Test("meterr budgets and meterr webhooks manage a running meterr through its API, with its validation")
    func budgetsAndWebhooks() async throws {
        // Webhook hosts must resolve to public addresses unless allowed; there is no DNS here.
        let config = "\(directory)/meterr.yaml"
        try "upstream_allow_hosts: [127.0.0.1]\n".write(toFile: config, atomically: true, encoding: .utf8)
        let server = try await ServerProcess.start(dataDirectory: "\(directory)/data", arguments: ["--config", config])
        let connection = ["--url", "http://127.0.0.1:\(server.port)", "--key", server.adminKey]
        let created = try await runMeterr(
            ["budgets", "create", "--name", "pilot", "--limit-usd", "25.00", "--hard", "--thresholds", "50,90"]
                + connection)
        #expect(created.status == 0, "\(created.errorOutput)")
        #expect(created.output.hasPrefix("created budget pilot (bud_"))
        let listed = try await runMeterr(["budgets", "list"] + connection)
        #expect(listed.output.contains("\tpilot\torg\tmonth, hard\t0.000000000 of 25.000000000 USD (0%)"))
        let bad = try await runMeterr(["budgets", "create", "--name", "x", "--limit-usd", "lots"] + connection)
        #expect(bad.status == 1)
        #expect(bad.errorOutput == "meterr: limit_usd: must be a positive amount such as \"250.00\"\n")
        let id = try #require(listed.output.split(separator: "\t").first.map(String.init))
        #expect(try await runMeterr(["budgets", "delete", id] + connection).status == 0)
        #expect(try await runMeterr(["budgets", "list"] + connection).output.isEmpty)
        let noKey = try await runMeterr(["budgets", "list", "--url", "http://127.0.0.1:\(server.port)"])
        #expect(noKey.errorOutput.hasPrefix("meterr: key: set --key or METERR_KEY"))

        let hook = try await runMeterr(["webhooks", "create", "http://127.0.0.1:9/meterr"] + connection)
        #expect(hook.status == 0, "\(hook.errorOutput)")
        #expect(hook.output.contains("signing secret: whsec_"))
        let hooks = try await runMeterr(["webhooks", "list"] + connection)
        #expect(hooks.output.contains("\tjson\thttp://127.0.0.1:9/meterr"))
        let hookId = try #require(hooks.output.split(separator: "\t").first.map(String.init))
        #expect(try await runMeterr(["webhooks", "delete", hookId] + connection).status == 0)
        let plain = try await runMeterr(["webhooks", "create", "http://10.0.0.5/hook"] + connection)
        #expect(plain.status == 1 && plain.errorOutput.hasPrefix("meterr: "))
        #expect(await server.stop() == 0)
    }

    @Test("meterr statement prints a month's statement from a running meterr, as a table, CSV or JSON")
    func statement() async throws {
        let events = "\(directory)/events.jsonl"
        try """
        {"id":"s1","ts":"2026-11-03T10:00:00Z","provider":"openai","model":"gpt-4o","input_tokens":1000,"output_tokens":200,"team":"ml"}
        {"id":"s2","ts":"2026-11-30T23:59:59.999Z","provider":"openai","model":"gpt-4o","input_tokens":1000,"output_tokens":200,"team":"web"}
        {"id":"s3","ts":"2026-12-01T00:00:00Z","provider":"openai","model":"gpt-4o","input_tokens":1000,"output_tokens":200,"team":"web"}

        """.write(toFile: events, atomically: true, encoding: .utf8)
        #expect(try await runMeterr(["usage", "import", events, "--data", "\(directory)/data"]).status == 0)
        let server = try await ServerProcess.start(dataDirectory: "\(directory)/data")
        let connection = ["--url", "http://127.0.0.1:\(server.port)", "--key", server.adminKey]
        let table = try await runMeterr(["statement", "2026-11"] + connection)
        #expect(table.status == 0, "\(table.errorOutput)")
        #expect(table.output.contains("TOTAL\t2 calls\t$0.009000000"))
        let csv = try await runMeterr(["statement", "2026-11", "--team", "web", "--format", "csv"] + connection)
        let rows = csv.output.split(separator: "\n")
        #expect(rows.count == 3)
        #expect(rows.last == "2026-11,web,TOTAL,,,1,1000,0,0,200,0,0.004500000,0")
        let json = try await runMeterr(["statement", "2026-11", "--format", "json"] + connection)
        #expect(json.output.contains(#""complete":true"#))
        let bad = try await runMeterr(["statement", "2026-13"] + connection)
        #expect(bad.status == 1)
        #expect(bad.errorOutput == "meterr: month: must be a month such as 2026-11 (got 2026-13)\n")
        #expect(await server.stop() == 0)
    }

    @Test("meterr optimize report prints the savings report from a running meterr, as a table or JSON")
    func optimizeReport() async throws {
        let events = "\(directory)/events.jsonl"
        try """
        {"id":"r1","ts":"2026-11-03T10:00:00Z","provider":"openai","model":"gpt-4o","input_tokens":1000,"output_tokens":0,"status":500,"route":"fast:openai/gpt-4o policy=cheapest attempt=1","team":"ml"}
        {"id":"r2","ts":"2026-11-03T10:00:01Z","provider":"openai","model":"gpt-4o","input_tokens":1000,"output_tokens":200,"team":"ml"}

        """.write(toFile: events, atomically: true, encoding: .utf8)
        #expect(try await runMeterr(["usage", "import", events, "--data", "\(directory)/data"]).status == 0)
        let server = try await ServerProcess.start(dataDirectory: "\(directory)/data")
        let connection = ["--url", "http://127.0.0.1:\(server.port)", "--key", server.adminKey]
        let window = ["--from", "2026-11-01", "--to", "2026-12-01"]
        let table = try await runMeterr(["optimize", "report"] + window + connection)
        #expect(table.status == 0, "\(table.errorOutput)")
        #expect(table.output.contains("2 calls, $0.007000000 spent"))
        #expect(table.output.contains("[retry_spend, measured] openai/gpt-4o"))
        #expect(table.output.contains("saving: $0.002500000 in the window"))
        let json = try await runMeterr(
            ["optimize", "report", "--team", "ml", "--format", "json"] + window + connection)
        #expect(json.output.contains(#""kind":"retry_spend""#))
        #expect(json.output.contains(#""team":"ml""#))
        let bad = try await runMeterr(["optimize", "report", "--from", "last week"] + connection)
        #expect(bad.status == 1)
        #expect(bad.errorOutput == "meterr: from: must be a date or an RFC 3339 time such as 2026-11-01\n")
        #expect(await server.stop() == 0)
    }

    @Test("tokens count marks an estimate and refuses an unknown model")
    func tokenEstimates() async throws {
        let text = "\(directory)/prompt.txt"
        try "Hello there, how are you?".write(toFile: text, atomically: true, encoding: .utf8)
        let claude = try await runMeterr(["tokens", "count", "--model", "claude-sonnet-4-5", text])
        #expect(claude.status == 0)
        #expect(Int(claude.output.trimmingCharacters(in: .whitespacesAndNewlines)) != nil)
        #expect(claude.errorOutput.hasPrefix("note: an estimate: claude-sonnet-4-5's tokenizer is not public"))
        let exact = try await runMeterr(["tokens", "count", "--model", "gpt-4o", text])
        #expect(exact.errorOutput.isEmpty)
        let unknown = try await runMeterr(["tokens", "count", "--model", "my-own-model", text])
        #expect(unknown.status == 1)
        #expect(unknown.errorOutput.hasPrefix("meterr: unknown model my-own-model"))
    }

    @Test("cost resolves -latest aliases, says when --at is before the catalog, and takes --config")
    func costFirstHour() async throws {
        let latest = try await runMeterr([
            "cost", "--model", "codestral-latest", "--input-tokens", "1000000", "--output-tokens", "0",
        ])
        #expect(latest.status == 0, "\(latest.errorOutput)")
        #expect(latest.output.hasPrefix("model mistral/codestral-2508"))
        let early = try await runMeterr([
            "cost", "--model", "gpt-4o", "--input-tokens", "10", "--output-tokens", "1", "--at", "2019-01-01",
        ])
        #expect(early.errorOutput.hasPrefix("meterr: the catalog prices openai/gpt-4o from 2024-"))
        #expect(early.errorOutput.hasSuffix("2019-01-01T00:00:00.000Z is before that\n"))
        let config = "\(directory)/meterr.yaml"
        try "azure_deployments:\n  prod-chat: gpt-4o\nprice_overrides:\n  - org: default\n    discount_percent: 20\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        let configured = try await runMeterr([
            "cost", "--model", "prod-chat", "--provider", "azure", "--input-tokens", "1000000", "--output-tokens", "0",
            "--config", config,
        ])
        #expect(configured.status == 0, "\(configured.errorOutput)")
        // gpt-4o input at $2.50 per million, 20 % off.
        #expect(configured.output.split(separator: "\n").last == "2.000000000")
        let shown = try await runMeterr(["prices", "show", "claude-sonnet-4-5"])
        #expect(!shown.output.contains("shared/reference"))
    }
}
