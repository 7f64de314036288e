import Foundation
import Storage
import Testing

@Suite("Attributes")
struct AttributeTests {
    static let values: [(String, HDF5AttributeValue)] = [
        ("strategy", .string("CoCoFL")),
        ("configuration", .string("{\"rounds\": 1000, \"lr\": 0.1, \"note\": \"µ-Gruppe ✓\"}")),
        ("empty", .string("")),
        ("seed", .int64(-42)),
        ("large", .int64(Int64.max)),
        ("learning_rate", .double(0.1)),
        ("scales", .doubleArray([0.5, -1e-300, .infinity])),
        ("milestones", .int64Array([600, 800])),
        ("no_scales", .doubleArray([])),
    ]

    @Test("every attribute kind round-trips on the file, groups and datasets")
    func roundTrip() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("attributes.h5").path
            do {
                let file = try HDF5File(path: path, mode: .truncate)
                let run = try file.rootGroup().createGroup("runs/a")
                let dataset = try run.createDataset("weight", values: [Float(1)], shape: [1])
                for attributes in [file.attributes, run.attributes, dataset.attributes] {
                    for (name, value) in Self.values {
                        try attributes.set(name, to: value)
                    }
                    try attributes.set("fixed", to: .string("fixed ✓ text"), stringLayout: .fixedLength)
                    try attributes.set("fixed_empty", to: .string(""), stringLayout: .fixedLength)
                }
            }
            let file = try HDF5File(path: path, mode: .readOnly)
            let run = try file.rootGroup().openGroup("runs/a")
            let expectedNames = (Self.values.map(\.0) + ["fixed", "fixed_empty"]).sorted()
            for attributes in [file.attributes, try file.rootGroup().attributes, run.attributes,
                               try run.openDataset("weight").attributes] {
                #expect(try attributes.names() == expectedNames)
                for (name, value) in Self.values {
                    #expect(try attributes.value(name) == value, "attribute \(name)")
                }
                #expect(try attributes.string("fixed") == "fixed ✓ text")
                #expect(try attributes.string("fixed_empty") == "")
                #expect(try attributes.string("strategy") == "CoCoFL")
                #expect(try attributes.int64("seed") == -42)
                #expect(try attributes.double("learning_rate") == 0.1)
                #expect(try attributes.doubleArray("scales") == [0.5, -1e-300, .infinity])
                #expect(try attributes.int64Array("milestones") == [600, 800])
                #expect(try attributes.contains("seed"))
                #expect(try !attributes.contains("missing"))
            }
        }
    }

    @Test("setting an existing attribute replaces it, even with another type")
    func overwrite() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("overwrite.h5").path
            do {
                let run = try HDF5File(path: path, mode: .truncate).rootGroup().createGroup("run")
                try run.attributes.set("status", to: .string("running"))
                try run.attributes.set("status", to: .string("failed: device 3 has no feasible configuration"))
                try run.attributes.set("rounds", to: .int64(10))
                try run.attributes.set("rounds", to: .doubleArray([1, 2, 3]))
                try run.attributes.set("gone", to: .double(1))
                try run.attributes.delete("gone")
            }
            let run = try HDF5File(path: path, mode: .readWrite).rootGroup().openGroup("run")
            #expect(try run.attributes.string("status") == "failed: device 3 has no feasible configuration")
            #expect(try run.attributes.doubleArray("rounds") == [1, 2, 3])
            #expect(try run.attributes.names() == ["rounds", "status"])
            try run.attributes.set("status", to: .string("complete"), stringLayout: .fixedLength)
            #expect(try run.attributes.string("status") == "complete")
        }
    }

    @Test("attribute errors say which attribute and what it holds")
    func attributeErrors() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("errors.h5").path
            let run = try HDF5File(path: path, mode: .truncate).rootGroup().createGroup("runs/a")
            try run.attributes.set("seed", to: .int64(7))

            let missing = try #require(throws: HDF5Error.self) { try run.attributes.value("sede") }
            #expect(missing.kind == .notFound)
            #expect(missing.objectPath == "/runs/a")
            #expect(missing.description.contains("'sede'"))

            let wrongType = try #require(throws: HDF5Error.self) { try run.attributes.string("seed") }
            #expect(wrongType.kind == .typeMismatch)
            #expect(wrongType.description.contains("int64(7)"))

            let nul = try #require(throws: HDF5Error.self) { try run.attributes.set("bad", to: .string("a\u{0}b")) }
            #expect(nul.kind == .invalidRequest)
            #expect(throws: HDF5Error.self) { try run.attributes.delete("missing") }
        }
    }
}
