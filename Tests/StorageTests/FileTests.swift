import Foundation
import Storage
import Testing

@Suite("Files")
struct FileTests {
    @Test("opening a file that is not HDF5 names the path and leaves the bytes unchanged", arguments: [
        HDF5File.Mode.readOnly, .readWrite, .truncate, .createExclusive,
    ])
    func notHDF5(mode: HDF5File.Mode) throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("results.csv").path
            let original = Data("round,accuracy\n1,0.1\n".utf8)
            try original.write(to: URL(fileURLWithPath: path))
            let error = try #require(throws: HDF5Error.self) { try HDF5File(path: path, mode: mode) }
            #expect(error.kind == (mode == .createExclusive ? .alreadyExists : .notHDF5File))
            #expect(error.filePath == path)
            #expect(error.description.contains(path))
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == original)
        }
    }

    @Test("an empty file may be replaced, a missing one is reported")
    func emptyAndMissing() throws {
        try withTemporaryDirectory { directory in
            let empty = directory.appendingPathComponent("empty.h5").path
            #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
            try HDF5File(path: empty, mode: .truncate).rootGroup().createGroup("runs")
            #expect(try HDF5File.isHDF5File(path: empty))

            let missing = directory.appendingPathComponent("missing.h5").path
            let error = try #require(throws: HDF5Error.self) { try HDF5File(path: missing, mode: .readOnly) }
            #expect(error.kind == .notFound)
            #expect(error.description.contains(missing))

            let isDirectory = try #require(throws: HDF5Error.self) {
                try HDF5File(path: directory.path, mode: .truncate)
            }
            #expect(isDirectory.kind == .invalidRequest)
        }
    }

    @Test("create-exclusive refuses an existing HDF5 file and truncate replaces it")
    func createModes() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("campaign.h5").path
            try HDF5File(path: path, mode: .createExclusive).rootGroup().createGroup("old")
            let error = try #require(throws: HDF5Error.self) { try HDF5File(path: path, mode: .createExclusive) }
            #expect(error.kind == .alreadyExists)
            #expect(try HDF5File(path: path, mode: .readOnly).rootGroup().children() == ["old"])
            try HDF5File(path: path, mode: .truncate).rootGroup().createGroup("new")
            #expect(try HDF5File(path: path, mode: .readOnly).rootGroup().children() == ["new"])
        }
    }

    @Test("a truncated HDF5 file gives an error that says it is truncated")
    func truncatedFile() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("truncated.h5").path
            try HDF5File(path: path, mode: .truncate).rootGroup()
                .createDataset("weights", values: [Float](repeating: 1, count: 100_000), shape: [100_000])
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))

            let error = try #require(throws: HDF5Error.self) { try HDF5File(path: path, mode: .readOnly) }
            #expect(error.kind == .libraryCall)
            #expect(error.call == "H5Fopen")
            #expect(error.filePath == path)
            #expect(error.description.contains("truncated"))
            #expect(!error.stack.isEmpty)
        }
    }

    @Test("creating a file in an unwritable or missing directory gives a clear error")
    func unwritableDirectory() throws {
        try withTemporaryDirectory { directory in
            let locked = directory.appendingPathComponent("locked")
            try FileManager.default.createDirectory(at: locked, withIntermediateDirectories: false)
            try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: locked.path)
            defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: locked.path) }
            // Root ignores directory permissions; /sys refuses new files even to root.
            let probe = locked.appendingPathComponent("probe").path
            let unwritable = FileManager.default.createFile(atPath: probe, contents: nil) ? "/sys" : locked.path
            for path in ["\(unwritable)/campaign.h5", directory.appendingPathComponent("absent/campaign.h5").path] {
                let error = try #require(throws: HDF5Error.self) { try HDF5File(path: path, mode: .truncate) }
                #expect(error.kind == .libraryCall)
                #expect(error.call == "H5Fcreate")
                #expect(error.description.contains(path))
                #expect(error.description.contains("exists and is writable"))
                #expect(!error.stack.isEmpty)
            }
        }
    }

    @Test("h5dump shows the names, types and shapes that were written")
    func h5dumpHeader() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("dump.h5").path
            do {
                let file = try HDF5File(path: path, mode: .truncate)
                try file.attributes.set("format_version", to: .int64(1))
                let run = try file.rootGroup().createGroup("runs/cocofl_seed0")
                try run.attributes.set("strategy", to: .string("CoCoFL"))
                try run.createDataset(
                    "checkpoint/layer1.0.conv1.weight", values: [Float](repeating: 0.5, count: 64 * 3 * 3 * 3),
                    shape: [64, 3, 3, 3], compression: .deflate(level: 4))
                let accuracy = try run.createExtendibleDataset("metrics/accuracy", of: Double.self)
                try accuracy.append(contentsOf: [0.1, 0.2, 0.3])
            }
            guard let header = try h5dump(["-H", path]) else { return }  // hdf5-tools not installed
            for expected in [
                "ATTRIBUTE \"format_version\"", "GROUP \"runs\"", "GROUP \"cocofl_seed0\"", "ATTRIBUTE \"strategy\"",
                "H5T_STRING", "CSET H5T_CSET_UTF8", "DATASET \"layer1.0.conv1.weight\"", "H5T_IEEE_F32LE",
                "( 64, 3, 3, 3 ) / ( 64, 3, 3, 3 )", "DATASET \"accuracy\"", "( 3 ) / ( H5S_UNLIMITED )",
            ] {
                #expect(header.contains(expected), "h5dump -H lacks \(expected)")
            }
            let strategy = try #require(try h5dump(["-a", "/runs/cocofl_seed0/strategy", path]))
            #expect(strategy.contains("\"CoCoFL\""))
        }
    }
}
