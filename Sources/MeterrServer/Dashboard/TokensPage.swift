import Foundation
import Hummingbird
import MeterrCore
import MeterrPricing
import MeterrTokenizer

/// The token calculator: a prompt (plain text, a chat `messages` array, or a request body) counted
/// and priced for several models side by side, each count marked exact or estimated.
extension DashboardRoutes {
    static let candidateModels = [
        "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-5", "claude-sonnet-4-5", "claude-haiku-4-5", "gemini-2.5-flash",
        "gemini-2.5-pro", "mistral-large-latest", "command-a-03-2025",
    ]

    @Sendable func tokensPage(_ request: Request, context: DashboardContext) async throws -> Response {
        tokensResponse(context, form: nil)
    }

    @Sendable func tokensCalculate(_ request: Request, context: DashboardContext) async throws -> Response {
        let form = try await FormData.read(request, limit: 1 << 20)
        try context.checkCSRF(form)
        return tokensResponse(context, form: form)
    }

    struct Candidate {
        var model: String
        var tokens: TokenCount?
        var quote: CostQuote?
        var problem: String?
    }

    func tokensResponse(_ context: DashboardContext, form: FormData?) -> Response {
        let known = Self.candidateModels.filter { engine.resolve(model: $0, provider: nil) != nil }
        let input = form?["input"] ?? ""
        let chosen =
            form.map { form in
                form.all("model")
                    + (form["other"] ?? "").split(separator: ",").map {
                        $0.trimmingCharacters(in: .whitespaces)
                    }.filter { !$0.isEmpty }
            } ?? Array(known.prefix(4))
        let output = form?.nonEmpty("output").flatMap(Int.init).map { max(0, $0) } ?? 0
        var results: [Candidate] = []
        if form != nil, !input.isEmpty {
            results = chosen.map { candidate(model: $0, input: input, output: output, org: context.orgId) }
        }
        let boxes = (known + chosen.filter { !known.contains($0) }).html { model in
            let checked: HTML = chosen.contains(model) ? " checked" : ""
            return
                "<label><span><input type=\"checkbox\" name=\"model\" value=\"\(model)\"\(checked)> \(model)</span></label>"
        }
        let rows = results.html { result in
            let tokens: HTML =
                result.tokens.map {
                    "\(Format.count($0.count)) <span class=\"\($0.exact ? "good" : "warn")\">\($0.exact ? "exact" : "estimated")</span>"
                } ?? "—"
            let cost: HTML =
                result.quote.map { "<span data-usd=\"\($0.cost.decimalString)\">\(Format.usd($0.cost))</span>" }
                ?? "<span class=\"muted\">\(result.problem ?? "no price")</span>"
            return """
                <tr><th scope="row">\(result.model)</th><td class="num">\(tokens)</td>\
                <td class="num">\(Format.count(output))</td><td class="num">\(cost)</td>\
                <td>\(result.quote?.priceId ?? "")</td></tr>
                """
        }
        let table: HTML =
            results.isEmpty
            ? ""
            : """
            <section class="panel" aria-live="polite"><table id="token-results"><caption>Prompt tokens and cost per model\
            </caption><thead><tr><th scope="col">Model</th><th scope="col" class="num">Prompt tokens</th>\
            <th scope="col" class="num">Output tokens</th><th scope="col" class="num">Cost of one call</th>\
            <th scope="col">Price</th></tr></thead><tbody>\(rows)</tbody></table></section>
            """
        let body: HTML = """
            <h1>Token calculator</h1>
            \(table)
            <section class="panel"><form class="stack" method="post" action="/tokens">\
            <input type="hidden" name="csrf" value="\(context.session.csrf)">
            <label for="t-input">Text, a chat messages array, or a request body (JSON with messages/tools/input)\
            <textarea id="t-input" name="input" required>\(input)</textarea></label>
            <fieldset><legend>Models</legend>\(boxes)</fieldset>
            <label for="t-other">Other models (comma-separated)<input id="t-other" name="other"></label>
            <label for="t-output">Expected output tokens<input id="t-output" name="output" type="number" min="0" \
            value="\(output)"></label>
            <button type="submit">Count and price</button></form></section>
            """
        return page("Token calculator", context, current: "/tokens", body)
    }

    func candidate(model: String, input: String, output: Int, org: String) -> Candidate {
        var result = Candidate(model: model)
        do {
            let trimmed = input.trimmingCharacters(in: .whitespacesAndNewlines)
            let count: TokenCount
            if trimmed.hasPrefix("[") {
                count = try TokenCounter.count(model: model, messages: Data(trimmed.utf8))
            } else if trimmed.hasPrefix("{"),
                let body = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: Any]
            {
                var request = body
                request["model"] = model
                count = try TokenCounter.count(requestJSON: try JSONSerialization.data(withJSONObject: request))
            } else {
                count = try TokenCounter.count(model: model, text: input)
            }
            result.tokens = count
            if engine.resolve(model: model, provider: nil) != nil {
                result.quote = try engine.cost(
                    model: model, usage: Usage(inputTokens: count.count, outputTokens: output), at: clock.now(),
                    org: org)
            }
        } catch {
            result.problem = "cannot count: \(error)"
        }
        return result
    }
}
