import Foundation
import MeterrCore

/// Buffered standard output: one write call per 64 KiB instead of one per line.
final class OutputBuffer {
    private var buffer: [UInt8] = []

    init() { buffer.reserveCapacity(1 << 16) }

    func write(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 16 { flush() }
    }

    func write(_ bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 16 { flush() }
    }

    func flush() {
        buffer.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Foundation.write(1, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    deinit { flush() }
}

/// Reads a file line by line without loading it whole.
final class LineReader {
    private let handle: FileHandle
    private var pending = Data()
    private var start: Data.Index
    private var atEnd = false
    /// The number of the line last returned, from 1.
    private(set) var lineNumber = 0

    init(path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw MeterrError(.notFound, "cannot open \(path)")
        }
        self.handle = handle
        self.start = pending.startIndex
    }

    deinit { try? handle.close() }

    /// The next line without its newline, or `nil` at the end of the file.
    func next() -> Data? {
        while true {
            if let newline = pending[start...].firstIndex(of: 0x0A) {
                let line = pending[start..<newline]
                start = pending.index(after: newline)
                lineNumber += 1
                return line
            }
            if atEnd {
                guard start < pending.endIndex else { return nil }
                let line = pending[start...]
                start = pending.endIndex
                lineNumber += 1
                return line
            }
            let chunk = handle.readData(ofLength: 1 << 20)
            pending = Data(pending[start...]) + chunk
            start = pending.startIndex
            if chunk.isEmpty { atEnd = true }
        }
    }

    /// Whether a line holds nothing but whitespace.
    static func isBlank(_ line: Data) -> Bool { line.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D } }
}

/// A progress bar on standard error, shown only on a terminal.
struct Progress {
    let total: Int
    let enabled = isatty(2) == 1

    func show(_ done: Int) {
        guard enabled, total > 0 else { return }
        let width = 30
        let filled = done * width / total
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        FileHandle.standardError.write(Data("\r[\(bar)] \(done)/\(total)".utf8))
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// The CSV form of usage events (shared with the dashboard's export).
typealias CSV = UsageEventCSV
