import Foundation
import Storage
import Testing

@Suite("Datasets")
struct DatasetTests {
    static let shapes: [[Int]] = [[], [0], [7], [3, 5], [64, 3, 3, 3], [2, 3, 4, 5, 2]]

    @Test("every element type and shape round-trips exactly", arguments: HDF5ElementType.allCases, shapes)
    func roundTrip(elementType: HDF5ElementType, shape: [Int]) throws {
        switch elementType {
        case .float32: try checkRoundTrip(Float.self, shape: shape)
        case .float64: try checkRoundTrip(Double.self, shape: shape)
        case .int8: try checkRoundTrip(Int8.self, shape: shape)
        case .uint8: try checkRoundTrip(UInt8.self, shape: shape)
        case .int32: try checkRoundTrip(Int32.self, shape: shape)
        case .int64: try checkRoundTrip(Int64.self, shape: shape)
        }
    }

    private func checkRoundTrip<Element: HDF5Element>(_ type: Element.Type, shape: [Int]) throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("roundtrip.h5").path
            let array = HDF5Array(shape: shape, values: sampleValues(count: shape.reduce(1, *), of: type))
            for compression in [HDF5Compression.none, .deflate(level: 4)] {
                let name = compression == .none ? "plain" : "compressed"
                do {
                    let file = try HDF5File(path: path, mode: compression == .none ? .truncate : .readWrite)
                    try file.rootGroup().createDataset("model/\(name)", array: array, compression: compression)
                }
                let file = try HDF5File(path: path, mode: .readOnly)
                let dataset = try file.rootGroup().openDataset("model/\(name)")
                #expect(try dataset.elementType() == Element.hdf5ElementType)
                #expect(try dataset.shape() == shape)
                #expect(try dataset.readArray(as: type) == array)
                #expect(try dataset.isExtendible() == false)
            }
        }
    }

    @Test("a PyTorch-layout checkpoint keeps keys, shapes and values")
    func checkpointLayout() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("checkpoint.h5").path
            let tensors: [(String, [Int])] = [
                ("conv1.weight", [64, 3, 3, 3]), ("bn1.running_mean", [64]), ("bn1.num_batches_tracked", []),
                ("layer1.0.conv1.weight", [64, 64, 3, 3]), ("linear.weight", [10, 512]), ("linear.bias", [10]),
            ]
            do {
                let state = try HDF5File(path: path, mode: .truncate).rootGroup()
                    .createGroup("runs/r0/checkpoints/round_10")
                for (key, shape) in tensors {
                    let values = sampleValues(count: shape.reduce(1, *), of: Float.self)
                    try state.createDataset(key, values: values, shape: shape)
                }
            }
            let state = try HDF5File(path: path, mode: .readOnly).rootGroup().openGroup("runs/r0/checkpoints/round_10")
            #expect(try state.children() == tensors.map(\.0).sorted())
            for (key, shape) in tensors {
                let array = try state.readDataset(key, as: Float.self)
                #expect(array.shape == shape)
                #expect(array.values == sampleValues(count: shape.reduce(1, *), of: Float.self))
            }
        }
    }

    @Test("reading widens losslessly and refuses narrowing")
    func readConversions() throws {
        try withTemporaryDirectory { directory in
            let file = try HDF5File(path: directory.appendingPathComponent("types.h5").path, mode: .truncate)
            let root = try file.rootGroup()
            let floats = try root.createDataset("floats", values: [Float(1.5), -2.25], shape: [2])
            let doubles = try root.createDataset("doubles", values: [0.1, 0.2], shape: [2])
            let int32s = try root.createDataset("int32s", values: [Int32.min, Int32.max], shape: [2])
            let bytes = try root.createDataset("bytes", values: [UInt8(0), 255], shape: [2])

            #expect(try floats.read(as: Double.self) == [1.5, -2.25])
            #expect(try int32s.read(as: Int64.self) == [Int64(Int32.min), Int64(Int32.max)])
            #expect(try bytes.read(as: Int32.self) == [0, 255])
            for attempt in [{ _ = try doubles.read(as: Float.self) }, { _ = try int32s.read(as: UInt8.self) },
                            { _ = try bytes.read(as: Int8.self) }, { _ = try int32s.read(as: Double.self) }] {
                let error = try #require(throws: HDF5Error.self) { try attempt() }
                #expect(error.kind == .typeMismatch)
            }
            let error = try #require(throws: HDF5Error.self) { try floats.write([1.0, 2.0] as [Double]) }
            #expect(error.kind == .typeMismatch)
            #expect(error.objectPath == "/floats")
        }
    }

    @Test("values that do not fill the shape are rejected with the dataset path")
    func shapeMismatch() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("shape.h5").path
            let root = try HDF5File(path: path, mode: .truncate).rootGroup()
            let error = try #require(throws: HDF5Error.self) {
                try root.createDataset("runs/a/weight", values: [Float](repeating: 0, count: 5), shape: [2, 3])
            }
            #expect(error.kind == .shapeMismatch)
            #expect(error.objectPath == "/runs/a/weight")
            #expect(try !root.contains("runs/a/weight"))

            let dataset = try root.createDataset("fixed", values: [Int64(1), 2, 3], shape: [3])
            try dataset.write([Int64(4), 5, 6])
            #expect(try dataset.read(as: Int64.self) == [4, 5, 6])
            #expect(throws: HDF5Error.self) { try dataset.write([Int64(1)]) }
            let duplicate = try #require(throws: HDF5Error.self) {
                try root.createDataset("fixed", values: [Int64(1)], shape: [1])
            }
            #expect(duplicate.kind == .alreadyExists)
        }
    }

    @Test("deflate compression chunks large arrays and shrinks the file")
    func compression() throws {
        try withTemporaryDirectory { directory in
            // Smooth values compress well; 1M floats are 4 MiB raw, so chunking splits them.
            let values = (0..<(1 << 20)).map { Float(($0 / 1024) % 7) }
            var sizes: [HDF5Compression: Int] = [:]
            for compression in [HDF5Compression.none, .deflate(level: 6)] {
                let path = directory.appendingPathComponent("\(compression == .none ? "plain" : "deflate").h5").path
                do {
                    let dataset = try HDF5File(path: path, mode: .truncate).rootGroup()
                        .createDataset("big", values: values, shape: [1024, 32, 32], compression: compression)
                    #expect(try dataset.compression() == compression)
                }
                let dataset = try HDF5File(path: path, mode: .readOnly).rootGroup().openDataset("big")
                #expect(try dataset.read(as: Float.self) == values)
                sizes[compression] = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int
            }
            let plain = try #require(sizes[.none])
            let compressed = try #require(sizes[.deflate(level: 6)])
            #expect(compressed * 20 < plain, "compressed \(compressed) bytes vs plain \(plain) bytes")

            let levelPath = directory.appendingPathComponent("level.h5").path
            let root = try HDF5File(path: levelPath, mode: .truncate).rootGroup()
            let error = try #require(throws: HDF5Error.self) {
                try root.createDataset("x", values: [Float(1)], shape: [1], compression: .deflate(level: 12))
            }
            #expect(error.kind == .invalidRequest)
        }
    }

    @Test("extendible datasets grow by append across reopening")
    func extendibleAppend() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("metrics.h5").path
            do {
                let metrics = try HDF5File(path: path, mode: .truncate).rootGroup().createGroup("runs/a/metrics")
                let accuracy = try metrics.createExtendibleDataset("accuracy", of: Double.self, chunkLength: 4)
                let uploads = try metrics.createExtendibleDataset("upload_bytes", of: Int64.self)
                #expect(try accuracy.shape() == [0])
                #expect(try accuracy.isExtendible())
                try accuracy.append(0.1)
                try accuracy.append(contentsOf: [0.2, 0.3, 0.4, 0.5, 0.6])
                try uploads.append(contentsOf: [Int64(1_000_000), 2_000_000])
                try uploads.append(contentsOf: [Int64]())
            }
            do {
                let metrics = try HDF5File(path: path, mode: .readWrite).rootGroup().openGroup("runs/a/metrics")
                try metrics.openDataset("accuracy").append(contentsOf: [0.7, 0.8], flush: false)
                try metrics.openDataset("upload_bytes").append(Int64(3_000_000))
            }
            let metrics = try HDF5File(path: path, mode: .readOnly).rootGroup().openGroup("runs/a/metrics")
            #expect(try metrics.readDataset("accuracy", as: Double.self)
                == HDF5Array(shape: [8], values: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]))
            #expect(try metrics.openDataset("upload_bytes").read(as: Int64.self) == [1_000_000, 2_000_000, 3_000_000])
        }
    }

    @Test("append refuses fixed-size datasets, read-only files and lossy element types")
    func appendErrors() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("append.h5").path
            do {
                let root = try HDF5File(path: path, mode: .truncate).rootGroup()
                let fixed = try root.createDataset("fixed", values: [1.0, 2.0], shape: [2])
                let error = try #require(throws: HDF5Error.self) { try fixed.append(3.0) }
                #expect(error.kind == .invalidRequest)
                #expect(error.description.contains("createExtendibleDataset"))
                let counts = try root.createExtendibleDataset("counts", of: Int64.self)
                try counts.append(Int32(7))  // widening is fine
                #expect(throws: HDF5Error.self) { try counts.append(1.5) }
                #expect(try counts.read(as: Int64.self) == [7])
            }
            let counts = try HDF5File(path: path, mode: .readOnly).rootGroup().openDataset("counts")
            let error = try #require(throws: HDF5Error.self) { try counts.append(Int64(8)) }
            #expect(error.kind == .invalidRequest)
            #expect(error.filePath == path)
        }
    }
}
