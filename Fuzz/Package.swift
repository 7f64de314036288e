// swift-tools-version:6.1
import Foundation
import PackageDescription

/// A path dependency is identified by its folder name, which is the clone's name (e.g. `wt-fuzz`), not "CoCoFL".
let mainPackage = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .lastPathComponent

/// libFuzzer targets for the file readers (docs/fuzzing.md). Each executable defines `LLVMFuzzerTestOneInput` and
/// no `main`; build with `-sanitize=fuzzer -parse-as-library` (scripts/fuzz.sh does).
let targets = ["FuzzIDX", "FuzzCIFAR", "FuzzFEMNIST", "FuzzHDF5Dataset", "FuzzCampaign", "FuzzResultsFile"]

let package = Package(
    name: "CoCoFLFuzz",
    dependencies: [.package(path: "..")],
    targets: [.target(name: "FuzzSupport", path: "Sources/FuzzSupport")] + targets.map { name in
        .executableTarget(
            name: name,
            dependencies: [
                "FuzzSupport",
                .product(name: "Platform", package: mainPackage),
                .product(name: "Storage", package: mainPackage),
            ],
            path: "Sources/\(name)")
    })
