import CoCoFLCore
import Foundation
import NN
import Storage
import Testing

/// A campaign file that links each run to its own run file; packing; the run writer's lock; and a run file
/// reopened for every round that does not grow with each replaced checkpoint.
@Suite("Run files")
struct RunFilesTests {
    /// Writes run `name` into its own run file next to `campaign` and links it.
    static func writeLinkedRun(_ name: String, campaign: String, rounds: Int) throws {
        let runFile = ResultsFile.runFilePath(of: campaign, run: name)
        try FileManager.default.createDirectory(atPath: ResultsFile.runFolder(of: campaign), withIntermediateDirectories: true)
        let run = try ResultsFile(path: runFile, access: .createOrAppend(toolVersion: "test"))
            .createRun(name, specification: ResultsFileTests.specification)
        for round in 1...rounds {
            try run.appendMetrics(round: round, values: ["accuracy": Double(round) / 10])
        }
        try run.writeCheckpoint(round: rounds, parameters: ResultsFileTests.sampleParameters(scale: Float(rounds)))
        try run.setStatus(.complete)
        try ResultsFile(path: campaign, access: .createOrAppend(toolVersion: "test")).linkRun(name, toFile: runFile)
    }

    @Test("Linked runs read like stored ones, a link to a missing file is a run not started, and packing copies them in")
    func linkedRunsAndPacking() throws {
        try withTemporaryDirectory { directory in
            let campaign = directory.appendingPathComponent("c.h5").path
            try Self.writeLinkedRun("a", campaign: campaign, rounds: 3)
            try ResultsFile(path: campaign, access: .createOrAppend(toolVersion: "test"))
                .linkRun("later", toFile: ResultsFile.runFilePath(of: campaign, run: "later"))
            // A run stored in the campaign file itself (every file before run files) sits next to linked ones.
            try ResultsFile(path: campaign, access: .createOrAppend(toolVersion: "test"))
                .createRun("embedded", specification: ResultsFileTests.specification).appendMetrics(round: 1, values: ["accuracy": 0.5])

            let results = try ResultsFile(path: campaign, access: .readOnly)
            #expect(try results.runNames() == ["a", "embedded"])
            #expect(try results.pendingRunNames() == ["later"])
            #expect(try results.runLocation("a") == .linked(file: ResultsFile.runFilePath(of: campaign, run: "a"), exists: true))
            #expect(try results.runLocation("embedded") == .embedded)
            #expect(try results.runLocation("nothing") == nil)
            let linked = try results.openRun("a")
            #expect(linked.results.path == ResultsFile.runFilePath(of: campaign, run: "a"), "errors name the run's own file")
            #expect(try linked.metrics()["accuracy"] == [0.1, 0.2, 0.3])
            #expect(try results.comparisonTable().notStarted == ["later"])
            let missing = try #require(throws: ResultsError.self) { _ = try results.openRun("later") }
            #expect(missing.kind == .notFound && missing.reason.contains("has not written its file"), "\(missing)")

            // The stored link is relative, so the folder can be moved as a whole.
            let moved = directory.appendingPathComponent("moved").path
            try FileManager.default.createDirectory(atPath: moved, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: campaign, toPath: moved + "/c.h5")
            try FileManager.default.copyItem(atPath: ResultsFile.runFolder(of: campaign), toPath: moved + "/c.runs")
            #expect(try ResultsFile(path: moved + "/c.h5", access: .readOnly).openRun("a").metrics()["accuracy"] == [0.1, 0.2, 0.3])

            let packedPath = directory.appendingPathComponent("packed.h5").path
            #expect(try results.pack(into: packedPath, toolVersion: "test") == ["later"])
            try FileManager.default.removeItem(atPath: ResultsFile.runFolder(of: campaign))
            try {
                let packed = try ResultsFile(path: packedPath, access: .readOnly)
                #expect(try packed.runNames() == ["a", "embedded"])
                #expect(try packed.runLocation("a") == .embedded)
                let run = try packed.openRun("a")
                #expect(try run.metrics()["accuracy"] == [0.1, 0.2, 0.3])
                #expect(try run.latestCheckpoint()?.parameters == ResultsFileTests.sampleParameters(scale: 3).sorted { $0.key < $1.key })
                #expect(try run.summary().status == .complete)
            }()
            let again = try #require(throws: ResultsError.self) { try results.pack(into: packedPath, toolVersion: "test") }
            #expect(again.kind == .alreadyExists)
        }
    }

    @Test("Deleting a linked run removes its link and its file")
    func deleteLinkedRun() throws {
        try withTemporaryDirectory { directory in
            let campaign = directory.appendingPathComponent("c.h5").path
            try Self.writeLinkedRun("a", campaign: campaign, rounds: 2)
            try ResultsFile(path: campaign, access: .createOrAppend(toolVersion: "test")).deleteRun("a")
            #expect(!FileManager.default.fileExists(atPath: ResultsFile.runFilePath(of: campaign, run: "a")))
            let results = try ResultsFile(path: campaign, access: .readOnly)
            #expect(try results.runNames().isEmpty && results.pendingRunNames().isEmpty)
        }
    }

    @Test("A run's writer lock excludes a second writer, names the holder, and is gone once released")
    func writerLock() throws {
        try withTemporaryDirectory { directory in
            let runFile = directory.appendingPathComponent("r.h5").path
            var lock: RunWriterLock? = try RunWriterLock(runFile: runFile, run: "r")
            #expect(RunWriterLock.holder(runFile: runFile)?.pid == Int(getpid()))
            // flock excludes a second open file description even in the same process, as it does another process.
            let second = try #require(throws: ResultsError.self) { _ = try RunWriterLock(runFile: runFile, run: "r") }
            #expect(second.kind == .busy && second.reason.contains("process \(getpid())"), "\(second)")
            withExtendedLifetime(lock) {}
            lock = nil
            #expect(RunWriterLock.holder(runFile: runFile) == nil)
            #expect(!FileManager.default.fileExists(atPath: RunWriterLock.lockPath(runFile: runFile)))
        }
    }

    @Test("A file reopened for every checkpoint reuses the space of the checkpoints it deletes")
    func reopenedFileDoesNotGrow() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("r.h5").path
            _ = try ResultsFile(path: path, access: .createOrAppend(toolVersion: "test")).createRun("r", specification: ResultsFileTests.specification)
            func size() throws -> Int { try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int }
            // Random values: deflate cannot shrink them, so each checkpoint takes its full size in the file.
            var generator = SystemRandomNumberGenerator()
            let parameters = [NamedArray(key: "w", shape: [100_000], values: (0..<100_000).map { _ in Float.random(in: -1...1, using: &generator) })]
            var sizes: [Int] = []
            for round in 1...12 {
                try ResultsFile(path: path, access: .continueWriting).openRun("r")
                    .writeCheckpoint(round: round, parameters: parameters, keepLast: 2)
                sizes.append(try size())
            }
            // Two checkpoints of 400 kB are live at a time; without persistent free space the file ends near 12 × 400 kB.
            #expect(sizes.last! < 3 * 400_000 + 200_000, "file sizes \(sizes)")
            #expect(try ResultsFile(path: path, access: .readOnly).openRun("r").checkpointRounds() == [11, 12])
        }
    }
}
