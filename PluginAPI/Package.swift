// swift-tools-version:6.1
import PackageDescription

/// The plugin API of the CoCoFL platform: the strategy protocol and the value types that cross between the host
/// (`cocofl`) and strategy plugins. It is a package of its own with one *dynamic* library product so that the host
/// and every plugin link the same `libCoCoFLPluginAPI.so` and therefore share one copy of the protocol types (see
/// docs/plugins.md). Pure Swift plus one C header: plugins build in seconds and never need oneDNN or HDF5.
let package = Package(
    name: "PluginAPI",
    products: [
        .library(name: "CoCoFLPluginAPI", type: .dynamic, targets: ["CoCoFLPluginAPI"]),
    ],
    targets: [
        .target(name: "CoCoFLPluginABI"),
        .target(name: "CoCoFLPluginAPI", dependencies: ["CoCoFLPluginABI"]),
    ]
)
