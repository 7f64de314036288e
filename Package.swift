// swift-tools-version:6.1
import PackageDescription

/// Hot element loops (optimizer updates, loss, quantization, data conversion) live in CKernels and are always
/// compiled with optimization, so that debug-built tests do not crawl through them.
let kernelFlags: [CSetting] = [.unsafeFlags(["-O3", "-ffp-contract=fast"])]

/// The core types every module shares with strategy plugins (Core/, a dynamic library: docs/plugins.md).
let core = Target.Dependency.product(name: "CoCoFLCore", package: "Core")

let package = Package(
    name: "CoCoFL",
    products: [
        .executable(name: "cocofl", targets: ["cocofl"]),
        .library(name: "NN", targets: ["NN"]),
        .library(name: "Platform", targets: ["Platform"]),
        .library(name: "Strategies", targets: ["Strategies"]),
        .library(name: "Storage", targets: ["Storage"]),
        .library(name: "Experiments", targets: ["Experiments"]),
    ],
    dependencies: [
        // The core types (strategy protocol, local-trainer interface, shared value types) are a dynamic library of
        // their own package, so that host and plugins share one copy of them (docs/plugins.md).
        .package(path: "Core"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // OpenMPI 4 (Debian's libopenmpi-dev), for one run's devices shared among MPI ranks.
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi"),
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: kernelFlags),
        // The training engine: tensors, layers on oneDNN, models as unit lists, CoCoFL's frozen units, profiling.
        .target(name: "NN", dependencies: ["CDNNL", "CKernels", core]),
        // The host: configuration schema, datasets, federation, aggregation rules, the round loop, plugin loading.
        .target(name: "Platform", dependencies: ["NN", "CZlib", "CKernels", core, .product(name: "TOMLKit", package: "TOMLKit")]),
        // The built-in strategies, one file each.
        .target(name: "Strategies", dependencies: ["NN", "Platform", core]),
        // HDF5 owners and the results layout over value types; reports.
        .target(name: "Storage", dependencies: ["CHDF5", "CKernels", "NN", "Platform", core]),
        // Above Platform and Storage: campaigns, the recording of runs, checkpoint evaluation, profile acquisition.
        .target(name: "Experiments", dependencies: ["NN", "Platform", "Storage", core]),
        // MPI ranks of one run: the devices of each round shared among processes, results identical to one process.
        .target(name: "Ranks", dependencies: ["CMPI", "NN", "Platform", "Experiments", core]),
        .executableTarget(
            name: "cocofl",
            dependencies: [
                "NN", "Platform", "Strategies", "Storage", "Experiments", "Ranks", core,
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // Shared by the test targets: the `.heavy` trait that runs compute-heavy tests one at a time.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "NNTests", dependencies: ["NN", "Platform", core, "TestSupport"]),
        .testTarget(name: "PlatformTests", dependencies: ["Platform", core, "TestSupport"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "Platform", "Strategies", "NN", "CHDF5", core, "TestSupport"]),
        .testTarget(name: "ExperimentsTests", dependencies: ["Experiments", "Storage", "Platform", "Strategies", "NN", core, "TestSupport"]),
        .testTarget(name: "StrategiesTests", dependencies: ["Strategies", "Platform", "NN", core, "TestSupport"]),
        // The cocofl tool end to end: campaigns, resume after kill -9, one-line errors on bad input.
        .testTarget(name: "CommandTests", dependencies: ["cocofl", "Storage", "Strategies", "Platform", "NN", "CHDF5", core, "TestSupport"]),
        // Strategy plugins: builds Examples/MaxWindowPlugin, loads it, runs it with cocofl; every load failure.
        .testTarget(name: "PluginLoadingTests", dependencies: ["Platform", "Strategies", "Storage", core, "TestSupport"]),
    ]
)
