import ArgumentParser
import Foundation
import MCP
import MeterrCore
import MeterrMCP
import MeterrSDK

/// `meterr mcp`: meterr's tools for agents over the Model Context Protocol on standard input and
/// output, asking a running meterr with the agent's key.
struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve meterr's tools to an agent over MCP (stdio): token counts, cost estimates, spend, budgets.",
        discussion: """
            Asks the meterr at --url (or $METERR_URL, default http://127.0.0.1:8787) with the key from --key \
            (or $METERR_KEY): a key with the read scope sees its organisation's spend and budgets.
            """
    )

    @Option(help: "meterr's base URL (default: $METERR_URL or http://127.0.0.1:8787).")
    var url: String?

    @Option(help: "A meterr key with the read scope (default: $METERR_KEY).")
    var key: String?

    func run() async throws {
        let client = try ServerOptions.client(url: url, key: key, scope: "read")
        let server = await MeterrTools(client: client).makeServer()
        try await server.start(transport: StdioTransport())
        await server.waitUntilCompleted()
    }
}
