import MeterrCore
import MeterrProviders
import Synchronization

/// Who a call is billed to, below the meterr key's organisation.
public struct Attribution: Sendable, Hashable {
    /// The team.
    public var team: String?
    /// The user (for OpenAI-style requests, the body's `user` field when this is `nil`).
    public var user: String?
    /// The project.
    public var project: String?
    /// Free-form attribution (at most 64).
    public var tags: [String: String]

    /// Creates attribution.
    public init(team: String? = nil, user: String? = nil, project: String? = nil, tags: [String: String] = [:]) {
        self.team = team
        self.user = user
        self.project = project
        self.tags = tags
    }
}

/// How the app's direct provider calls are metered: which provider they go to, who they are billed
/// to, and the reporter that carries their usage events to meterr (which prices them).
public struct Metering: Sendable {
    /// The reporter the events go to.
    public var reporter: Reporter
    /// The provider called (its wire format decides how usage is read).
    public var provider: Provider
    /// Who the calls are billed to.
    public var attribution: Attribution
    /// Counts tokens when a provider's own count never arrives (a cut stream): such events say
    /// `usage_source: "estimated"`. MeterrTokenizer's counter is exact for OpenAI models.
    public var estimator: any TokenEstimator
    /// Where calls read their start time (`ts`); tests pin it.
    public var clock: WallClock

    /// Creates metering for one provider.
    public init(
        reporter: Reporter, provider: Provider, attribution: Attribution = Attribution(),
        estimator: any TokenEstimator = ByteLengthEstimator(), clock: WallClock = .system
    ) {
        self.clock = clock
        self.reporter = reporter
        self.provider = provider
        self.attribution = attribution
        self.estimator = estimator
    }
}

/// One metered provider call, from request to usage event: the piece every transport wrapper
/// shares, and what an app with another HTTP stack drives itself.
///
/// Tell it the response head, then the body's bytes as they arrive (whole or streamed), then
/// `finish()`: it reads the usage with the gateway's own parsers and reports one event. A call
/// whose body is abandoned midway reports when it is released, with what it read (estimated).
public final class MeteredCall: Sendable {
    private struct State {
        var meter: ResponseUsageMeter?
        var status = 0
        var upstreamRequestId: String?
        var firstByte: ContinuousClock.Instant?
        var reported = false
    }

    /// The metering the call belongs to.
    public let metering: Metering
    /// The event id the call's usage is reported under.
    public let eventId: String
    private let endpoint: ProviderEndpoint?
    private let facts: RequestFacts
    private let requestBody: [UInt8]
    private let started = ContinuousClock.now
    private let startedAt: Timestamp
    private let state = Mutex(State())

    /// Starts metering a request to `url` (the provider's, or meterr's gateway) with this body.
    public init(
        metering: Metering, url: String, requestBody: [UInt8], eventId: String? = nil
    ) {
        self.metering = metering
        startedAt = metering.clock.now()
        let eventId = eventId ?? Identifier.ordered("evt", length: 22, now: startedAt)
        self.eventId = eventId
        self.requestBody = requestBody
        let (path, query) = Self.pathAndQuery(url)
        let profile = Providers.profile(metering.provider)
        endpoint = profile.endpoint(forPath: path)
        facts = profile.inspect(path: path, query: query, body: requestBody)
    }

    /// Whether the call costs anything (model lists and token counts do not, and report nothing).
    public var isMetered: Bool { endpoint != nil && endpoint != .countTokens }

    /// The response head arrived.
    public func receivedHead(status: Int, headers: [(name: String, value: String)]) {
        let contentType = headers.first { $0.name.lowercased() == "content-type" }?.value
        let requestId = ResponseUsageMeter.requestIdHeaders.lazy.compactMap { name in
            headers.first { $0.name.lowercased() == name }?.value
        }.first
        let streaming = ResponseUsageMeter.isStreamed(
            status: status, contentType: contentType, requested: facts.stream, endpoint: endpoint)
        state.withLock { state in
            state.status = status
            state.upstreamRequestId = requestId
            state.meter = ResponseUsageMeter(
                provider: metering.provider, endpoint: endpoint, contentType: contentType, streaming: streaming)
        }
    }

    /// More of the body arrived.
    public func received(_ bytes: some Sequence<UInt8>) {
        state.withLock { state in
            if state.firstByte == nil { state.firstByte = .now }
            state.meter?.feed(bytes)
        }
    }

    /// The body ended (`complete: false` when it was cut or abandoned): reports the call's usage
    /// event once, and returns it (`nil` for calls that cost nothing or never got a response).
    @discardableResult
    public func finish(complete: Bool = true) -> UsageEvent? {
        let taken = state.withLock { state -> (reading: UsageReading, response: State)? in
            guard !state.reported, var meter = state.meter else { return nil }
            state.reported = true
            var reading = meter.finish()
            if !complete { reading.finished = false }
            return (reading, state)
        }
        guard let (reading, response) = taken, isMetered, let endpoint else { return nil }
        let status = response.status
        let stream = response.meter?.streaming ?? false
        let model = reading.model ?? facts.model ?? "unknown"
        let (usage, source) = reading.billedUsage(
            status: status, provider: metering.provider, model: model, requestBody: requestBody,
            estimator: metering.estimator)
        let attribution = metering.attribution
        let event = UsageEvent(
            id: eventId, ts: startedAt, org: "", team: attribution.team, user: attribution.user ?? facts.user,
            project: attribution.project, tags: attribution.tags, provider: metering.provider, model: model,
            modelRequested: facts.model, endpoint: endpoint.rawValue, usage: usage, usageSource: source,
            stream: stream, status: status, latencyMs: Self.milliseconds(.now - started),
            ttftMs: stream ? response.firstByte.map { Self.milliseconds($0 - started) } : nil,
            upstreamRequestId: response.upstreamRequestId ?? reading.responseId, route: "sdk")
        metering.reporter.report(event)
        return event
    }

    deinit {
        finish(complete: false)
    }

    static func milliseconds(_ duration: Duration) -> Int { Int(duration.wholeMilliseconds) }

    /// The path and query of a URL, without depending on Foundation's URL parsing.
    static func pathAndQuery(_ url: String) -> (path: String, query: String?) {
        var rest = Substring(url)
        if let scheme = rest.range(of: "://") {
            rest = rest[scheme.upperBound...]
            rest = rest[(rest.firstIndex(of: "/") ?? rest.endIndex)...]
        }
        let parts = rest.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = parts.first.map(String.init) ?? ""
        return (path.isEmpty ? "/" : path, parts.count > 1 ? String(parts[1]) : nil)
    }
}
