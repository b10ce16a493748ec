import MeterrCore
import Synchronization

/// One answer in the response cache: the bytes the provider sent, as it sent them, and what they
/// cost to make.
public struct CachedAnswer: Sendable, Hashable {
    /// Whether the bytes are a whole answer or a stream of events.
    public enum Shape: String, Sendable, Hashable, CaseIterable {
        case whole, stream
    }

    public var shape: Shape
    /// The provider that answered, and the format its bytes are in (OpenAI's for compatible surfaces).
    public var provider: Provider
    public var format: Provider
    /// The model that answered, as the provider named it.
    public var model: String
    public var contentType: String
    public var body: [UInt8]
    /// What the provider billed for the answer: a hit saves its price.
    public var usage: Usage
    /// The provider's id of the answer (replaced on replay).
    public var responseId: String?
    public var storedAt: Timestamp
    public var expiresAt: Timestamp
    /// Who caused the answer to be stored (the call's user), so forgetting a user forgets it too.
    public var user: String?

    public init(
        shape: Shape, provider: Provider, format: Provider, model: String, contentType: String, body: [UInt8],
        usage: Usage, responseId: String?, storedAt: Timestamp, expiresAt: Timestamp, user: String?
    ) {
        self.shape = shape
        self.provider = provider
        self.format = format
        self.model = model
        self.contentType = contentType
        self.body = body
        self.usage = usage
        self.responseId = responseId
        self.storedAt = storedAt
        self.expiresAt = expiresAt
        self.user = user
    }

    /// What an entry counts against the cache's size cap.
    public var size: Int { body.count + model.utf8.count + contentType.utf8.count + 256 }
}

/// Where an answer is kept: its organisation and the key of its request.
struct AnswerKey: Hashable, Sendable {
    var org: String
    var key: String
}

/// How many answers a cache holds and how much room they take.
public struct ResponseCacheStats: Sendable, Hashable, Codable {
    public var entries: Int
    public var bytes: Int
    public var maxBytes: Int

    public init(entries: Int, bytes: Int, maxBytes: Int) {
        self.entries = entries
        self.bytes = bytes
        self.maxBytes = maxBytes
    }

    enum CodingKeys: String, CodingKey {
        case entries, bytes
        case maxBytes = "max_bytes"
    }
}

/// Where cached answers live: per organisation and key, one answer per shape; least recently used
/// answers go first when the cache is full, expired ones are never served.
public protocol ResponseCacheStore: Sendable {
    /// The unexpired answers under a key (at most one per shape); a hit marks them used.
    func answers(org: String, key: String, now: Timestamp) async throws -> [CachedAnswer]
    /// Stores an answer (replacing the one of its shape under the key), evicting to stay in the cap.
    func store(org: String, key: String, _ answer: CachedAnswer) async throws
    /// Drops an organisation's answers (every organisation's when `nil`); returns how many.
    func purge(org: String?) async throws -> Int
    /// Drops the answers the given users caused.
    func forget(org: String, users: [String]) async throws -> Int
    /// An organisation's answers and their size (every organisation's when `nil`).
    func stats(org: String?) async throws -> ResponseCacheStats
}

/// The response cache in memory: for small deployments and tests; empty after a restart.
public final class MemoryResponseCache: ResponseCacheStore {
    private struct Entry {
        var answer: CachedAnswer
        var used: UInt64
    }

    /// An answer's place: its key and its shape.
    private struct Slot: Hashable {
        var id: AnswerKey
        var shape: CachedAnswer.Shape
    }

    private struct State {
        var entries: [Slot: Entry] = [:]
        var bytes = 0
        var tick: UInt64 = 0
    }

    private let state = Mutex(State())
    public let maxBytes: Int

    public init(maxBytes: Int) { self.maxBytes = maxBytes }

    public func answers(org: String, key: String, now: Timestamp) async throws -> [CachedAnswer] {
        state.withLock { state in
            var found: [CachedAnswer] = []
            for shape in CachedAnswer.Shape.allCases {
                let id = Slot(id: AnswerKey(org: org, key: key), shape: shape)
                guard let entry = state.entries[id] else { continue }
                if entry.answer.expiresAt <= now {
                    state.bytes -= entry.answer.size
                    state.entries[id] = nil
                    continue
                }
                state.tick += 1
                state.entries[id]?.used = state.tick
                found.append(entry.answer)
            }
            return found
        }
    }

    public func store(org: String, key: String, _ answer: CachedAnswer) async throws {
        let maxBytes = self.maxBytes
        state.withLock { state in
            guard answer.size <= maxBytes else { return }
            let id = Slot(id: AnswerKey(org: org, key: key), shape: answer.shape)
            if let old = state.entries[id] { state.bytes -= old.answer.size }
            state.tick += 1
            state.entries[id] = Entry(answer: answer, used: state.tick)
            state.bytes += answer.size
            guard state.bytes > maxBytes else { return }
            // Expired answers first, then the least recently used, down to nine tenths of the cap.
            let now = answer.storedAt
            for (id, entry) in state.entries where entry.answer.expiresAt <= now {
                state.bytes -= entry.answer.size
                state.entries[id] = nil
            }
            let order = state.entries.sorted { $0.value.used < $1.value.used }
            for (id, entry) in order where state.bytes > maxBytes * 9 / 10 {
                state.bytes -= entry.answer.size
                state.entries[id] = nil
            }
        }
    }

    public func purge(org: String?) async throws -> Int {
        drop { entryOrg, _ in org == nil || entryOrg == org }
    }

    public func forget(org: String, users: [String]) async throws -> Int {
        let names = Set(users)
        return drop { entryOrg, answer in entryOrg == org && answer.user.map(names.contains) == true }
    }

    private func drop(where matches: (String, CachedAnswer) -> Bool) -> Int {
        state.withLock { state in
            var dropped = 0
            for (slot, entry) in state.entries {
                guard matches(slot.id.org, entry.answer) else { continue }
                state.bytes -= entry.answer.size
                state.entries[slot] = nil
                dropped += 1
            }
            return dropped
        }
    }

    public func stats(org: String?) async throws -> ResponseCacheStats {
        state.withLock { state in
            guard let org else {
                return ResponseCacheStats(entries: state.entries.count, bytes: state.bytes, maxBytes: maxBytes)
            }
            let mine = state.entries.filter { $0.key.id.org == org }
            return ResponseCacheStats(
                entries: mine.count, bytes: mine.values.reduce(0) { $0 + $1.answer.size }, maxBytes: maxBytes)
        }
    }
}
