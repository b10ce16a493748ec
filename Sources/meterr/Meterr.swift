import ArgumentParser
import Foundation
import Logging
import MeterrCore

@main
struct Meterr: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Meter what your company spends on AI APIs.",
        version: "meterr \(MeterrVersion.current)",
        subcommands: [
            Serve.self, UsageCommand.self, CostCommand.self, PricesCommand.self, TokensCommand.self, KeysCommand.self,
            OrgsCommand.self, TeamsCommand.self, SecretsCommand.self, BudgetsCommand.self, WebhooksCommand.self,
            StatementCommand.self, OptimizeCommand.self, BackupCommand.self, UsersCommand.self, MCPCommand.self,
        ]
    )

    /// The one clock the commands read the time from.
    static let clock = WallClock.system

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
            // Help and version go to stdout as usual; every failure is one line on stderr.
            let code = exitCode(for: error)
            if code == .success {
                exit(withError: error)
            }
            let message =
                if let error = error as? MeterrError {
                    (error.field.map { "\($0): " } ?? "") + error.message
                } else {
                    Meterr.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
                }
            FileHandle.standardError.write(Data("meterr: \(message)\n".utf8))
            Foundation.exit(code.rawValue)
        }
    }
}

/// The data directory option shared by the commands that open the store.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: "The data directory (default: $METERR_DATA_DIR or ./meterr-data).")
    var data: String?

    var directory: String { data ?? ProcessInfo.processInfo.environment["METERR_DATA_DIR"] ?? "./meterr-data" }
}
