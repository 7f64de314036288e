// swift-tools-version:6.1
import PackageDescription

/// An example strategy plugin for the CoCoFL platform (see README.md and docs/plugins.md in the platform).
let package = Package(
    name: "MaxWindowPlugin",
    products: [
        // A dynamic library: the platform loads it with `cocofl --plugin .build/release/libMaxWindowPlugin.so`.
        .library(name: "MaxWindowPlugin", type: .dynamic, targets: ["MaxWindowPlugin"]),
    ],
    dependencies: [
        // The platform's plugin API, by path; its product is a dynamic library, so this plugin uses the copy the
        // host has already loaded instead of carrying its own.
        .package(path: "../../Core"),
    ],
    targets: [
        .target(
            name: "MaxWindowPlugin",
            dependencies: [.product(name: "CoCoFLCore", package: "Core")]),
    ]
)
