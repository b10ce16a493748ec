import CZlib
import Crypto
import Foundation
import MeterrCore

/// Streams a file through zlib into a gzip file and back, 1 MiB at a time, so a database of any
/// size is compressed in constant memory.
enum Gzip {
    static let chunk = 1 << 20

    /// Compresses `source` into `destination`; returns the SHA-256 (hex) and size of what it wrote.
    static func compress(_ source: String, to destination: String) throws -> (sha256: String, bytes: Int64) {
        let input = try open(source, reading: true)
        defer { try? input.close() }
        let output = try open(destination, reading: false)
        defer { try? output.close() }
        var stream = z_stream()
        // windowBits 15 + 16: a gzip header and trailer; memLevel 8 is zlib's default.
        guard
            deflateInit2_(
                &stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)
            )
                == Z_OK
        else { throw MeterrError(.storage, "zlib could not start compressing") }
        defer { deflateEnd(&stream) }
        var hash = SHA256()
        var written: Int64 = 0
        var out = [UInt8](repeating: 0, count: chunk)
        while true {
            let data = try input.read(upToCount: chunk) ?? Data()
            let flush = data.isEmpty ? Z_FINISH : Z_NO_FLUSH
            var status = Z_OK
            try data.withUnsafeBytes { raw in
                stream.next_in = UnsafeMutablePointer(
                    mutating: raw.bindMemory(to: Bytef.self).baseAddress ?? UnsafePointer(bitPattern: 1)!)
                stream.avail_in = uInt(raw.count)
                repeat {
                    let produced = out.withUnsafeMutableBufferPointer { buffer -> Int in
                        stream.next_out = buffer.baseAddress
                        stream.avail_out = uInt(buffer.count)
                        status = deflate(&stream, flush)
                        return buffer.count - Int(stream.avail_out)
                    }
                    guard status != Z_STREAM_ERROR else { throw MeterrError(.storage, "zlib failed while compressing") }
                    if produced > 0 {
                        let bytes = Data(out[..<produced])
                        hash.update(data: bytes)
                        try output.write(contentsOf: bytes)
                        written += Int64(produced)
                    }
                } while stream.avail_out == 0
            }
            if status == Z_STREAM_END { break }
        }
        try output.synchronize()
        return (hash.finalize().map { String(format: "%02x", $0) }.joined(), written)
    }

    /// Decompresses the gzip file `source` into `destination`; throws when it is not whole gzip.
    static func decompress(_ source: String, to destination: String) throws {
        let input = try open(source, reading: true)
        defer { try? input.close() }
        let output = try open(destination, reading: false)
        defer { try? output.close() }
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw MeterrError(.storage, "zlib could not start decompressing")
        }
        defer { inflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: chunk)
        var status = Z_OK
        while status != Z_STREAM_END {
            let data = try input.read(upToCount: chunk) ?? Data()
            if data.isEmpty { throw MeterrError(.storage, "\(source) is cut short: its gzip stream does not end") }
            try data.withUnsafeBytes { raw in
                stream.next_in = UnsafeMutablePointer(mutating: raw.bindMemory(to: Bytef.self).baseAddress!)
                stream.avail_in = uInt(raw.count)
                repeat {
                    let produced = out.withUnsafeMutableBufferPointer { buffer -> Int in
                        stream.next_out = buffer.baseAddress
                        stream.avail_out = uInt(buffer.count)
                        status = inflate(&stream, Z_NO_FLUSH)
                        return buffer.count - Int(stream.avail_out)
                    }
                    guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                        throw MeterrError(.storage, "\(source) is not a whole gzip file (zlib error \(status))")
                    }
                    if produced > 0 { try output.write(contentsOf: Data(out[..<produced])) }
                } while stream.avail_out == 0 && status != Z_STREAM_END
            }
        }
    }

    /// The SHA-256 (hex) of a file, read in chunks.
    static func sha256(of path: String) throws -> String {
        let input = try open(path, reading: true)
        defer { try? input.close() }
        var hash = SHA256()
        while let data = try input.read(upToCount: chunk), !data.isEmpty { hash.update(data: data) }
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }

    static func open(_ path: String, reading: Bool) throws -> FileHandle {
        if reading {
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw MeterrError(.notFound, "cannot read \(path)")
            }
            return handle
        }
        guard FileManager.default.createFile(atPath: path, contents: nil),
            let handle = FileHandle(forWritingAtPath: path)
        else { throw MeterrError(.storage, "cannot write \(path)") }
        return handle
    }
}
