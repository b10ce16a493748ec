import Foundation
import MeterrCore
import Testing

@testable import MeterrStore

/// Both response cache stores: expiry, least-recently-used eviction under the cap, organisations apart.
@Suite("The response cache's stores")
struct ResponseCacheStoreTests {
    static let now = Timestamp(rfc3339: "2026-12-31T23:59:00Z")!

    static func answer(
        _ shape: CachedAnswer.Shape = .whole, bytes: Int = 1_000, at time: Timestamp = now, ttl: Int64 = 60_000,
        user: String? = nil
    ) -> CachedAnswer {
        CachedAnswer(
            shape: shape, provider: .openai, format: .openai, model: "gpt-4.1", contentType: "application/json",
            body: Array(repeating: UInt8(ascii: "x"), count: bytes), usage: Usage(inputTokens: 10, outputTokens: 2),
            responseId: "chatcmpl-1", storedAt: time, expiresAt: time.adding(milliseconds: ttl), user: user)
    }

    static func stores() throws -> [(String, any ResponseCacheStore)] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cache-\(UUID().uuidString)").path
        return [
            ("memory", MemoryResponseCache(maxBytes: 20_000)),
            ("sqlite", try SQLiteResponseCache(directory: directory, maxBytes: 20_000)),
        ]
    }

    @Test("An answer is served until it expires, one per shape, and only to its organisation")
    func lifetime() async throws {
        for (name, store) in try Self.stores() {
            try await store.store(org: "a", key: "k", Self.answer(.whole))
            try await store.store(org: "a", key: "k", Self.answer(.stream))
            #expect(try await store.answers(org: "a", key: "k", now: Self.now).count == 2, "\(name)")
            #expect(try await store.answers(org: "b", key: "k", now: Self.now).isEmpty, "\(name)")
            let stored = try #require(try await store.answers(org: "a", key: "k", now: Self.now).first)
            #expect(stored.body.count == 1_000 && stored.usage.inputTokens == 10 && stored.model == "gpt-4.1")
            // Across the year's end, a minute later: expired.
            let later = Self.now.adding(milliseconds: 60_000)
            #expect(try await store.answers(org: "a", key: "k", now: later).isEmpty, "\(name)")
        }
    }

    @Test("Over the cap the least recently used answers go first; stats, forget and purge count what they drop")
    func eviction() async throws {
        for (name, store) in try Self.stores() {
            // Ten answers of 1,279 bytes each (body, names and a fixed 256), stored a millisecond apart.
            for index in 0..<10 {
                try await store.store(
                    org: "a", key: "k\(index)",
                    Self.answer(
                        bytes: 1_000, at: Self.now.adding(milliseconds: Int64(index)), user: index == 9 ? "ana" : nil))
            }
            // k0 is used: k1 becomes the oldest.
            #expect(try await store.answers(org: "a", key: "k0", now: Self.now.adding(milliseconds: 100)).count == 1)
            try await Task.sleep(for: .milliseconds(50))
            // 8,279 more bytes: 21,069 > 20,000, so down to 18,000: k1, k2 and k3 go.
            try await store.store(
                org: "a", key: "k10", Self.answer(bytes: 8_000, at: Self.now.adding(milliseconds: 200)))
            let stats = try await store.stats(org: "a")
            #expect(stats.bytes <= 18_000 && stats.entries == 8, "\(name): \(stats)")
            for gone in ["k1", "k2", "k3"] {
                #expect(try await store.answers(org: "a", key: gone, now: Self.now).isEmpty, "\(name): \(gone) went")
            }
            for kept in ["k0", "k4", "k10"] {
                #expect(try await store.answers(org: "a", key: kept, now: Self.now).count == 1, "\(name): \(kept)")
            }
            #expect(try await store.forget(org: "a", users: ["ana"]) == 1, "\(name)")
            try await store.store(org: "b", key: "k", Self.answer())
            let before = try await store.stats(org: "a").entries
            #expect(try await store.purge(org: "a") == before, "\(name)")
            #expect(try await store.stats(org: nil).entries == 1, "\(name)")
            #expect(try await store.stats(org: "b").entries == 1, "\(name)")
        }
    }

    @Test("The file serves what its memory tier let go, and what a restarted meterr finds; uses reach the file")
    func memoryTier() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cache-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteResponseCache(directory: directory, maxBytes: 20_000, hotBytes: 3_000)
        for index in 0..<5 {
            try await store.store(
                org: "a", key: "k\(index)", Self.answer(at: Self.now.adding(milliseconds: Int64(index))))
        }
        for index in 0..<5 {
            #expect(try await store.answers(org: "a", key: "k\(index)", now: Self.now).count == 1, "k\(index)")
        }
        let reopened = try SQLiteResponseCache(directory: directory, maxBytes: 20_000)
        #expect(try await reopened.stats(org: "a").entries == 5)
        #expect(try await reopened.answers(org: "a", key: "k3", now: Self.now).first?.body.count == 1_000)
        // Forgetting and purging reach the memory tier too.
        try await reopened.store(org: "a", key: "u", Self.answer(user: "zoe.forgotten@example.com"))
        #expect(try await reopened.forget(org: "a", users: ["zoe.forgotten@example.com"]) == 1)
        #expect(try await reopened.answers(org: "a", key: "u", now: Self.now).isEmpty)
        // No trace of the person is left in the file or its write-ahead log.
        for suffix in ["", "-wal"] {
            let data =
                (try? Data(contentsOf: URL(fileURLWithPath: directory + "/response-cache.sqlite" + suffix))) ?? Data()
            #expect(data.range(of: Data("zoe.forgotten".utf8)) == nil, "response-cache.sqlite\(suffix)")
        }
        #expect(try await reopened.purge(org: "a") == 5)
        #expect(try await reopened.answers(org: "a", key: "k3", now: Self.now).isEmpty)
    }
}
