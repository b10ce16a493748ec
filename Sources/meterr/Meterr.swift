import ArgumentParser
import Foundation
import Logging

@main
struct Meterr: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Meter what your company spends on AI APIs.",
        subcommands: [Serve.self, UsageCommand.self]
    )

    static func main() async {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        do {
            var command = try parseAsRoot()
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// The data directory option shared by the commands that open the store.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: "The data directory (default: $METERR_DATA_DIR or ./meterr-data).")
    var data: String?

    var directory: String { data ?? ProcessInfo.processInfo.environment["METERR_DATA_DIR"] ?? "./meterr-data" }
}
