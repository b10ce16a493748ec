import MeterrCore
import MeterrProviders
import MeterrStore
import NIOHTTP1

/// Attribution a call carries: what its key is bound to, and for the rest the caller's
/// `x-meterr-team|user|project|tags` headers and OpenAI's `user` field. A key bound to a team bills
/// that team whatever the headers say.
struct Attribution: Sendable {
    var team: String?
    var user: String?
    var project: String?
    var tags: [String: String] = [:]

    init(_ headers: HTTPHeaders, facts: RequestFacts, principal: Principal) {
        self.init(headers, facts: facts)
        team = principal.team ?? team
        user = principal.user ?? user
        project = principal.project ?? project
    }

    init(_ headers: HTTPHeaders, facts: RequestFacts) {
        team = headers.value(MeterrHeader.team).flatMap { $0.isEmpty ? nil : String($0.prefix(256)) }
        user =
            headers.value(MeterrHeader.user).flatMap { $0.isEmpty ? nil : String($0.prefix(256)) }
            ?? facts.user.map { String($0.prefix(256)) }
        project = headers.value(MeterrHeader.project).flatMap { $0.isEmpty ? nil : String($0.prefix(256)) }
        guard let tagList = headers.value(MeterrHeader.tags) else { return }
        for pair in tagList.split(separator: ",").prefix(64) {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = parts[0].trimmingCharacters(in: .whitespaces)
            if !key.isEmpty {
                tags[String(key.prefix(128))] = String(parts[1].trimmingCharacters(in: .whitespaces).prefix(256))
            }
        }
    }
}
