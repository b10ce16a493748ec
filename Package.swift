// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "meterr",
    // iOS, tvOS, watchOS and visionOS: for apps that use MeterrSDK (Mutex needs these versions).
    platforms: [.macOS(.v15), .iOS(.v18), .tvOS(.v18), .watchOS(.v11), .visionOS(.v2)],
    products: [
        .executable(name: "meterr", targets: ["meterr"]),
        .library(name: "MeterrCore", targets: ["MeterrCore"]),
        .library(name: "MeterrProviders", targets: ["MeterrProviders"]),
        .library(name: "MeterrStore", targets: ["MeterrStore"]),
        .library(name: "MeterrServer", targets: ["MeterrServer"]),
        .library(name: "MeterrPricing", targets: ["MeterrPricing"]),
        .library(name: "MeterrTokenizer", targets: ["MeterrTokenizer"]),
        .library(name: "MeterrSDK", targets: ["MeterrSDK"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk", from: "0.12.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // OTLP over HTTP only: the gRPC exporter's dependencies are not built.
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // Domain types: no dependencies.
        .target(name: "MeterrCore"),
        // Provider wire formats: usage extraction from JSON and streams, one folder per provider.
        .target(name: "MeterrProviders", dependencies: ["MeterrCore"]),
        // The router's decisions and memory: pure logic, no I/O.
        .target(name: "MeterrRouter", dependencies: ["MeterrCore"]),
        .testTarget(name: "MeterrRouterTests", dependencies: ["MeterrCore", "MeterrRouter"]),
        // Price catalog (shipped as data), exact cost engine, LiteLLM import/export.
        .target(name: "MeterrPricing", dependencies: ["MeterrCore"], resources: [.copy("Resources/catalog.json")]),
        .testTarget(name: "MeterrPricingTests", dependencies: ["MeterrCore", "MeterrPricing"]),
        // `swift run -c release meterr-pricing-bench`: catalog load and per-event pricing speed.
        .executableTarget(
            name: "meterr-pricing-bench", dependencies: ["MeterrCore", "MeterrPricing"],
            path: "Benchmarks/PricingBenchmark"),
        // Exact tiktoken/Tekken token counting: standard library + Foundation (resources) only.
        .target(
            name: "MeterrTokenizer",
            resources: [
                .copy("Resources/o200k_base.tiktoken"),
                .copy("Resources/cl100k_base.tiktoken"),
                .copy("Resources/tekken_240911.tiktoken"),
            ]
        ),
        .testTarget(name: "MeterrTokenizerTests", dependencies: ["MeterrTokenizer"], resources: [.copy("Fixtures")]),
        // `scripts/bench-tokenizer.sh`: throughput beside tiktoken and bpe-openai.
        .executableTarget(
            name: "meterr-tokenizer-bench",
            dependencies: ["MeterrTokenizer"],
            path: "Benchmarks/TokenizerBenchmark"
        ),
        // zlib from the system (Debian's zlib1g-dev), for compressed backups.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // The usage ledger: protocols, SQLite implementation, migrations, group commit, rollups, backups.
        .target(
            name: "MeterrStore",
            dependencies: [
                "CZlib",
                "MeterrCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The ledger on PostgreSQL, for several meterr nodes on one database: partitioned events,
        // rollups, row-level security per organisation, migrations under an advisory lock.
        .target(
            name: "MeterrPostgres",
            dependencies: [
                "MeterrCore", "MeterrStore",
                // `SQLiteImport` reads an embedded database through its GRDB pool.
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "MeterrPostgresTests",
            dependencies: ["MeterrCore", "MeterrStore", "MeterrPostgres", "MeterrTestSupport"]
        ),
        // The gateway's HTTP/1.1 client to providers: pooled per event loop, TLS, proxies, time-outs.
        .target(
            name: "MeterrUpstream",
            dependencies: [
                "MeterrCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(
            name: "MeterrUpstreamTests",
            dependencies: [
                "MeterrUpstream", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]),
        // The gateway's place in the HTTP/1.1 pipeline: takes its calls off Hummingbird's, answers in order.
        .target(
            name: "MeterrGatewayChannel",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "MeterrGatewayChannelTests",
            dependencies: [
                "MeterrGatewayChannel",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The Hummingbird application: routes, middleware, background services.
        .target(
            name: "MeterrServer",
            dependencies: [
                "MeterrCore",
                "MeterrGatewayChannel",
                "MeterrMCP",
                "MeterrPostgres",
                "MeterrPricing",
                "MeterrProviders",
                "MeterrRouter",
                "MeterrSDK",
                "MeterrStore",
                "MeterrTokenizer",
                "MeterrUpstream",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Yams", package: "Yams"),
            ],
            resources: [.copy("Resources/openapi.yaml")]
        ),
        // The Swift SDK: batched usage reporting, metered provider calls, gateway helpers, management
        // client. Free of the server and the database, so apps stay light.
        .target(
            name: "MeterrSDK",
            dependencies: [
                "MeterrCore",
                "MeterrProviders",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // meterr's tools for agents over the Model Context Protocol (`meterr mcp`), through the SDK's client.
        .target(
            name: "MeterrMCP",
            dependencies: ["MeterrCore", "MeterrSDK", .product(name: "MCP", package: "swift-sdk")]
        ),
        // `swift run meterr-sdk-example`: a metered call against a local fake provider, reported to meterr.
        .executableTarget(
            name: "meterr-sdk-example",
            dependencies: ["MeterrSDK", .product(name: "Hummingbird", package: "hummingbird")],
            path: "Examples/SDKExample"
        ),
        // The CLI: thin, parses arguments and calls the libraries.
        .executableTarget(
            name: "meterr",
            dependencies: [
                "MeterrCore",
                "MeterrMCP",
                "MeterrPostgres",
                "MeterrPricing",
                "MeterrSDK",
                "MeterrStore",
                "MeterrServer",
                "MeterrTokenizer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // `swift run -c release meterr-router-bench`: a routing decision and translation beside passthrough.
        .executableTarget(
            name: "meterr-router-bench", dependencies: ["MeterrCore", "MeterrPricing", "MeterrProviders", "MeterrRouter"],
            path: "Benchmarks/RouterBenchmark"),
        // `swift run -c release meterr-budget-bench`: what budgets and anomaly detection add to a call.
        .executableTarget(
            name: "meterr-budget-bench",
            dependencies: ["MeterrCore", "MeterrPricing", "MeterrServer", "MeterrStore"],
            path: "Benchmarks/BudgetBenchmark"
        ),
        // `scripts/bench-gateway/run.sh`: a SwiftNIO reverse proxy that only forwards, the floor under the gateway
        // (`clients.sh`: with meterr's upstream client or AsyncHTTPClient's instead of its own).
        .executableTarget(
            name: "meterr-nio-floor",
            dependencies: [
                "MeterrUpstream", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Benchmarks/NIOProxyFloor"
        ),
        // `swift run -c release meterr-ledger-bench`: ledger ingest and summary speed.
        .executableTarget(
            name: "meterr-ledger-bench",
            dependencies: ["MeterrCore", "MeterrStore", "MeterrPostgres", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/LedgerBenchmark"
        ),
        .testTarget(name: "MeterrCoreTests", dependencies: ["MeterrCore"]),
        .testTarget(
            name: "MeterrStoreTests", dependencies: ["MeterrStore", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(
            name: "MeterrProvidersTests", dependencies: ["MeterrProviders"], resources: [.copy("Fixtures")]),
        .testTarget(
            name: "MeterrServerTests",
            dependencies: [
                "MeterrServer",
                "MeterrTestSupport",
                "MeterrUpstream",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
            ]
        ),
        // Runs the built `meterr` binary as a user would: serve, kill -9, export, import, the dashboard in Chromium.
        .testTarget(
            name: "MeterrCLITests",
            dependencies: [
                "MeterrCore", "MeterrStore", "MeterrTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                // A fresh PostgreSQL database for the commands run with --database-url.
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
            ]),
        // Test helpers shared by the suites: the `meterr serve` process, loopback servers, the fake provider.
        .target(
            name: "MeterrTestSupport",
            dependencies: [
                "MeterrCore", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Tests/MeterrTestSupport"
        ),
        .testTarget(
            name: "MeterrSDKTests",
            dependencies: [
                "MeterrSDK",
                "MeterrTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
