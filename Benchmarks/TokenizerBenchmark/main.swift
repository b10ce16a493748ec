// meterr-tokenizer-bench: throughput of MeterrTokenizer on one file.
//
//   meterr-tokenizer-bench FILE [--encoding o200k_base|cl100k_base|tekken|all] [--repeat N]
//
// Prints one line per measurement: encoding, mode (load, count, encode, count-parallel), MB/s (best of N), tokens.
import Foundation
import MeterrTokenizer

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

var args = Array(CommandLine.arguments.dropFirst())
var encodings: [Encoding] = [.o200kBase, .cl100kBase]
var repeats = 5
var file: String?
while !args.isEmpty {
    let a = args.removeFirst()
    switch a {
    case "--encoding":
        let name = args.removeFirst()
        encodings = name == "all" ? Encoding.allCases : [Encoding(name: name)!]
    case "--repeat":
        repeats = Int(args.removeFirst())!
    default:
        file = a
    }
}
guard let file, let data = FileManager.default.contents(atPath: file) else {
    print("usage: meterr-tokenizer-bench FILE [--encoding NAME|all] [--repeat N]")
    exit(2)
}
let bytes = [UInt8](data)
let text = String(decoding: bytes, as: UTF8.self)
let megabytes = Double(bytes.count) / 1e6
print(String(format: "file %@: %.2f MB, %d cores", file, megabytes, ProcessInfo.processInfo.activeProcessorCount))

/// Resident set size of this process in MB (Linux /proc), 0 elsewhere.
func residentMB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS") })
    else { return 0 }
    return Double(line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0) / 1024
}

@MainActor func best(_ body: () -> Int) -> (Double, Int) {
    var bestTime = Double.infinity
    var result = 0
    for _ in 0..<repeats {
        let t0 = now()
        result = body()
        bestTime = min(bestTime, now() - t0)
    }
    return (bestTime, result)
}

// Resident memory of the shared tokenizers themselves: process RSS before and after loading all of them.
let rssBefore = residentMB()
var firstLoad: [Encoding: Double] = [:]
for encoding in encodings {
    let t0 = now()
    _ = try Tokenizer.shared(for: encoding)
    firstLoad[encoding] = now() - t0
}
print(
    String(
        format: "resident: process %.1f MB before loading, %.1f MB after loading %@", rssBefore, residentMB(),
        encodings.map(\.rawValue).joined(separator: " + ")))

for encoding in encodings {
    let tokenizer = try Tokenizer.shared(for: encoding)
    let load = firstLoad[encoding] ?? 0
    // A fresh load (resource read, SHA-256 check, parse) best of N, after the first one above.
    let (reload, _) = best { (try? Tokenizer(encoding: encoding))?.vocabularySize ?? 0 }
    print(
        String(
            format: "%-12@ load %5.1f ms to first use, %.1f ms best of %d fresh loads; tables %.1f MB",
            encoding.rawValue,
            load * 1000, reload * 1000, repeats, Double(tokenizer.residentBytes) / 1e6))
    // Text in, like tiktoken's `str`: a Swift String is already valid UTF-8 (decoding is outside both timings).
    let (tc, count) = best { tokenizer.count(text) }
    print(String(format: "%-12@ %-15@ %8.1f MB/s  %d tokens", encoding.rawValue, "count", megabytes / tc, count))
    let (te, ids) = best { tokenizer.encode(text).count }
    print(String(format: "%-12@ %-15@ %8.1f MB/s  %d tokens", encoding.rawValue, "encode", megabytes / te, ids))
    let (tp, parallel) = best { tokenizer.countParallel(text) }
    print(
        String(
            format: "%-12@ %-15@ %8.1f MB/s  %d tokens%@", encoding.rawValue, "count-parallel", megabytes / tp,
            parallel, parallel == count ? "" : "  MISMATCH"))
    // Raw bytes (the CLI's path): adds a UTF-8 validation pass.
    bytes.withUnsafeBufferPointer { buf in
        let (tb, byteCount) = best { tokenizer.count(buf) }
        print(
            String(
                format: "%-12@ %-15@ %8.1f MB/s  %d tokens%@", encoding.rawValue, "count-bytes", megabytes / tb,
                byteCount, byteCount == count ? "" : "  MISMATCH"))
    }
}
