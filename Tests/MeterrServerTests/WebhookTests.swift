import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import MeterrTestSupport
import Synchronization
import Testing

@testable import MeterrServer

/// A webhook receiver on a real port that fails its first `failures` deliveries.
final class Receiver: Sendable {
    let received = Mutex<[(status: Int, delivery: String, signature: String, body: String)]>([])
    let failures: Int

    init(failures: Int) { self.failures = failures }

    func start() async throws -> (Task<Void, any Error>, Int) {
        let router = Router()
        router.post("hook") { request, _ -> Response in
            let body = String(buffer: try await request.body.collect(upTo: 1 << 20))
            let status = self.received.withLock { received in
                let status = received.count < self.failures ? 500 : 200
                received.append(
                    (
                        status, request.headers[.init("x-meterr-delivery")!] ?? "",
                        request.headers[.init("x-meterr-signature")!] ?? "", body
                    ))
                return status
            }
            return Response(status: .init(code: status))
        }
        return try await startTestServer(router)
    }
}

@Suite("Alert webhooks")
struct WebhookTests {
    @Test(
        "An alert reaches a receiver that fails twice exactly once, across a restart, with a valid signature",
        arguments: HostileMoment.all)
    func deliveredOnceAcrossRestart(moment: HostileMoment) async throws {
        let clock = ManualClock(moment.time, ticking: true)
        let receiver = Receiver(failures: 2)
        let (receiverTask, port) = try await receiver.start()
        defer { receiverTask.cancel() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meterr-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let secret = Mutex<String?>(nil)
        let configure: (inout ServerConfiguration, Int) -> Void = { configuration, _ in
            configuration.upstreamAllowHosts = ["127.0.0.1"]
            configuration.webhookRetryBase = .milliseconds(300)
            configuration.publicURL = "https://meterr.example.com"
        }
        try await withGateway(directory: directory, clock: clock, configure: configure) { client, _ in
            let hook = try await client.post("/api/webhooks", #"{"url":"http://127.0.0.1:\#(port)/hook"}"#)
            #expect(hook.status == .created)
            secret.withLock { $0 = hook.json["secret"] as? String }
            // The call (USD 0.08) crosses 50% and the limit at once: one alert, and no forecast at any moment.
            _ = try await client.post(
                "/api/budgets", #"{"name":"tiny","limit_usd":"0.05","thresholds":[50],"time_zone":"\#(moment.zone)"}"#)
            let probe = #"{"model":"gpt-4.1","max_tokens":10000,"messages":[{"role":"user","content":"budget-probe"}]}"#
            _ = try await client.call(
                "/openai/v1/chat/completions", probe, headers: [.authorization: "Bearer \(adminKey)"])
            // Wait for the first failed attempt, then stop this meterr.
            for _ in 0..<300 where receiver.received.withLock({ $0.isEmpty }) {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        #expect(receiver.received.withLock { $0.count } >= 1)
        try await withGateway(directory: directory, clock: clock, configure: configure) { _, _ in
            for _ in 0..<600 where !receiver.received.withLock({ $0.contains { $0.status == 200 } }) {
                try await Task.sleep(for: .milliseconds(10))
            }
            try await Task.sleep(for: .milliseconds(800))  // long enough for a wrong extra retry to show
        }
        let attempts = receiver.received.withLock { $0 }
        #expect(attempts.map(\.status) == [500, 500, 200], "\(attempts.map(\.status))")
        #expect(Set(attempts.map(\.delivery)).count == 1, "one alert, one dedupe key")
        // The receiver checks the signature: HMAC-SHA256 over "t.body" under the secret.
        let last = try #require(attempts.last)
        let parts = Dictionary(
            uniqueKeysWithValues: last.signature.split(separator: ",").map {
                ($0.split(separator: "=")[0], String($0.split(separator: "=")[1]))
            })
        let secretText = try #require(secret.withLock { $0 })
        let key = SymmetricKey(data: Array(secretText.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(parts["t"]!).\(last.body)".utf8), using: key)
        #expect(mac.map { String(format: "%02x", $0) }.joined() == parts["v1"])
        #expect(last.body.contains(#""kind":"budget.threshold""#))
        // Structured facts beside the message, and a link to the page.
        let payload = try #require(try JSONSerialization.jsonObject(with: Data(last.body.utf8)) as? [String: Any])
        let details = try #require(payload["details"] as? [String: String])
        #expect(details["budget_name"] == "tiny" && details["limit_usd"] == "0.050000000")
        #expect(details["period"] == "month" && details["threshold_percent"] == "50" && details["spent_usd"] != nil)
        #expect(payload["url"] as? String == "https://meterr.example.com/budgets")
    }

    @Test("An unacknowledged alert is sent again on its kind's re-notify interval, until acknowledged")
    func renotify() async throws {
        let receiver = Receiver(failures: 0)
        let (receiverTask, port) = try await receiver.start()
        defer { receiverTask.cancel() }
        let clock = ManualClock("2026-08-03T09:00:00Z")
        let configure: (inout ServerConfiguration, Int) -> Void = { configuration, _ in
            configuration.upstreamAllowHosts = ["127.0.0.1"]
            configuration.alertTick = .milliseconds(20)
            configuration.clock = clock.clock
        }
        try await withGateway(configure: configure) { client, _ in
            _ = try await client.post("/api/webhooks", #"{"url":"http://127.0.0.1:\#(port)/hook"}"#)
            _ = try await client.put("/api/policy", #"{"alerts":{"budget.threshold":{"renotify_minutes":30}}}"#)
            _ = try await client.post("/api/budgets", #"{"name":"b","limit_usd":"1","thresholds":[50]}"#)
            _ = try await client.post("/api/usage/events", dollarEvent("d", ts: "2026-08-03T09:00:00Z"))
            func deliveries(atLeast count: Int) async throws -> [String] {
                for _ in 0..<500 where receiver.received.withLock({ $0.count }) < count {
                    try await Task.sleep(for: .milliseconds(10))
                }
                return receiver.received.withLock { $0.map(\.delivery) }
            }
            let first = try await deliveries(atLeast: 1)
            #expect(first.count == 1)
            clock.advance(minutes: 20)
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await deliveries(atLeast: 1).count == 1, "not due before 30 minutes")
            clock.advance(minutes: 11)
            let second = try await deliveries(atLeast: 2)
            #expect(second == [first[0], first[0] + "#2"], "its own dedupe key per reminder")
            #expect(receiver.received.withLock { $0.last?.body.contains(#""renotification":1"#) } == true)
            let alert = try #require(try await client.alerts().first { $0["kind"] as? String == "budget.threshold" })
            _ = try await client.post("/api/alerts/\(alert["id"] as! String)/acknowledge", "{}")
            clock.advance(minutes: 31)
            try await Task.sleep(for: .milliseconds(300))
            #expect(receiver.received.withLock { $0.count } == 2, "acknowledged: no more reminders")
        }
    }

    @Test("Webhook URLs follow the upstream rules: https and public unless allow-listed")
    func urls() async throws {
        try await withApp { client in
            let plainHTTP = try await client.post("/api/webhooks", #"{"url":"http://127.0.0.1:9/hook"}"#)
            #expect(plainHTTP.error["field"] == "url")
            let privateAddress = try await client.post("/api/webhooks", #"{"url":"https://10.0.0.1/hook"}"#)
            #expect(privateAddress.error["field"] == "url")
            let badFormat = try await client.post(
                "/api/webhooks", #"{"url":"https://93.184.216.34/hook","format":"teams"}"#)
            #expect(badFormat.error["field"] == "format")
        }
    }
}
