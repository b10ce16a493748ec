// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "meterr",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "meterr", targets: ["meterr"]),
        .library(name: "MeterrCore", targets: ["MeterrCore"]),
        .library(name: "MeterrStore", targets: ["MeterrStore"]),
        .library(name: "MeterrServer", targets: ["MeterrServer"]),
        .library(name: "MeterrTokenizer", targets: ["MeterrTokenizer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // Domain types: no dependencies.
        .target(name: "MeterrCore"),
        // Exact tiktoken/Tekken token counting: standard library + Foundation (resources) only.
        .target(
            name: "MeterrTokenizer",
            resources: [
                .copy("Resources/o200k_base.tiktoken"),
                .copy("Resources/cl100k_base.tiktoken"),
                .copy("Resources/tekken_240911.tiktoken"),
            ]
        ),
        // The usage ledger: protocols, SQLite implementation, migrations, group commit, rollups.
        .target(
            name: "MeterrStore",
            dependencies: [
                "MeterrCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The Hummingbird application: routes, middleware, background services.
        .target(
            name: "MeterrServer",
            dependencies: [
                "MeterrCore",
                "MeterrStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // The CLI: thin, parses arguments and calls the libraries.
        .executableTarget(
            name: "meterr",
            dependencies: [
                "MeterrCore",
                "MeterrStore",
                "MeterrServer",
                "MeterrTokenizer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "MeterrCoreTests", dependencies: ["MeterrCore"]),
        .testTarget(
            name: "MeterrTokenizerTests",
            dependencies: ["MeterrTokenizer"],
            resources: [.copy("Fixtures")]
        ),
        // Throughput of MeterrTokenizer; scripts/bench-tokenizer.sh runs it beside tiktoken and bpe-openai.
        .executableTarget(
            name: "meterr-tokenizer-bench",
            dependencies: ["MeterrTokenizer"],
            path: "Benchmarks/TokenizerBenchmark"
        ),
    ],
    swiftLanguageModes: [.v6]
)
