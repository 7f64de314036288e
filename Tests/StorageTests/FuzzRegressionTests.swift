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

    @Test("A compact dataset that stores fewer bytes than it declares is refused as damaged, not read through null")
    func compactDatasetWithoutItsData() throws {
        let path = Self.crashInput("FuzzHDF5Dataset-segv.h5")
        try #require(FileManager.default.fileExists(atPath: path), "missing \(path)")
        let error = try #require(throws: (any Error).self) { _ = try HDF5DatasetLoader().load(directory: path) }
        #expect("\(error)".contains(path) && "\(error)".contains("declares 2 elements (2 bytes) but stores 0 bytes"),
                "\(error)")
    }

    @Test("A results file whose global heap would make libhdf5 loop forever is refused as damaged before opening")
    func globalHeapThatNeverAdvances() throws {
        let path = Self.crashInput("FuzzResultsFile-timeout.h5")
        try #require(FileManager.default.fileExists(atPath: path), "missing \(path)")
        let error = try #require(throws: HDF5Error.self) { _ = try ResultsFile(path: path, access: .readOnly) }
        #expect(error.kind == .damaged)
        #expect("\(error)".contains(path) && "\(error)".contains("byte 2048") && "\(error)".contains("loop forever"),
                "\(error)")
    }

    @Test("A string whose stored length exceeds its heap object is refused before libhdf5 allocates gigabytes for it")
    func vlenLengthLargerThanItsObject() throws {
        let path = Self.crashInput("FuzzResultsFile-oom.h5")
        try #require(FileManager.default.fileExists(atPath: path), "missing \(path)")
        let error = try #require(throws: HDF5Error.self) { _ = try ResultsFile(path: path, access: .readOnly) }
        #expect(error.kind == .damaged)
        #expect("\(error)".contains("length 4177526772") && "\(error)".contains("holds 12 bytes"), "\(error)")
    }

    @Test("A string whose stored length and address are both damaged is refused when the file is opened")
    func vlenLengthWithDamagedAddress() throws {
        let path = Self.crashInput("FuzzResultsFile-oom-bad-address.h5")
        try #require(FileManager.default.fileExists(atPath: path), "missing \(path)")
        let error = try #require(throws: HDF5Error.self) { _ = try ResultsFile(path: path, access: .readOnly) }
        #expect(error.kind == .damaged)
        #expect("\(error)".contains("attribute 'created_by' of '/'") && "\(error)".contains("no global heap collection"),
                "\(error)")
    }

    @Test("A string naming an object its heap collection does not hold is refused, not read through a wild pointer")
    func vlenIndexOfAMissingObject() throws {
        let path = Self.crashInput("FuzzResultsFile-segv-missing-object.h5")
        try #require(FileManager.default.fileExists(atPath: path), "missing \(path)")
        for access in [ResultsFile.Access.readOnly, .createOrAppend(toolVersion: "0.1.0")] {
            let error = try #require(throws: HDF5Error.self) { _ = try ResultsFile(path: path, access: access) }
            #expect(error.kind == .damaged)
            #expect("\(error)".contains(path) && "\(error)".contains("attribute 'created_by' of '/'")
                        && "\(error)".contains("names object 4278190081") && "\(error)".contains("holds objects 1"),
                    "\(error)")
        }
    }

    @Test("A group whose B-tree and local heap are at addresses past 2⁶³ is refused before libhdf5 walks through them")
    func groupHeapOutsideTheFile() throws {
        let path = Self.crashInput("FuzzResultsFile-segv-undefined-heap-address.h5")
        try #require(FileManager.default.fileExists(atPath: path), "missing \(path)")
        let error = try #require(throws: HDF5Error.self) { _ = try ResultsFile(path: path, access: .readOnly) }
        #expect(error.kind == .damaged)
        #expect("\(error)".contains(path) && "\(error)".contains("group '/profiles'")
                    && "\(error)".contains("outside any file"), "\(error)")
    }

    @Test("An object header continuing at a huge in-range address is skipped by the walk, not an overflow trap")
    func continuationPastTheEnd() throws {
        let path = Self.crashInput("FuzzResultsFile-trap-continuation-overflow.h5")
        try #require(FileManager.default.fileExists(atPath: path), "missing \(path)")
        // Whatever libhdf5 then makes of the file, opening and listing it ends in a value or an error, in this process.
        do {
            let results = try ResultsFile(path: path, access: .readOnly)
            _ = try? results.runs()
            _ = try? results.profiledModels()
        } catch {
            #expect("\(error)".contains(path), "\(error)")
        }
    }

    @Test("A superblock whose driver information block declares 1.7 GB is refused, not read and cleared in memory")
    func driverInformationLargerThanTheFile() throws {
        let path = Self.crashInput("FuzzResultsFile-slow-driver-info-size.h5")
        try #require(FileManager.default.fileExists(atPath: path), "missing \(path)")
        let error = try #require(throws: HDF5Error.self) { _ = try ResultsFile(path: path, access: .readOnly) }
        #expect(error.kind == .damaged)
        #expect("\(error)".contains("driver information block at byte 899 declares 1701995264 bytes"), "\(error)")
    }

    @Test("Raw data that happens to contain the global heap signature does not make a sound file look damaged")
    func heapSignatureInRawDataIsIgnored() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("signature.h5").path
            // "GCOL", version 1, then a collection size larger than the file; "GCOL" version 2 before a size-0 object.
            let signature = Int32(bitPattern: 0x4C4F_4347)
            let values: [Int32] = [signature, 1, -1, 0x7FFF_FFFF, signature, 2, 64, 0, 0, 0, 0, 0]
            do {
                let file = try HDF5File(path: path, mode: .truncate)
                try file.rootGroup().createDataset("raw", values: values, shape: [values.count])
                try file.attributes.set("note", to: .string("a string attribute, so the file has a global heap"))
            }
            let file = try HDF5File(path: path, mode: .readOnly)
            #expect(try file.attributes.string("note").hasPrefix("a string"))
            #expect(try file.rootGroup().openDataset("raw").read(as: Int32.self) == values)
        }
    }
}
