import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A child process started with `posix_spawn`, for the tests that run `meterr`, the SDK example and
/// chromedriver. Foundation's `Process.run()` on Linux can crash while it lists `/proc/self/fd`
/// (a buffer over-read, swift-corelibs-foundation PR #5472), most often in a test process that
/// holds many sockets; this does not read that directory.
public final class ChildProcess: Sendable {
    /// The child's process id.
    public let pid: pid_t
    /// The read end of its standard output, or -1 when it was not captured.
    public let output: Int32
    /// The read end of its standard error, or -1 when it was not captured.
    public let errorOutput: Int32

    /// Where a standard stream of the child goes.
    public enum Stream: Sendable {
        /// A pipe the test reads.
        case capture
        /// `/dev/null`.
        case discard
        /// A file, created or truncated.
        case file(String)
    }

    /// Starts `path` with `arguments`; the environment is the whole environment it gets.
    public init(
        path: String, arguments: [String], environment: [String: String], output: Stream = .capture,
        errorOutput: Stream = .capture
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var ends: [Int32] = []
        func wire(_ stream: Stream, to target: Int32) throws -> Int32 {
            switch stream {
            case .capture:
                var fds: [Int32] = [-1, -1]
                guard pipe(&fds) == 0 else { throw POSIXError(.EMFILE) }
                _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
                posix_spawn_file_actions_adddup2(&actions, fds[1], target)
                ends.append(fds[1])
                return fds[0]
            case .discard:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
                return -1
            case .file(let path):
                posix_spawn_file_actions_addopen(&actions, target, path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                return -1
            }
        }
        let outputEnd = try wire(output, to: 1)
        let errorEnd = try wire(errorOutput, to: 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        // The child keeps its three standard streams and nothing else of this process (sockets and
        // pipes of other tests), as Foundation's Process does.
        if let closeFrom = Self.closeFrom { _ = closeFrom(&actions, 3) }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, nil, argv, envp)
        ends.forEach { _ = close($0) }
        guard result == 0 else {
            [outputEnd, errorEnd].filter { $0 >= 0 }.forEach { _ = close($0) }
            throw POSIXError(POSIXErrorCode(rawValue: result) ?? .ENOENT)
        }
        self.pid = pid
        self.output = outputEnd
        self.errorOutput = errorEnd
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which Swift's Glibc module does not
    /// declare (it is a GNU extension).
    private static let closeFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? =
        {
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
            else { return nil }
            return unsafeBitCast(
                symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
        }()

    /// Reads a captured stream to its end (blocking) and closes it.
    public static func readAll(_ fd: Int32) -> Data {
        guard fd >= 0 else { return Data() }
        defer { _ = close(fd) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                data.append(contentsOf: buffer[..<count])
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                return data
            }
        }
    }

    /// Waits for the child to end (blocking): its exit status, or the signal that ended it.
    public func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : signal
    }

    /// Whether the child is still there (running, or ended and not yet waited for).
    public var isRunning: Bool { kill(pid, 0) == 0 }

    /// Sends a signal.
    public func signal(_ signal: Int32) { kill(pid, signal) }
}
