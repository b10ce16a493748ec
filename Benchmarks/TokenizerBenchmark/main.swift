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
let megabytes = Double(bytes.count) / 1e6
print(String(format: "file %@: %.2f MB, %d cores", file, megabytes, ProcessInfo.processInfo.activeProcessorCount))

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

for encoding in encodings {
    let t0 = now()
    let tokenizer = try Tokenizer.shared(for: encoding)
    let load = now() - t0
    print(
        String(
            format: "%-12@ load %8.1f ms  resident %.1f MB", encoding.rawValue, load * 1000,
            Double(tokenizer.residentBytes) / 1e6))
    bytes.withUnsafeBufferPointer { buf in
        let (tc, count) = best { tokenizer.count(buf) }
        print(String(format: "%-12@ %-15@ %8.1f MB/s  %d tokens", encoding.rawValue, "count", megabytes / tc, count))
        let (te, ids) = best { tokenizer.encode(buf).count }
        print(String(format: "%-12@ %-15@ %8.1f MB/s  %d tokens", encoding.rawValue, "encode", megabytes / te, ids))
        let (tp, parallel) = best { tokenizer.countParallel(buf) }
        print(
            String(
                format: "%-12@ %-15@ %8.1f MB/s  %d tokens%@", encoding.rawValue, "count-parallel", megabytes / tp,
                parallel, parallel == count ? "" : "  MISMATCH"))
    }
}
