import CHDF5
import Foundation
@testable import Storage
import Testing

/// The check of every stored string against the global heap (ObjectHeaderCheck.swift) on sound files: it must find
/// nothing wrong in what libhdf5 writes, whatever the header version, attribute storage or history of the file.
@Suite("Heap reference check")
struct HeapReferenceCheckTests {
    @Test("Sound files with many, empty, long, overwritten and deleted strings open and read back unchanged")
    func soundStringsPass() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("strings.h5").path
            var expected: [String: String] = [:]
            do {
                let file = try HDF5File(path: path, mode: .truncate)
                let group = try file.rootGroup().createGroup("runs/a")
                let dataset = try group.createDataset("x", values: [Float](repeating: 1, count: 8), shape: [8])
                for index in 0..<20 {
                    let text = index == 0 ? "" : String(repeating: "é\(index)", count: index * 300)
                    try file.attributes.set("s\(index)", to: .string(text))
                    try group.attributes.set("s\(index)", to: .string(text))
                    try dataset.attributes.set("s\(index)", to: .string(text))
                    expected["s\(index)"] = text
                }
                // Overwriting frees heap objects and makes new ones; deleting leaves holes in the collections.
                for index in stride(from: 1, to: 19, by: 3) {
                    try file.attributes.delete("s\(index)")
                    try file.attributes.set("s\(index)", to: .string("again \(index)"))
                    try group.attributes.delete("s\(index + 1)")
                }
                try file.flush()
            }
            do {
                let file = try HDF5File(path: path, mode: .readWrite)
                try file.attributes.delete("s2")
                try file.attributes.set("s2", to: .string("after reopening"))
            }
            let file = try HDF5File(path: path, mode: .readOnly)
            // Every string is checked: 20 on the root, 14 left on the group, 20 on the dataset; the walk before
            // opening covers this layout (libhdf5's default, Storage's) and finds what libhdf5's traversal finds.
            let heaps = try #require(GlobalHeapCheck(path: path))
            #expect(heaps.checkBeforeOpening()?.checkedValues == 54)
            #expect(heaps.referenceCheck(fileID: file.id).checkedValues == 54)
            let group = try file.rootGroup().openGroup("runs/a")
            for index in 0..<20 {
                let name = "s\(index)"
                let rootValue = index == 2 ? "after reopening" : index % 3 == 1 && index < 19 ? "again \(index)" : expected[name]
                #expect(try file.attributes.string(name) == rootValue)
                if index % 3 != 2 || index > 17 {
                    #expect(try group.attributes.string(name) == expected[name])
                }
                #expect(try group.openDataset("x").attributes.string(name) == expected[name])
            }
        }
    }

    @Test("Version-2 object headers and dense attribute storage (libhdf5's latest format) are read, not refused")
    func latestFormatPasses() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("latest.h5").path
            try writeLatestFormat(path: path, compact: 3, dense: 12)
            let file = try HDF5File(path: path, mode: .readOnly)
            // The root's compact attributes are in its version-2 header; the group's dense ones are not checked.
            let heaps = try #require(GlobalHeapCheck(path: path))
            #expect(heaps.checkBeforeOpening() == nil, "a version-3 superblock is left to libhdf5's traversal")
            let check = heaps.referenceCheck(fileID: file.id)
            #expect(check.checkedValues == 3 && check.damage == nil)
            for index in 0..<3 {
                #expect(try file.attributes.string("c\(index)") == "compact \(index)")
            }
            let group = try file.rootGroup().openGroup("g")
            for index in 0..<12 {
                #expect(try group.attributes.string("d\(index)") == "dense \(index)")
            }
        }
    }

    @Test("The group walk before opening finds every object libhdf5's traversal finds, at the same addresses")
    func groupWalkMatchesLibhdf5() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("tree.h5").path
            do {
                // 300 groups: several symbol table nodes under a B-tree of two levels.
                let file = try HDF5File(path: path, mode: .truncate)
                let runs = try file.rootGroup().createGroup("runs")
                for index in 0..<300 {
                    let run = try runs.createGroup("run \(index)")
                    if index % 50 == 0 {
                        try run.createGroup("checkpoints/round_1").createDataset("w", values: [Float(index)], shape: [1])
                    }
                }
                try file.attributes.set("created_by", to: .string("test"))
            }
            let heaps = try #require(GlobalHeapCheck(path: path))
            guard case .objects(let walked) = heaps.image.withUnsafeBytes({
                GlobalHeapCheck.structure(ByteReader(bytes: $0.bindMemory(to: UInt8.self)))
            }) else {
                Issue.record("the walk did not cover a file Storage wrote")
                return
            }
            let file = try HDF5File(path: path, mode: .readOnly)
            let visited = GlobalHeapCheck.reachableObjects(fileID: file.id)
            #expect(walked.count == 1 + 1 + 300 + 6 * 3)
            #expect(Set(walked.map { "\($0.path)@\($0.address)" }) == Set(visited.map { "\($0.path)@\($0.address)" }))
        }
    }

    @Test("Groups nested deeper than the walk recurses are left to libhdf5's traversal, and the file still opens")
    func deepNestingFallsBack() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("deep.h5").path
            let deep = Array(repeating: "g", count: 300).joined(separator: "/")
            do {
                let file = try HDF5File(path: path, mode: .truncate)
                try file.rootGroup().createGroup(deep).attributes.set("note", to: .string("at the bottom"))
            }
            let heaps = try #require(GlobalHeapCheck(path: path))
            #expect(heaps.checkBeforeOpening() == nil)
            let file = try HDF5File(path: path, mode: .readOnly)
            #expect(heaps.referenceCheck(fileID: file.id).checkedValues == 1)
            #expect(try file.rootGroup().openGroup(deep).attributes.string("note") == "at the bottom")
        }
    }

    @Test("String reads run with the address space capped: a 2 GiB allocation fails inside, and succeeds after")
    func allocationGuardCapsAndRestores() throws {
        let size = 2 << 30
        let failedInside = try AllocationGuard.limited { () -> Bool in
            let block = malloc(size)
            defer { free(block) }
            return block == nil
        }
        #expect(failedInside)
        let block = malloc(size)
        #expect(block != nil)
        free(block)
    }

    /// A file in libhdf5's latest format: `compact` string attributes on the root group, `dense` (more than the
    /// 8 a header holds by default, so in a fractal heap) on group "g".
    private func writeLatestFormat(path: String, compact: Int, dense: Int) throws {
        let access = H5Pcreate(chdf5_H5P_FILE_ACCESS())
        defer { H5Pclose(access) }
        #expect(H5Pset_libver_bounds(access, H5F_LIBVER_V110, H5F_LIBVER_V110) >= 0)
        let file = H5Fcreate(path, chdf5_H5F_ACC_TRUNC(), chdf5_H5P_DEFAULT(), access)
        try #require(file >= 0)
        defer { H5Fclose(file) }
        let group = H5Gcreate2(file, "g", chdf5_H5P_DEFAULT(), chdf5_H5P_DEFAULT(), chdf5_H5P_DEFAULT())
        try #require(group >= 0)
        defer { H5Gclose(group) }
        let type = H5Tcopy(chdf5_H5T_C_S1())
        defer { H5Tclose(type) }
        H5Tset_size(type, chdf5_H5T_VARIABLE())
        let space = H5Screate(H5S_SCALAR)
        defer { H5Sclose(space) }
        func write(_ object: hid_t, _ name: String, _ text: String) {
            let attribute = H5Acreate2(object, name, type, space, chdf5_H5P_DEFAULT(), chdf5_H5P_DEFAULT())
            text.withCString { characters in
                var pointer: UnsafePointer<CChar>? = characters
                #expect(H5Awrite(attribute, type, &pointer) >= 0)
            }
            H5Aclose(attribute)
        }
        for index in 0..<compact { write(file, "c\(index)", "compact \(index)") }
        for index in 0..<dense { write(group, "d\(index)", "dense \(index)") }
    }
}
