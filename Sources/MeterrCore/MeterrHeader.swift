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

    /// Tags as the value of `x-meterr-tags`: `k=v` pairs in key order, joined by commas.
    public static func tagsValue(_ tags: [String: String]) -> String {
        tags.keys.sorted().map { "\($0)=\(tags[$0] ?? "")" }.joined(separator: ",")
    }
}
