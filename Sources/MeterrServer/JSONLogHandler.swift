import Foundation
import Logging
import MeterrCore

/// How `meterr serve` writes its log (`log_format`).
public enum LogFormat: String, Sendable {
    /// Lines for people: `2026-12-04T20:00:00+0000 info meterr: message key=value`.
    case text
    /// One JSON object a line, for log collectors: `ts`, `level`, `message`, `logger`, then the metadata.
    case json

    /// The server's logger in this format, on standard error.
    func logger(label: String, level: Logger.Level, clock: WallClock) -> Logger {
        var logger =
            switch self {
            case .text: Logger(label: label) { StreamLogHandler.standardError(label: $0) }
            case .json:
                Logger(label: label) { JSONLogHandler(label: $0, clock: clock, write: JSONLogHandler.standardError) }
            }
        logger.logLevel = level
        return logger
    }
}

/// Writes each log record as one JSON line. meterr logs no provider keys, gateway keys or prompt
/// text in any format; the JSON form only changes the framing.
struct JSONLogHandler: LogHandler {
    let label: String
    let clock: WallClock
    let write: @Sendable (String) -> Void
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    static let standardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data(line.utf8))
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var json = JSONWriter(capacity: 256)
        json.beginObject()
        json.string("ts", clock.now().rfc3339)
        json.string("level", event.level.rawValue)
        json.string("message", event.message.description)
        json.string("logger", label)
        for key in merged.keys.sorted() where !["ts", "level", "message", "logger"].contains(key) {
            json.string(key, merged[key]!.description)
        }
        json.endObject()
        write(String(decoding: json.bytes, as: UTF8.self) + "\n")
    }
}
