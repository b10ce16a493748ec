import Foundation
import MeterrCore
import MeterrServer
import Testing

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
}
