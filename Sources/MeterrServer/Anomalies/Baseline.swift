/// An exponentially weighted mean and variance of one hourly quantity: each finished hour moves the
/// mean by `alpha` of its distance, so recent weeks weigh most and one odd hour fades.
struct Baseline: Sendable, Hashable {
    private(set) var mean = 0.0
    private(set) var variance = 0.0
    /// Hours folded in so far.
    private(set) var hours = 0

    /// Folds in one finished hour (the first hour sets the mean).
    mutating func fold(_ value: Double, alpha: Double) {
        defer { hours += 1 }
        guard hours > 0 else {
            mean = value
            return
        }
        let difference = value - mean
        let increment = alpha * difference
        mean += increment
        variance = (1 - alpha) * (variance + difference * increment)
    }

    var deviation: Double { variance.squareRoot() }
}

/// What an entity (the organisation, a team, a user or a key) has done this hour, and its
/// baselines of cost, tokens and requests per hour.
struct EntityActivity: Sendable {
    /// The start of the hour being counted (milliseconds).
    private(set) var hour: Int64
    var costNanos: Int64 = 0
    var tokens: Int64 = 0
    var requests: Int64 = 0
    private(set) var costBaseline = Baseline()
    private(set) var tokensBaseline = Baseline()
    private(set) var requestsBaseline = Baseline()
    /// The highest rung of the ladder raised this hour for cost and for tokens.
    var costRung = 0
    var tokenRung = 0
    /// Whether its request rate is capped for the rest of the hour.
    var rateLimited = false

    init(hour: Int64) { self.hour = hour }

    /// Hours of baseline behind it.
    var hoursObserved: Int { costBaseline.hours }

    /// Moves on to a later hour, folding the finished hour and any idle hours between (as zeros,
    /// at most 90 days of them) into the baselines.
    mutating func advance(to next: Int64, alpha: Double) {
        guard next > hour else { return }
        fold(alpha: alpha)
        let idle = min((next - hour) / 3_600_000 - 1, 24 * 90)
        if idle > 0 {
            costNanos = 0
            tokens = 0
            requests = 0
            for _ in 0..<idle { fold(alpha: alpha) }
        }
        hour = next
        costNanos = 0
        tokens = 0
        requests = 0
        costRung = 0
        tokenRung = 0
        rateLimited = false
    }

    private mutating func fold(alpha: Double) {
        costBaseline.fold(Double(costNanos), alpha: alpha)
        tokensBaseline.fold(Double(tokens), alpha: alpha)
        requestsBaseline.fold(Double(requests), alpha: alpha)
    }
}
