import ArgumentParser
import Foundation
import MeterrTokenizer

/// `meterr tokens count|encode|decode`: exact token counting from the command line.
struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Count, encode or decode tokens exactly like tiktoken (o200k_base, cl100k_base) or Mistral Tekken.",
        subcommands: [Count.self, Encode.self, Decode.self]
    )

    /// Options shared by the three subcommands.
    struct Options: ParsableArguments {
        @Option(name: .long, help: "Encoding: o200k_base, cl100k_base or tekken.")
        var encoding: String?

        @Option(name: .long, help: "Model name, mapped to its encoding (gpt-4o, gpt-4, mistral-large-latest, …).")
        var model: String?

        @Flag(name: .long, help: "Input is JSON lines; print one JSON result per line.")
        var jsonl = false

        @Argument(help: "Input file, or - for standard input.")
        var input: String = "-"

        func validate() throws {
            if encoding != nil && model != nil { throw TokensCommandError("give --encoding or --model, not both") }
            if let encoding, Encoding(name: encoding) == nil {
                throw TokensCommandError("unknown encoding \(encoding) (o200k_base, cl100k_base, tekken)")
            }
        }

        /// The model's tokenizer kind (`--encoding` is exact; no option means o200k_base); a model of
        /// no provider meterr knows is an error, not a silent default.
        func resolve() throws -> ModelTokenizer {
            guard let model else { return .exact(encoding.flatMap(Encoding.init(name:)) ?? .o200kBase) }
            let kind = ModelMap.tokenizer(for: model)
            if case .estimated(.unknown) = kind {
                throw TokensCommandError(
                    "unknown model \(model): give an OpenAI, Anthropic, Gemini, Mistral or Cohere model, or --encoding")
            }
            return kind
        }

        /// What makes a count not exact, said on standard error beside it.
        func caveat(_ kind: ModelTokenizer) -> String? {
            switch kind {
            case .exact: return nil
            case .approximate(let encoding):
                return "note: an approximation: \(model ?? "") is newer than the tokenizers meterr ships; "
                    + "counted with \(encoding.rawValue)"
            case .estimated:
                return "note: an estimate: \(model ?? "")'s tokenizer is not public; the provider's own count "
                    + "(its usage, or its count-tokens endpoint) is exact"
            }
        }

        /// A real tokenizer, for encode and decode.
        func tokenizer() throws -> Tokenizer {
            guard let encoding = try resolve().encoding else {
                throw TokensCommandError("model \(model ?? "") has no local tokenizer; use --encoding to encode")
            }
            return try Tokenizer.shared(for: encoding)
        }

        func readInput() throws -> Data {
            if input == "-" { return FileHandle.standardInput.readDataToEndOfFile() }
            guard let data = FileManager.default.contents(atPath: input) else {
                throw TokensCommandError("cannot read \(input)")
            }
            return data
        }

        /// Calls `body` with each JSON line's object (blank lines skipped).
        func forEachLine(_ data: Data, _ body: ([String: Any]) throws -> Void) throws {
            var number = 0
            for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
                number += 1
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
                guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                    throw TokensCommandError("line \(number): not a JSON object")
                }
                try body(object)
            }
        }
    }

    struct Count: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the number of tokens.")

        @OptionGroup var options: Options

        func run() async throws {
            let data = try options.readInput()
            let kind = try options.resolve()
            if !options.jsonl, let caveat = options.caveat(kind) {
                FileHandle.standardError.write(Data((caveat + "\n").utf8))
            }
            func count(_ text: String) throws -> Int {
                switch kind {
                case .exact(let e), .approximate(let e):
                    let tokenizer = try Tokenizer.shared(for: e)
                    return text.utf8.count > 1 << 20 ? tokenizer.countParallel(text) : tokenizer.count(text)
                case .estimated(let family):
                    return try TokenEstimate.estimate(text, family: family)
                }
            }
            let suffix = kind.isExact ? "" : ",\"exact\":false"
            if options.jsonl {
                var out = ""
                try options.forEachLine(data) { object in
                    guard let text = object["text"] as? String else { throw TokensCommandError("missing \"text\"") }
                    out += "{\"count\":\(try count(text))\(suffix)}\n"
                }
                print(out, terminator: "")
            } else if kind.isExact, let e = kind.encoding {
                // Bytes straight from the file: invalid UTF-8 is counted like tiktoken's _encode_bytes.
                let tokenizer = try Tokenizer.shared(for: e)
                let n = [UInt8](data).withUnsafeBufferPointer {
                    $0.count > 1 << 20 ? tokenizer.countParallel($0) : tokenizer.count($0)
                }
                print(n)
            } else {
                print(try count(String(decoding: data, as: UTF8.self)))
            }
        }
    }

    struct Encode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the token ids as a JSON array.")

        @OptionGroup var options: Options

        func run() async throws {
            let tokenizer = try options.tokenizer()
            let data = try options.readInput()
            if options.jsonl {
                var out = ""
                try options.forEachLine(data) { object in
                    guard let text = object["text"] as? String else { throw TokensCommandError("missing \"text\"") }
                    out += "{\"ids\":" + jsonArray(tokenizer.encode(text)) + "}\n"
                }
                print(out, terminator: "")
            } else {
                print(jsonArray(tokenizer.encode([UInt8](data))))
            }
        }
    }

    struct Decode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Decode a JSON array of ids to its bytes (with --jsonl: lines of {\"ids\": […]} to {\"text\": …})."
        )

        @OptionGroup var options: Options

        func run() async throws {
            let tokenizer = try options.tokenizer()
            let data = try options.readInput()
            if options.jsonl {
                var out = ""
                try options.forEachLine(data) { object in
                    guard let ids = object["ids"] as? [Int] else { throw TokensCommandError("missing \"ids\"") }
                    let text = String(decoding: try tokenizer.decode(ids), as: UTF8.self)
                    let json = try JSONSerialization.data(withJSONObject: ["text": text], options: [.sortedKeys])
                    out += String(decoding: json, as: UTF8.self) + "\n"
                }
                print(out, terminator: "")
            } else {
                guard let ids = try? JSONSerialization.jsonObject(with: data) as? [Int] else {
                    throw TokensCommandError("input is not a JSON array of token ids")
                }
                FileHandle.standardOutput.write(Data(try tokenizer.decode(ids)))
            }
        }
    }
}

/// A one-line CLI error.
struct TokensCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

private func jsonArray(_ ids: [Int]) -> String {
    var s = "["
    s.reserveCapacity(ids.count * 7 + 2)
    for (i, id) in ids.enumerated() {
        if i > 0 { s += "," }
        s += String(id)
    }
    return s + "]"
}
