// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "vsmmu",
    products: [
        .library(name: "SMMU", targets: ["SMMU"]),
        .library(name: "vsmmu-c", type: .dynamic, targets: ["VSMMUCAPI"]),
        .executable(name: "vsmmu", targets: ["vsmmu"]),
        .executable(name: "vsmmu-bench", targets: ["vsmmu-bench"]),
        .executable(name: "vsmmu-fuzz", targets: ["vsmmu-fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // The SMMUv3 model: pure, no sockets, no threads of its own.
        .target(name: "SMMU", path: "Sources/SMMU"),
        // The public C header, and the few helpers Swift cannot express (CMSG
        // macros, atomics on shared memory, memfd_create).
        .target(name: "CVSMMU", path: "CShims"),
        // The C ABI of the model, implemented in Swift with @c exports.
        .target(name: "VSMMUCAPI", dependencies: ["SMMU", "CVSMMU"], path: "Sources/VSMMUCAPI"),
        // The vhost-user-style socket server; knows nothing of page tables.
        .target(
            name: "VSMMUServer",
            dependencies: [
                "SMMU", "CVSMMU", .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Sources/VSMMUServer"),
        .executableTarget(
            name: "vsmmu",
            dependencies: [
                "VSMMUServer", "SMMU",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/vsmmu"),
        .executableTarget(
            name: "vsmmu-bench", dependencies: ["SMMU", "VSMMUServer", "CVSMMU"],
            path: "Sources/vsmmu-bench"),
        // libFuzzer harness of the model (scripts/fuzz); replays inputs without it.
        .executableTarget(
            name: "vsmmu-fuzz",
            dependencies: ["SMMU", "VSMMUServer", "CVSMMU", .product(name: "Logging", package: "swift-log"),
                           .product(name: "SystemPackage", package: "swift-system")],
            path: "Sources/vsmmu-fuzz"),
        .testTarget(name: "SMMUTests", dependencies: ["SMMU"], path: "Tests/SMMUTests"),
        .testTarget(
            name: "ServerTests",
            dependencies: ["VSMMUServer", "SMMU", "CVSMMU", "VSMMUCAPI", .product(name: "SystemPackage", package: "swift-system")],
            path: "Tests/ServerTests"),
    ]
)
