import Foundation
import Storage
import Testing

/// Inputs found by `scripts/fuzz.sh` that crashed a reader (docs/fuzzing.md), kept under Fuzz/crashes/.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    static func crashInput(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Fuzz/crashes/\(name)").standardized.path
    }

    @Test("An HDF5 dataset file declaring an impossible extent is refused with an error, not an allocator crash")
    func hugeDeclaredExtent() throws {
        let path = Self.crashInput("FuzzHDF5Dataset-huge-allocation.h5")
        try #require(FileManager.default.fileExists(atPath: path), "missing \(path)")
        let error = try #require(throws: (any Error).self) { _ = try HDF5DatasetLoader().load(directory: path) }
        #expect("\(error)".contains(path) && "\(error)".contains("MiB of memory") && "\(error)".contains("damaged"), "\(error)")
    }
}
