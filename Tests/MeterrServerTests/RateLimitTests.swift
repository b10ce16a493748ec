import Foundation
import HTTPTypes
import Hummingbird
import MeterrCore
import MeterrStore
import Testing

@testable import MeterrServer

@Suite("Rate limits")
struct RateLimitTests {
    func principal(_ limits: RateLimits, key: String = "key_a") -> Principal {
        Principal(orgId: "org", keyId: key, scopes: .all, limits: limits)
    }

    @Test("A tier admits its requests per hour, then refuses until the bucket refills")
    func hourlyTier() {
        let limiter = RateLimiter()
        let free = principal(RateLimits(tier: .free))
        for index in 0..<100 { #expect(limiter.admit(free, now: 1000 + Double(index) * 0.01).refusal == nil) }
        let refused = limiter.admit(free, now: 1001)
        #expect(refused.refusal?.contains("100 requests per hour") == true)
        #expect((35...36).contains(refused.retryAfter), "one request per 36 s")
        #expect(refused.remaining == 0)
        #expect(limiter.admit(free, now: 1001 + 37).refusal == nil, "one request refills every 36 s")
        #expect(limiter.admit(principal(RateLimits()), now: 1001).limit == nil, "unlimited keys carry no limit")
    }

    @Test("Requests and tokens per minute hold; finished calls' tokens count")
    func perMinute() {
        let limiter = RateLimiter()
        let key = principal(RateLimits(tier: .unlimited, requestsPerMinute: 2, tokensPerMinute: 1_000))
        #expect(limiter.admit(key, now: 0).refusal == nil)
        limiter.consume(tokens: 1_500, keyId: key.keyId)
        let overTokens = limiter.admit(key, now: 1)
        #expect(overTokens.refusal?.contains("tokens per minute") == true)
        #expect(limiter.admit(key, now: 40).refusal == nil, "the token bucket refilled")
        #expect(limiter.admit(key, now: 40.5).refusal == nil)
        #expect(limiter.admit(key, now: 40.6).refusal?.contains("requests per minute") == true)
    }

    @Test("A key that keeps hitting its limit is blocked for the cool-down, then admitted again")
    func blocking() {
        let limiter = RateLimiter(violationsToBlock: 5, violationWindow: 600, coolDown: 300)
        let key = principal(RateLimits(tier: .unlimited, requestsPerMinute: 1))
        #expect(limiter.admit(key, now: 0).refusal == nil)
        for second in 1...5 { #expect(limiter.admit(key, now: Double(second)).refusal != nil) }
        let blocked = limiter.admit(key, now: 70)
        #expect(blocked.refusal?.contains("blocked") == true, "a refilled bucket does not lift the block")
        #expect(limiter.admit(key, now: 306).refusal == nil)
    }

    @Test("An address that keeps failing authentication is refused for a while, whatever key it sends next")
    func authenticationBackOff() {
        let throttle = AuthenticationThrottle(failures: 3, coolDown: 60)
        for second in 0..<3 { throttle.failed("10.0.0.9", now: Double(second)) }
        #expect(throttle.blocked("10.0.0.9", now: 3) == 59)
        #expect(throttle.blocked("10.0.0.10", now: 3) == nil)
        #expect(throttle.blocked("10.0.0.9", now: 63) == nil)
    }

    @Test("With several nodes each admits its share of a limit, so together they admit the limit")
    func nodeShares() {
        let nodes = NodeCount()
        nodes.set(3)
        // Three nodes, each with its own limiter, as three processes on one database would have.
        let limiters = (0..<3).map { _ in RateLimiter(violationsToBlock: 1_000, nodes: nodes) }
        let key = principal(RateLimits(tier: .unlimited, requestsPerMinute: 30))
        var admitted = 0
        for call in 0..<90 where limiters[call % 3].admit(key, now: 0).refusal == nil { admitted += 1 }
        #expect(admitted == 30, "10 per node")
        // A limit below the number of nodes still lets each node admit one call: max(limit, nodes).
        let tight = principal(RateLimits(tier: .unlimited, requestsPerMinute: 2), key: "key_b")
        #expect((0..<3).filter { limiters[$0].admit(tight, now: 0).refusal == nil }.count == 3)
        // A node leaves: the others take its share, keeping what their buckets already spent.
        nodes.set(2)
        let refilled = (0..<2).map { limiters[$0].admit(key, now: 60) }
        #expect(refilled.map(\.refusal) == [nil, nil])
        #expect(refilled.map(\.limit) == [15, 15])
        // Sign-in back-off: each node blocks an address after its share of the failures.
        nodes.set(3)
        let throttles = (0..<3).map { _ in AuthenticationThrottle(failures: 9, coolDown: 60, nodes: nodes) }
        for attempt in 0..<9 { throttles[attempt % 3].failed("10.0.0.9", now: 0) }
        #expect(throttles.allSatisfy { $0.blocked("10.0.0.9", now: 1) != nil }, "9 failures over 3 nodes block it")
    }

    @Test("Over its limit a gateway call gets a 429 in the provider's shape with Retry-After and x-ratelimit headers")
    func gatewayRefusal() async throws {
        try await withGateway { client, _ in
            let created = try await client.createKey(#"{"name":"slow","scopes":["gateway"],"rpm":2}"#)
            let key = try #require(created["key"] as? String)
            #expect(created["rpm"] as? Int == 2)
            for _ in 0..<2 {
                let ok = try await client.call(
                    "/openai/v1/chat/completions", #"{"model":"gpt-4.1","messages":[]}"#,
                    headers: [.authorization: "Bearer \(key)"])
                #expect(ok.status == .ok)
                #expect(ok.headers[.init("x-ratelimit-limit-requests")!] == "2")
            }
            let openai = try await client.call(
                "/openai/v1/chat/completions", #"{"model":"gpt-4.1","messages":[]}"#,
                headers: [.authorization: "Bearer \(key)"])
            #expect(openai.status == .tooManyRequests)
            #expect((openai.json["error"] as? [String: Any])?["code"] as? String == "rate_limit_exceeded")
            #expect(Int(openai.headers[.retryAfter] ?? "") ?? 0 >= 1)
            #expect(openai.headers[.init("x-ratelimit-remaining-requests")!] == "0")
            let anthropic = try await client.call(
                "/anthropic/v1/messages", #"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}"#,
                headers: [.init("x-api-key")!: key])
            #expect(anthropic.status == .tooManyRequests)
            #expect((anthropic.json["error"] as? [String: Any])?["type"] as? String == "rate_limit_error")
        }
    }

    @Test("An operator sets an organisation's tier; its keys follow it unless they have their own")
    func organisationTier() async throws {
        try await withGateway { client, _ in
            let orgs = try #require(try await client.get("/api/orgs").json["orgs"] as? [[String: Any]])
            let org = try #require(orgs.first?["id"] as? String)
            let set = try await client.execute(
                uri: "/api/orgs/\(org)/tier", method: .put,
                headers: [.authorization: "Bearer \(adminKey)", .contentType: "application/json"],
                body: ByteBuffer(string: #"{"tier":"pro"}"#))
            #expect(set.status == .ok)
            let created = try await client.createKey(#"{"name":"app","scopes":["gateway"]}"#)
            let call = try await client.call(
                "/openai/v1/chat/completions", #"{"model":"gpt-4.1","messages":[]}"#,
                headers: [.authorization: "Bearer \(created["key"] as! String)"])
            #expect(call.headers[.init("x-ratelimit-limit-requests")!] == "1000")
            let bad = try await client.execute(
                uri: "/api/orgs/\(org)/tier", method: .put,
                headers: [.authorization: "Bearer \(adminKey)", .contentType: "application/json"],
                body: ByteBuffer(string: #"{"tier":"platinum"}"#))
            #expect(bad.status == .badRequest)
        }
    }
}
