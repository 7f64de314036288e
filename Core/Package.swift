// swift-tools-version:6.1
import PackageDescription

/// The core types of the CoCoFL platform: the strategy protocol and registry, the host's local-trainer interface,
/// and the value types (parameters, partial updates, windows, profiles, seeded generators) that the engine, the
/// host and strategy plugins share. It is a package of its own with one *dynamic* library product so that the host
/// (`cocofl`) and every plugin link the same `libCoCoFLCore.so` and therefore share one copy of the types (see
/// docs/plugins.md). Pure Swift plus one C header (the plugin ABI): plugins build in seconds and never need oneDNN
/// or HDF5.
let package = Package(
    name: "Core",
    products: [
        .library(name: "CoCoFLCore", type: .dynamic, targets: ["CoCoFLCore"]),
    ],
    targets: [
        .target(name: "CoCoFLPluginABI"),
        .target(name: "CoCoFLCore", dependencies: ["CoCoFLPluginABI"]),
    ]
)
