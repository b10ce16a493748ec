import Foundation
import MeterrCore
import MeterrServer
import Testing

@testable import MeterrServer

@Suite("Server configuration")
struct ConfigurationTests {
    func yamlFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("meterr-\(UUID().uuidString).yaml")
            .path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("Defaults start a server on 127.0.0.1:8787 with data in ./meterr-data")
    func defaults() throws {
        let configuration = try ServerConfiguration.load(file: nil, environment: [:])
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 8787)
        #expect(configuration.dataDirectory == "./meterr-data")
        #expect(configuration.maxBodyBytes == 1_048_576)
        #expect(configuration.adminKey == nil)
    }

    @Test("The YAML file sets values and the environment wins over it")
    func precedence() throws {
        let path = try yamlFile("host: 0.0.0.0\nport: 9000\ndata_dir: /var/lib/meterr\nmax_body_bytes: 2097152\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fromFile = try ServerConfiguration.load(file: path, environment: [:])
        #expect(fromFile.host == "0.0.0.0")
        #expect(fromFile.port == 9000)
        #expect(fromFile.dataDirectory == "/var/lib/meterr")
        #expect(fromFile.maxBodyBytes == 2_097_152)
        let withEnvironment = try ServerConfiguration.load(
            file: path, environment: ["METERR_PORT": "9100", "METERR_ADMIN_KEY": "mk_fromtheenvironment00"])
        #expect(withEnvironment.port == 9100)
        #expect(withEnvironment.host == "0.0.0.0")
        #expect(withEnvironment.adminKey == "mk_fromtheenvironment00")
    }

    @Test("An unknown key, a bad value or a missing file is a configuration error that names it")
    func errors() throws {
        let unknown = try yamlFile("prot: 9000\n")
        let badPort = try yamlFile("port: ninety\n")
        let notMapping = try yamlFile("- a\n- b\n")
        defer { for path in [unknown, badPort, notMapping] { try? FileManager.default.removeItem(atPath: path) } }
        for (path, words) in [
            (unknown, "prot"), (badPort, "port"), (notMapping, "mapping"), ("/nonexistent.yaml", "cannot read"),
        ] {
            do {
                _ = try ServerConfiguration.load(file: path, environment: [:])
                Issue.record("accepted \(path)")
            } catch let error as MeterrError {
                #expect(error.code == .configuration)
                #expect(error.message.contains(words), "\(error.message)")
            }
        }
        #expect(throws: MeterrError.self) {
            try ServerConfiguration.load(file: nil, environment: ["METERR_DURABILITY": "sometimes"])
        }
    }

    @Test("ledger_wait_ms sets how long gateway events wait to share a commit: 5 ms unless set, 0–1000 allowed")
    func ledgerWait() throws {
        #expect(try ServerConfiguration.load(file: nil, environment: [:]).ledgerWait == .milliseconds(5))
        let path = try yamlFile("ledger_wait_ms: 20\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try ServerConfiguration.load(file: path, environment: [:]).ledgerWait == .milliseconds(20))
        let fromEnvironment = try ServerConfiguration.load(file: path, environment: ["METERR_LEDGER_WAIT_MS": "0"])
        #expect(fromEnvironment.ledgerWait == .zero)
        for bad in ["-1", "1001", "5ms"] {
            #expect {
                _ = try ServerConfiguration.load(file: nil, environment: ["METERR_LEDGER_WAIT_MS": bad])
            } throws: { error in
                (error as? MeterrError)?.message.contains("ledger_wait_ms must be milliseconds (0–1000)") == true
            }
        }
    }

    @Test("A database URL is read from the environment; a bad one, or one without a master key, is refused")
    func databaseURL() throws {
        let url = "postgres://meterr:s3cret-pw@db.internal:5432/meterr?sslmode=require"
        let masterKey = String(repeating: "a", count: 64)
        var configuration = try ServerConfiguration.load(
            file: nil,
            environment: [
                "METERR_DATABASE_URL": url, "METERR_BUDGET_HOLD_SECONDS": "30", "METERR_MASTER_KEY": masterKey,
            ])
        #expect(configuration.databaseURL == url && configuration.budgetHoldSeconds == 30)
        try configuration.validate()
        configuration.masterKey = nil
        #expect(throws: MeterrError.self) { try configuration.validate() }
        configuration.masterKey = masterKey
        configuration.backupDirectory = "/tmp/backups"
        #expect(throws: MeterrError.self) { try configuration.validate() }
        do {
            _ = try ServerConfiguration.load(
                file: nil, environment: ["METERR_DATABASE_URL": "mysql://meterr:s3cret-pw@db/meterr"])
            Issue.record("accepted a mysql URL")
        } catch let error as MeterrError {
            #expect(error.message.contains("database_url") && !error.message.contains("s3cret-pw"), "\(error.message)")
        }
    }

    @Test("Bad price overrides name the item and the field")
    func badOverrides() throws {
        try expectRefused([
            ("price_overrides:\n  - provider: openai\n    discount_percent: '5'\n", "org is required"),
            ("price_overrides:\n  - org: a\n    discount_percent: '150'\n", "price_overrides[0]"),
            ("price_overrides:\n  - org: a\n    prices: {input: 'x', output: '1'}\n", "prices.input"),
            ("azure_deployments: [a, b]\n", "azure_deployments"),
        ])
    }

    @Test("The response_cache section sets storage, size, time-to-live and rules; mistakes name their place")
    func responseCache() throws {
        let path = try yamlFile(
            "response_cache:\n  storage: memory\n  max_size_mb: 64\n  ttl_seconds: 600\n  rules:\n"
                + "    - keys: [key_a]\n    - teams: [support]\n      models: [meterr/fast, gpt-4.1-mini]\n"
                + "      ttl_seconds: 86400\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let cache = try ServerConfiguration.load(file: path, environment: [:]).responseCache
        #expect(cache.storage == .memory && cache.maxBytes == 64 << 20 && cache.ttl == .seconds(600))
        #expect(cache.rules.count == 2)
        #expect(cache.rule(org: "o", team: nil, key: "key_a", model: "gpt-4.1")?.ttl == nil)
        #expect(cache.rule(org: "o", team: "support", key: "key_b", model: "meterr/fast")?.ttl == .seconds(86400))
        #expect(cache.rule(org: "o", team: "support", key: "key_b", model: "fast") != nil)
        #expect(cache.rule(org: "o", team: "support", key: "key_b", model: "gpt-4.1") == nil)
        #expect(cache.rule(org: "o", team: "sales", key: "key_b", model: "gpt-4.1-mini") == nil)
        try expectRefused([
            ("response_cache:\n  storage: redis\n", "storage must be database or memory"),
            ("response_cache:\n  ttl_seconds: 0\n", "ttl_seconds must be"),
            ("response_cache:\n  rules:\n    - tems: [a]\n", "response_cache.rules[0]: unknown setting tems"),
            ("response_cache:\n  size: 3\n", "unknown setting size"),
        ])
    }

    /// Each file is refused with an error whose message holds the words.
    func expectRefused(_ cases: [(yaml: String, words: String)]) throws {
        for (yaml, words) in cases {
            let path = try yamlFile(yaml)
            defer { try? FileManager.default.removeItem(atPath: path) }
            do {
                _ = try ServerConfiguration.load(file: path, environment: [:])
                Issue.record("accepted \(yaml)")
            } catch let error as MeterrError {
                #expect(error.message.contains(words), "\(error.message)")
            }
        }
    }
}
