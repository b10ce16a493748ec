// A metered call end to end: a tiny fake OpenAI on a free loopback port answers a chat completion,
// the SDK reads its usage and reports it to meterr, and the event is fetched back and printed.
//
//   METERR_URL=http://127.0.0.1:8787 METERR_KEY=mk_… swift run meterr-sdk-example
//   swift run meterr-sdk-example http://127.0.0.1:8787 mk_…
import AsyncHTTPClient
import Foundation
import Hummingbird
import MeterrCore
import MeterrSDK
import NIOCore
import Synchronization

let arguments = CommandLine.arguments.dropFirst()
let environment = ProcessInfo.processInfo.environment
let meterrURL = arguments.first ?? environment["METERR_URL"] ?? "http://127.0.0.1:8787"
guard let key = arguments.dropFirst().first ?? environment["METERR_KEY"] else {
    print("usage: meterr-sdk-example [METERR_URL] [METERR_KEY] (or set METERR_URL and METERR_KEY)")
    exit(2)
}

// The fake provider: always the same chat completion, with the usage a real one reports.
let answer = """
    {"id":"chatcmpl-example","object":"chat.completion","model":"gpt-4.1-mini-2025-04-14",\
    "choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],\
    "usage":{"prompt_tokens":42,"completion_tokens":7,"total_tokens":49}}
    """
let router = Router()
router.post("/v1/chat/completions") { _, _ in
    Response(
        status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: answer)))
}
let providerPort = Mutex(0)
let listening = AsyncStream<Void>.makeStream()
let provider = Application(
    router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
    onServerRunning: { channel in
        providerPort.withLock { $0 = channel.localAddress?.port ?? 0 }
        listening.continuation.yield()
    })
let providerTask = Task { try await provider.runService(gracefulShutdownSignals: []) }
for await _ in listening.stream { break }
let providerURL = "http://127.0.0.1:\(providerPort.withLock { $0 })"
print("fake provider listening on \(providerURL)")

// The SDK: a reporter to meterr, and metering for the app's OpenAI calls.
let connection = MeterrConnection(baseURL: meterrURL, key: key)
let reporter = Reporter(connection: connection)
let run = Identifier.random(length: 8)
let metering = Metering(
    reporter: reporter, provider: .openai, attribution: Attribution(team: "example", tags: ["run": run]))

var request = HTTPClientRequest(url: providerURL + "/v1/chat/completions")
request.method = .POST
request.headers.add(name: "content-type", value: "application/json")
let body = Array(#"{"model":"gpt-4.1-mini","messages":[{"role":"user","content":"Say hello"}]}"#.utf8)
let response = try await HTTPClient.shared.executeMetered(
    request, body: body, timeout: .seconds(10), metering: metering)
let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
print("provider answered \(response.status.code): \(text)")

// Deliver what is buffered, then read the event back from meterr's ledger.
await reporter.shutdown()
let counters = reporter.counters
print("reporter: sent \(counters.sent), retried \(counters.retried), dropped \(counters.dropped)")
let management = ManagementClient(connection: connection)
do {
    let page = try await management.events(EventQuery(tags: ["run": run], limit: 1))
    guard let event = page.events.first else {
        print("meterr holds no event of this run (was it reachable at \(meterrURL)?)")
        exit(1)
    }
    print("meterr stored: " + String(decoding: event.jsonLine, as: UTF8.self))
} catch {
    print("could not read the event back: \(error)")
    exit(1)
}
providerTask.cancel()
