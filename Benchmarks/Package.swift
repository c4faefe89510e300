// swift-tools-version: 6.1
import PackageDescription

// `make bench`: measures the engine beside its baselines in one run and writes
// docs/performance.md. A package of its own, so the product build never carries it.
let package = Package(
    name: "algotrader-bench",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "algotrader", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        .executableTarget(
            name: "AlgotraderBench",
            dependencies: [
                .product(name: "TradingCore", package: "algotrader"),
                .product(name: "AlgotraderEngine", package: "algotrader"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
    ]
)
