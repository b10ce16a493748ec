import ArgumentParser
import Foundation
import Hummingbird
import MeterrServer
import NIOCore

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the meterr server on the embedded SQLite database.",
        discussion: "SIGTERM or SIGINT stop accepting requests, commit every queued usage event and exit 0."
    )

    @Option(help: "The address to listen on (default 127.0.0.1).") var host: String?
    @Option(help: "The port to listen on (default 8787; 0 picks a free one).") var port: Int?
    @Option(help: "The data directory (default ./meterr-data).") var data: String?
    @Option(help: "A YAML configuration file.") var config: String?

    func validate() throws {
        if let port, !(0...65_535).contains(port) { throw ValidationError("--port must be from 0 to 65535") }
    }

    func run() async throws {
        var configuration = try ServerConfiguration.load(
            file: config, environment: ProcessInfo.processInfo.environment)
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        if let data { configuration.dataDirectory = data }
        let host = configuration.host
        let dataDirectory = configuration.dataDirectory
        configuration.onBootstrap = { result in
            guard let key = result.createdAdminKey else { return }
            say(
                """
                meterr created a new data directory at \(dataDirectory)
                  organisation: \(result.organisation.name) (\(result.organisation.id))
                  admin key:    \(key)
                Keep the admin key: it is shown only this once.
                """)
        }
        configuration.onListening = { port in
            say("meterr listening on http://\(host):\(port)")
        }
        let app = try await buildApplication(configuration)
        do {
            try await app.runService()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw ValidationError("cannot listen on \(host):\(configuration.port): the address is already in use")
        }
    }
}

/// Writes a line to standard output at once, even when the output is a pipe.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
