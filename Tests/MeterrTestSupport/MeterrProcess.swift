import Foundation
import MeterrCore
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The `meterr` binary that `swift build` put beside the test bundle.
public let meterrBinary: String = {
    let executable =
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        ?? CommandLine.arguments[0]
    var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
    // On Linux the bundle is one file in the build folder; elsewhere it is a folder.
    while !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("meterr").path),
        directory.path != "/"
    {
        directory.deleteLastPathComponent()
    }
    return directory.appendingPathComponent("meterr").path
}()

/// A fresh data directory (not created), removed when the test process exits, with the files a test
/// put beside it (`<directory>-server.log`).
public func temporaryDirectory() -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("meterr-cli-\(UUID().uuidString)").path
    handedOut.withLock { paths in
        if paths.isEmpty { atexit(removeHandedOut) }
        paths.append(path)
    }
    return path
}

/// The directories `temporaryDirectory` handed out.
private let handedOut = Mutex<[String]>([])

private func removeHandedOut() {
    let paths = handedOut.withLock { $0 }
    let names = Set(paths.map { ($0 as NSString).lastPathComponent })
    for parent in Set(paths.map { ($0 as NSString).deletingLastPathComponent }) {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []
        where names.contains(where: entry.hasPrefix) {
            try? FileManager.default.removeItem(atPath: (parent as NSString).appendingPathComponent(entry))
        }
    }
}

/// The result of one CLI run.
public struct CommandResult: Sendable {
    /// The exit status.
    public var status: Int32
    /// What it printed on standard output.
    public var output: String
    /// What it printed on standard error.
    public var errorOutput: String
}

/// Runs blocking work (a child process, its pipes) on a thread of its own, so the tests' small
/// concurrency pool stays free for the servers and clients under test.
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

/// Runs `meterr` with arguments to completion.
public func runMeterr(_ arguments: [String], environment: [String: String] = [:]) async throws -> CommandResult {
    try await onOwnThread { try runMeterrBlocking(arguments, environment: environment) }
}

/// What a child wrote on standard error: written by the reading thread before it signals, read after.
private final class ErrorOutput: @unchecked Sendable {
    var data = Data()
}

private func runMeterrBlocking(_ arguments: [String], environment: [String: String]) throws -> CommandResult {
    let process = try ChildProcess(
        path: meterrBinary, arguments: arguments,
        environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
    // Standard error is read on another thread while standard output is read here, so neither
    // pipe can fill and stall the child.
    let errors = ErrorOutput()
    let done = DispatchSemaphore(value: 0)
    Thread {
        errors.data = ChildProcess.readAll(process.errorOutput)
        done.signal()
    }.start()
    let outData = ChildProcess.readAll(process.output)
    done.wait()
    let status = process.wait()
    return CommandResult(
        status: status, output: String(decoding: outData, as: UTF8.self),
        errorOutput: String(decoding: errors.data, as: UTF8.self))
}

/// A running `meterr serve` on a free port.
public final class ServerProcess: @unchecked Sendable {
    // Only the test task touches these, one step at a time.
    let process: ChildProcess
    /// The port it listens on.
    public let port: Int
    /// The admin key it was started with (or printed).
    public let adminKey: String
    /// What it printed up to the "listening" line.
    public let firstLines: [String]

    /// Starts `meterr serve` on `port` (0: a free one) and waits until it listens.
    public static func start(
        dataDirectory: String, adminKey: String? = "mk_cliadminkeycliadminkey0001", logFile: String? = nil,
        port: Int = 0, environment: [String: String] = [:], arguments: [String] = []
    ) async throws -> ServerProcess {
        try await onOwnThread {
            try ServerProcess(
                dataDirectory: dataDirectory, adminKey: adminKey, logFile: logFile, port: port,
                environment: environment, arguments: arguments)
        }
    }

    init(
        dataDirectory: String, adminKey: String? = "mk_cliadminkeycliadminkey0001", logFile: String? = nil,
        port requested: Int = 0, environment extra: [String: String] = [:], arguments: [String] = []
    ) throws {
        var environment = ProcessInfo.processInfo.environment
        environment["METERR_ADMIN_KEY"] = adminKey
        if adminKey == nil { environment.removeValue(forKey: "METERR_ADMIN_KEY") }
        environment["METERR_LOG_LEVEL"] = logFile == nil ? "warning" : "trace"
        environment.merge(extra) { $1 }
        let child = try ChildProcess(
            path: meterrBinary, arguments: ["serve", "--port", String(requested), "--data", dataDirectory] + arguments,
            environment: environment, output: .capture, errorOutput: logFile.map { .file($0) } ?? .discard)
        process = child
        // Read stdout up to the "listening" line, which names the port.
        var lines: [String] = []
        var pending = Data()
        var port: Int?
        var buffer = [UInt8](repeating: 0, count: 4096)
        while port == nil {
            let count = buffer.withUnsafeMutableBytes { read(child.output, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            pending.append(contentsOf: buffer[..<count])
            while let newline = pending.firstIndex(of: 0x0A) {
                let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                pending = Data(pending[pending.index(after: newline)...])
                lines.append(line)
                if line.hasPrefix("meterr listening on "), let text = line.split(separator: ":").last {
                    port = Int(text)
                }
            }
        }
        guard let port else { throw MeterrError(.unavailable, "meterr serve did not start: \(lines)") }
        self.port = port
        self.firstLines = lines
        self.adminKey =
            adminKey ?? lines.first { $0.contains("admin key:") }?.split(separator: " ").last.map(String.init) ?? ""
    }

    /// Sends a signal and returns at once.
    public func send(_ signal: Int32) { process.signal(signal) }

    /// Sends a signal and waits for the process to end; returns its exit status.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM) async -> Int32 {
        process.signal(signal)
        let process = self.process
        return (try? await onOwnThread { process.wait() }) ?? -1
    }

    /// Posts a JSON body to the API; returns the status and body.
    public func post(_ path: String, _ body: Data, method: String = "POST") async throws -> (Int, Data) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.httpBody = body
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("Bearer \(adminKey)", forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    /// Gets a path of the API; returns the status and body.
    public func get(_ path: String) async throws -> (Int, Data) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.setValue("Bearer \(adminKey)", forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    deinit {
        if process.isRunning {
            process.signal(SIGKILL)
            _ = process.wait()
        }
        _ = close(process.output)
    }
}

/// A batch of `count` distinct events as JSON.
public func eventBatch(prefix: String, count: Int, ts: String = "2026-11-10T12:00:00.000Z") -> Data {
    let events = (0..<count).map { index in
        """
        {"id":"\(prefix)-\(index)","ts":"\(ts)","provider":"anthropic","model":"claude-sonnet-4-5",\
        "input_tokens":\(1000 + index),"cache_read_tokens":\(index),"output_tokens":\(100 + index),\
        "cost_usd":"0.00\(index % 10)1","team":"team-\(index % 3)","tags":{"run":"\(prefix)"}}
        """
    }
    return Data(("[" + events.joined(separator: ",") + "]").utf8)
}
