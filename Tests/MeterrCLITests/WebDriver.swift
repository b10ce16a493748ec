import AsyncHTTPClient
import Foundation
import MeterrCore
import MeterrTestSupport
import NIOCore

/// A headless Chromium driven over the W3C WebDriver protocol by a `chromedriver` process on a
/// loopback port: just the commands the dashboard's browser tests use.
final class Browser: @unchecked Sendable {
    // Only the test task touches these, one step at a time.
    var driver: ChildProcess?
    let port: Int
    var session = ""

    static let driverPath = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
    static let chromiumPath = ["/usr/bin/chromium", "/usr/lib/chromium/chromium"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
    /// Why the browser tests cannot run here, or `nil` when they can.
    static let unavailableReason: String? =
        driverPath == nil || chromiumPath == nil
        ? "chromium and chromium-driver are not installed (scripts/test installs them)" : nil

    init() async throws {
        guard let driverPath = Self.driverPath, let chromiumPath = Self.chromiumPath else {
            throw MeterrError(.unavailable, Self.unavailableReason ?? "no browser")
        }
        port = Int.random(in: 20_000..<40_000)
        driver = try ChildProcess(
            path: driverPath, arguments: ["--port=\(port)", "--allowed-ips=127.0.0.1"],
            environment: ProcessInfo.processInfo.environment, output: .discard, errorOutput: .discard)
        // Wait for chromedriver to answer.
        for _ in 0..<100 {
            if (try? await command("GET", "/status")) != nil { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let capabilities: [String: Any] = [
            "capabilities": [
                "alwaysMatch": [
                    "browserName": "chrome",
                    "goog:chromeOptions": [
                        "binary": chromiumPath,
                        "args": [
                            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                            "--window-size=1360,1000", "--no-first-run", "--disable-extensions",
                        ],
                    ],
                ]
            ]
        ]
        let created = try? await command("POST", "/session", capabilities)
        guard let id = (created as? [String: Any])?["sessionId"] as? String else {
            stopDriver()
            throw MeterrError(.unavailable, "chromedriver made no session: \(String(describing: created))")
        }
        session = id
    }

    /// Runs `body` with a fresh browser, and closes the browser and its driver however `body` ends.
    static func session(_ body: (Browser) async throws -> Void) async throws {
        let browser = try await Browser()
        do {
            try await body(browser)
        } catch {
            await browser.quit()
            throw error
        }
        await browser.quit()
    }

    /// Sends one command; returns its `value`.
    @discardableResult
    func command(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> Any? {
        // AsyncHTTPClient, not URLSession: Foundation on Linux rejects chromedriver's `Name:value` headers.
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = .init(rawValue: method)
        if let body {
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
            request.headers.add(name: "Content-Type", value: "application/json")
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let data = Data(try await response.body.collect(upTo: 64 << 20).readableBytesView)
        let json = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) as? [String: Any]
        let value = json?["value"]
        if response.status.code != 200 {
            throw MeterrError(.unavailable, "WebDriver \(method) \(path) failed: \(String(describing: value))")
        }
        return value
    }

    func sessionCommand(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> Any? {
        try await command(method, "/session/\(session)\(path)", body)
    }

    func open(_ url: String) async throws { try await sessionCommand("POST", "/url", ["url": url]) }

    var url: String {
        get async throws { try await sessionCommand("GET", "/url") as? String ?? "" }
    }

    /// Runs a script in the page; returns its result.
    func run(_ script: String, _ arguments: [Any] = []) async throws -> Any? {
        try await sessionCommand("POST", "/execute/sync", ["script": script, "args": arguments])
    }

    /// The id of the first element matching a CSS selector, or `nil`.
    func find(_ selector: String) async throws -> String? {
        let value = try? await sessionCommand("POST", "/element", ["using": "css selector", "value": selector])
        return (value as? [String: Any])?["element-6066-11e4-a52e-4f735466cecf"] as? String
    }

    func element(_ selector: String) async throws -> String {
        guard let element = try await find(selector) else {
            throw MeterrError(.notFound, "no element \(selector) on \(try await url)")
        }
        return element
    }

    func type(_ selector: String, _ text: String) async throws {
        try await sessionCommand("POST", "/element/\(try await element(selector))/value", ["text": text])
    }

    func click(_ selector: String) async throws {
        try await sessionCommand("POST", "/element/\(try await element(selector))/click", [:])
    }

    func text(_ selector: String) async throws -> String {
        try await sessionCommand("GET", "/element/\(try await element(selector))/text") as? String ?? ""
    }

    func attribute(_ selector: String, _ name: String) async throws -> String? {
        try await sessionCommand("GET", "/element/\(try await element(selector))/attribute/\(name)") as? String
    }

    /// Waits until a script returns true (checking every 10 ms, for at most `seconds`).
    func wait(_ script: String, seconds: Double = 10) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await run(script) as? Bool == true { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw MeterrError(.unavailable, "timed out waiting for: \(script) on \(try await url)")
    }

    /// Saves a PNG of the whole page.
    func screenshot(to path: String) async throws {
        let height = try await run("return document.documentElement.scrollHeight") as? Int ?? 1000
        try await sessionCommand("POST", "/window/rect", ["width": 1360, "height": min(max(height + 140, 700), 4000)])
        guard let base64 = try await sessionCommand("GET", "/screenshot") as? String,
            let data = Data(base64Encoded: base64)
        else { throw MeterrError(.unavailable, "no screenshot") }
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: path))
    }

    func quit() async {
        _ = try? await command("DELETE", "/session/\(session)")
        stopDriver()
    }

    func stopDriver() {
        guard let driver else { return }
        driver.signal(SIGKILL)
        _ = driver.wait()
        self.driver = nil
    }

    deinit {
        if let driver {
            driver.signal(SIGKILL)
            _ = driver.wait()
        }
    }
}
