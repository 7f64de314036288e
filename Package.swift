// swift-tools-version:6.1
import PackageDescription

/// Hot element loops (optimizer updates, loss, quantization, data conversion) live in CKernels and are always
/// compiled with optimization, so that debug-built tests do not crawl through them.
let kernelFlags: [CSetting] = [.unsafeFlags(["-O3", "-ffp-contract=fast"])]

let package = Package(
    name: "CoCoFL",
    products: [
        .executable(name: "cocofl", targets: ["cocofl"]),
        .library(name: "NN", targets: ["NN"]),
        .library(name: "Platform", targets: ["Platform"]),
        .library(name: "Storage", targets: ["Storage"]),
        .library(name: "Experiments", targets: ["Experiments"]),
    ],
    dependencies: [
        // The plugin API is a dynamic library of its own package, so that host and plugins share one copy of the
        // strategy types (docs/plugins.md).
        .package(path: "PluginAPI"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: kernelFlags),
        .target(
            name: "NN",
            dependencies: ["CDNNL", "CKernels", .product(name: "CoCoFLPluginAPI", package: "PluginAPI")]),
        .target(
            name: "Platform",
            dependencies: ["NN", "CZlib", "CKernels", .product(name: "TOMLKit", package: "TOMLKit")]),
        .target(name: "Plugins", dependencies: ["NN", "Platform"]),
        .target(name: "Storage", dependencies: ["CHDF5", "CKernels", "NN", "Platform"]),
        // Above Platform and Storage: campaigns, the recording of runs, checkpoint evaluation, profile acquisition.
        .target(name: "Experiments", dependencies: ["NN", "Platform", "Storage"]),
        .executableTarget(
            name: "cocofl",
            dependencies: [
                "NN", "Platform", "Plugins", "Storage", "Experiments",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .testTarget(name: "NNTests", dependencies: ["NN", "Platform"]),
        .testTarget(name: "PlatformTests", dependencies: ["Platform"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "Platform", "Plugins", "NN", "CHDF5"]),
        .testTarget(name: "ExperimentsTests", dependencies: ["Experiments", "Storage", "Platform", "Plugins", "NN"]),
        .testTarget(name: "PluginsTests", dependencies: ["Plugins", "Platform", "NN"]),
        // The cocofl tool end to end: campaigns, resume after kill -9, one-line errors on bad input.
        .testTarget(name: "CommandTests", dependencies: ["cocofl", "Storage", "Plugins", "Platform", "NN", "CHDF5"]),
        // Strategy plugins: builds Examples/MaxWindowPlugin, loads it, runs it with cocofl; every load failure.
        .testTarget(name: "PluginLoadingTests", dependencies: ["Platform", "Plugins", "Storage"]),
    ]
)
