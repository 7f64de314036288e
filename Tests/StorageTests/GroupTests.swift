import Foundation
import Storage
import Testing

@Suite("Groups")
struct GroupTests {
    @Test("nested groups are created, opened, listed and deleted")
    func nestedGroups() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("groups.h5").path
            do {
                let root = try HDF5File(path: path, mode: .truncate).rootGroup()
                let metrics = try root.createGroup("runs/a/metrics")
                #expect(metrics.path == "/runs/a/metrics")
                #expect(metrics.name == "metrics")
                try root.createGroup("runs/b")
                let again = try root.openOrCreateGroup("runs/a/metrics")
                #expect(again.path == "/runs/a/metrics")
                let created = try root.openOrCreateGroup("runs/c/checkpoints")
                #expect(created.path == "/runs/c/checkpoints")
                let run = try root.openGroup("runs/a")
                try run.createDataset("metrics/loss", values: [1.0], shape: [1])
                #expect(try run.openGroup("/runs/b").path == "/runs/b")
            }
            let root = try HDF5File(path: path, mode: .readWrite).rootGroup()
            #expect(root.path == "/")
            #expect(try root.children() == ["runs"])
            #expect(try root.openGroup("runs").children() == ["a", "b", "c"])
            #expect(try root.contains("runs/a/metrics"))
            #expect(try root.kind(of: "runs/a/metrics") == .group)
            #expect(try root.kind(of: "runs/a/metrics/loss") == .dataset)
            #expect(try root.kind(of: "runs/a/metrics/loss/below") == nil)
            #expect(try root.kind(of: "runs/z/metrics") == nil)
            #expect(try !root.contains("runs/a/missing"))

            try root.openGroup("runs").deleteChild("b")
            try root.deleteChild("runs/a/metrics/loss")
            #expect(try root.openGroup("runs").children() == ["a", "c"])
            #expect(try root.openGroup("runs/a/metrics").children() == [])
        }
    }

    @Test("group errors name the object path")
    func groupErrors() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("errors.h5").path
            let root = try HDF5File(path: path, mode: .truncate).rootGroup()
            try root.createGroup("runs/a")
            try root.createDataset("runs/a/loss", values: [0.5], shape: [1])

            let missing = try #require(throws: HDF5Error.self) { try root.openGroup("runs/missing") }
            #expect(missing.kind == .notFound)
            #expect(missing.objectPath == "/runs/missing")
            #expect(missing.filePath == path)
            #expect(missing.description.contains("/runs/missing"))
            #expect(missing.description.contains(path))

            let existing = try #require(throws: HDF5Error.self) { try root.createGroup("runs/a") }
            #expect(existing.kind == .alreadyExists)
            let notGroup = try #require(throws: HDF5Error.self) { try root.openGroup("runs/a/loss") }
            #expect(notGroup.kind == .typeMismatch)
            let notDataset = try #require(throws: HDF5Error.self) { try root.openDataset("runs/a") }
            #expect(notDataset.kind == .typeMismatch)
            let noChild = try #require(throws: HDF5Error.self) { try root.deleteChild("runs/zzz") }
            #expect(noChild.kind == .notFound)
            for bad in ["", "runs//a", "runs/a/", "../x", "runs/./a"] {
                let error = try #require(throws: HDF5Error.self) { try root.openOrCreateGroup(bad) }
                #expect(error.kind == .invalidRequest, "path '\(bad)'")
            }
        }
    }

    @Test("reading a missing dataset names its path and the file")
    func missingDataset() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("missing.h5").path
            try HDF5File(path: path, mode: .truncate).rootGroup().createGroup("runs/a")
            let root = try HDF5File(path: path, mode: .readOnly).rootGroup()
            let error = try #require(throws: HDF5Error.self) {
                try root.readDataset("runs/a/metrics/accuracy", as: Double.self)
            }
            #expect(error.kind == .notFound)
            #expect(error.objectPath == "/runs/a/metrics/accuracy")
            #expect(error.description.contains("'/runs/a/metrics/accuracy'"))
            #expect(error.description.contains(path))
        }
    }

    @Test("a read-only file refuses changes with a hint")
    func readOnlyFile() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("readonly.h5").path
            try HDF5File(path: path, mode: .truncate).rootGroup().createGroup("runs")
            let file = try HDF5File(path: path, mode: .readOnly)
            let root = try file.rootGroup()
            for attempt in [
                { _ = try root.createGroup("runs/new") }, { try root.deleteChild("runs") },
                { _ = try root.createDataset("x", values: [1.0], shape: [1]) },
                { try file.attributes.set("a", to: .int64(1)) },
            ] {
                let error = try #require(throws: HDF5Error.self) { try attempt() }
                #expect(error.kind == .invalidRequest)
                #expect(error.description.contains(".readWrite"))
            }
            #expect(try root.children() == ["runs"])
        }
    }
}
