/// The HTTP headers of meterr's gateway contract (DESIGN.md): the attribution a caller adds to a
/// provider call, and what meterr answers with.
public enum MeterrHeader {
    /// A meterr key, for callers whose provider SDK carries their own provider key.
    public static let key = "x-meterr-key"
    /// The team a call is billed to.
    public static let team = "x-meterr-team"
    /// The user a call is billed to.
    public static let user = "x-meterr-user"
    /// The project a call is billed to.
    public static let project = "x-meterr-project"
    /// Free-form attribution, `k=v,k2=v2`.
    public static let tags = "x-meterr-tags"
    /// meterr's id of the call, on every response.
    public static let requestId = "x-meterr-request-id"
    /// The call's exact cost, on non-streaming responses.
    public static let cost = "x-meterr-cost-usd"
    /// `compatible` on a `/v1` call: the provider's own OpenAI-compatible surface serves it, untranslated.
    public static let wire = "x-meterr-wire"
    /// `drop` (the default) or `reject`: what a translated `/v1` call does with parameters the provider
    /// cannot honour.
    public static let unsupportedParameters = "x-meterr-unsupported-params"
    /// The parameters a translated call left out, on its answer.
    public static let droppedParameters = "x-meterr-dropped-params"
    /// `on`, `off` or `refresh` on a call: use the response cache, skip it, or call the provider and
    /// store the new answer; `hit`, `miss` or `bypass` on the answer of a call the cache covers.
    public static let cache = "x-meterr-cache"
    /// How many seconds a call's answer stays in the response cache.
    public static let cacheTTL = "x-meterr-cache-ttl"

    /// Tags as the value of `x-meterr-tags`: `k=v` pairs in key order, joined by commas.
    public static func tagsValue(_ tags: [String: String]) -> String {
        tags.keys.sorted().map { "\($0)=\(tags[$0] ?? "")" }.joined(separator: ",")
    }
}
