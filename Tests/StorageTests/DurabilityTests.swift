import Foundation
import Storage
import Testing

@Suite("Durability")
struct DurabilityTests {
    /// A byte copy of a file that is still open stands in for the file left behind by `kill -9`: both are
    /// whatever the process handed to the operating system, with no close and no further flush.
    @Test("values appended and flushed survive a crash of the writer")
    func crashSnapshot() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("live.h5").path
            let file = try HDF5File(path: path, mode: .truncate)
            let run = try file.rootGroup().createGroup("runs/a")
            try run.attributes.set("status", to: .string("running"))
            let accuracy = try run.createExtendibleDataset("metrics/accuracy", of: Double.self, chunkLength: 8)
            let rounds = try run.createExtendibleDataset("metrics/round", of: Int64.self, chunkLength: 8)
            var written: [Double] = []
            for round in 1...20 {
                let value = Double(round) / 40
                try rounds.append(Int64(round))
                try accuracy.append(value)
                written.append(value)
                guard [1, 7, 8, 9, 20].contains(round) else { continue }

                let snapshot = directory.appendingPathComponent("crash_\(round).h5").path
                try FileManager.default.copyItem(atPath: path, toPath: snapshot)
                let recovered = try HDF5File(path: snapshot, mode: .readOnly).rootGroup().openGroup("runs/a")
                #expect(try recovered.readDataset("metrics/accuracy", as: Double.self).values == written)
                #expect(try recovered.readDataset("metrics/round", as: Int64.self).values == Array(1...Int64(round)))
                #expect(try recovered.attributes.string("status") == "running")
            }
            withExtendedLifetime(file) {}
        }
    }

    @Test("a checkpoint written and flushed is readable from a crash snapshot")
    func checkpointSnapshot() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("live.h5").path
            let file = try HDF5File(path: path, mode: .truncate)
            let weights = sampleValues(count: 64 * 3 * 3 * 3, of: Float.self)
            try file.rootGroup().createDataset(
                "runs/a/checkpoints/round_5/conv1.weight", values: weights, shape: [64, 3, 3, 3],
                compression: .deflate(level: 4))
            try file.flush()
            let snapshot = directory.appendingPathComponent("crash.h5").path
            try FileManager.default.copyItem(atPath: path, toPath: snapshot)
            let recovered = try HDF5File(path: snapshot, mode: .readOnly).rootGroup()
            #expect(try recovered.readDataset("runs/a/checkpoints/round_5/conv1.weight", as: Float.self)
                == HDF5Array(shape: [64, 3, 3, 3], values: weights))
            withExtendedLifetime(file) {}
        }
    }
}
