import Foundation
import Platform
import Storage
import Testing

/// A small dataset in the loader's layout, written with the Storage layer.
struct HDF5LoaderSampleFile {
    static let channels = 2, height = 3, width = 2
    static var sampleSize: Int { channels * height * width }

    var trainImages: [UInt8] = (0..<(5 * HDF5LoaderSampleFile.sampleSize)).map { UInt8(($0 * 37) % 256) }
    var trainLabels: [Int64] = [0, 2, 1, 3, 2]
    var testImages: [UInt8] = (0..<(3 * HDF5LoaderSampleFile.sampleSize)).map { UInt8(($0 * 11 + 5) % 256) }
    var testLabels: [Int64] = [1, 0, 3]
    var deviceIDs: [Int32]? = nil
    var classes: Int64? = nil
    var mean: [Double]? = nil
    var standardDeviation: [Double]? = nil

    /// Writes the file; `edit` may then change or delete keys to break it.
    func write(to path: String, edit: (HDF5Group) throws -> Void = { _ in }) throws {
        let file = try HDF5File(path: path, mode: .truncate)
        let root = try file.rootGroup()
        let shape = [HDF5LoaderSampleFile.channels, HDF5LoaderSampleFile.height, HDF5LoaderSampleFile.width]
        try root.createDataset("train/images", values: trainImages,
                               shape: [trainImages.count / HDF5LoaderSampleFile.sampleSize] + shape)
        try root.createDataset("train/labels", values: trainLabels.map { Int32($0) }, shape: [trainLabels.count])
        try root.createDataset("test/images", values: testImages,
                               shape: [testImages.count / HDF5LoaderSampleFile.sampleSize] + shape)
        // The test labels are int64 and uint8 elsewhere, so that every accepted label type is exercised.
        try root.createDataset("test/labels", values: testLabels, shape: [testLabels.count])
        if let deviceIDs {
            try root.createDataset("train/device_ids", values: deviceIDs.map { UInt8($0) }, shape: [deviceIDs.count])
        }
        if let classes { try file.attributes.set("classes", to: .int64(classes)) }
        if let mean { try file.attributes.set("mean", to: .doubleArray(mean)) }
        if let standardDeviation { try file.attributes.set("std", to: .doubleArray(standardDeviation)) }
        try edit(root)
        try file.flush()
    }

    /// Per-channel mean and standard deviation of pixel/255, computed the slow, obvious way.
    func expectedStatistics() -> (mean: [Float], standardDeviation: [Float]) {
        let planeSize = HDF5LoaderSampleFile.height * HDF5LoaderSampleFile.width
        var means: [Float] = [], deviations: [Float] = []
        for channel in 0..<HDF5LoaderSampleFile.channels {
            var values: [Double] = []
            for sample in 0..<(trainImages.count / HDF5LoaderSampleFile.sampleSize) {
                let start = sample * HDF5LoaderSampleFile.sampleSize + channel * planeSize
                values += trainImages[start..<(start + planeSize)].map { Double($0) / 255 }
            }
            let mean = values.reduce(0, +) / Double(values.count)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
            means.append(Float(mean))
            deviations.append(Float(variance.squareRoot()))
        }
        return (means, deviations)
    }
}

/// Runs `body` with the path of a not yet existing `.h5` file inside a fresh temporary directory.
private func withDatasetPath<Result>(_ body: (String) throws -> Result) throws -> Result {
    try withTemporaryDirectory { directory in try body(directory.appendingPathComponent("data.h5").path) }
}

@Suite("HDF5DatasetLoader")
struct HDF5DatasetLoaderTests {
    let loader = HDF5DatasetLoader()

    @Test("the loader is called hdf5 and registers into a catalog")
    func registration() throws {
        #expect(loader.name == "hdf5")
        var catalog = DatasetCatalog()
        try catalog.register(loader)
        #expect(catalog.names == ["hdf5"])
    }

    @Test("a file round-trips with and without device ids and normalization attributes",
          arguments: [false, true], [false, true])
    func roundTrip(withDeviceIDs: Bool, withNormalization: Bool) throws {
        try withDatasetPath { path in
            var sample = HDF5LoaderSampleFile()
            if withDeviceIDs { sample.deviceIDs = [4, 0, 4, 7, 0] }
            if withNormalization {
                sample.mean = [0.25, 0.5]
                sample.standardDeviation = [0.125, 0.3]
                sample.classes = 6
            }
            try sample.write(to: path)
            let split = try loader.load(directory: path)

            for dataset in [split.train, split.test] {
                #expect(dataset.name == "hdf5")
                #expect(dataset.channels == HDF5LoaderSampleFile.channels)
                #expect(dataset.height == HDF5LoaderSampleFile.height)
                #expect(dataset.width == HDF5LoaderSampleFile.width)
                #expect(dataset.classCount == (withNormalization ? 6 : 4))
            }
            #expect(split.train.images == sample.trainImages)
            #expect(split.train.labels == sample.trainLabels.map { Int32($0) })
            #expect(split.test.images == sample.testImages)
            #expect(split.test.labels == sample.testLabels.map { Int32($0) })
            #expect(split.train.writerIDs == sample.deviceIDs)
            #expect(split.test.writerIDs == nil)

            let normalization = split.train.normalization
            #expect(split.test.normalization == normalization)
            let (mean, deviation) = withNormalization
                ? (sample.mean!.map { Float($0) }, sample.standardDeviation!.map { Float($0) })
                : sample.expectedStatistics()
            #expect(normalization.mean.count == HDF5LoaderSampleFile.channels)
            for channel in 0..<HDF5LoaderSampleFile.channels {
                #expect(abs(normalization.mean[channel] - mean[channel]) < 1e-5)
                #expect(abs(normalization.standardDeviation[channel] - deviation[channel]) < 1e-5)
            }
        }
    }

    @Test("uint8 train labels are read like the int32 and int64 ones")
    func labelElementTypes() throws {
        try withDatasetPath { path in
            let sample = HDF5LoaderSampleFile()
            try sample.write(to: path) { root in
                try root.deleteChild("train/labels")
                try root.createDataset("train/labels", values: sample.trainLabels.map { UInt8($0) },
                                       shape: [sample.trainLabels.count])
            }
            #expect(try loader.load(directory: path).train.labels == sample.trainLabels.map { Int32($0) })
        }
    }

    /// A way to break a valid file, the key the error must name and the kind it must have.
    struct BrokenCase: CustomTestStringConvertible, Sendable {
        let label: String
        let key: String
        let kind: DatasetError.Kind
        let prepare: @Sendable (inout HDF5LoaderSampleFile) -> Void
        let edit: @Sendable (HDF5Group) throws -> Void

        init(_ label: String, key: String, kind: DatasetError.Kind,
             prepare: @escaping @Sendable (inout HDF5LoaderSampleFile) -> Void = { _ in },
             edit: @escaping @Sendable (HDF5Group) throws -> Void = { _ in }) {
            self.label = label
            self.key = key
            self.kind = kind
            self.prepare = prepare
            self.edit = edit
        }

        var testDescription: String { label }
    }

    static let brokenCases: [BrokenCase] = [
        BrokenCase("missing train images", key: "train/images", kind: .missingFile,
                   edit: { try $0.deleteChild("train/images") }),
        BrokenCase("missing train labels", key: "train/labels", kind: .missingFile,
                   edit: { try $0.deleteChild("train/labels") }),
        BrokenCase("missing test images", key: "test/images", kind: .missingFile,
                   edit: { try $0.deleteChild("test") }),
        BrokenCase("missing test labels", key: "test/labels", kind: .missingFile,
                   edit: { try $0.deleteChild("test/labels") }),
        BrokenCase("a group where images belong", key: "train/images", kind: .corruptFile,
                   edit: { root in
                       try root.deleteChild("train/images")
                       try root.createGroup("train/images")
                   }),
        BrokenCase("float images", key: "train/images", kind: .corruptFile,
                   edit: { root in
                       try root.deleteChild("train/images")
                       try root.createDataset("train/images", values: [Float](repeating: 0.5, count: 60),
                                              shape: [5, 2, 3, 2])
                   }),
        BrokenCase("int32 test images", key: "test/images", kind: .corruptFile,
                   edit: { root in
                       try root.deleteChild("test/images")
                       try root.createDataset("test/images", values: [Int32](repeating: 1, count: 36),
                                              shape: [3, 2, 3, 2])
                   }),
        BrokenCase("images of rank 3", key: "train/images", kind: .corruptFile,
                   edit: { root in
                       try root.deleteChild("train/images")
                       try root.createDataset("train/images", values: [UInt8](repeating: 1, count: 60),
                                              shape: [5, 6, 2])
                   }),
        BrokenCase("float labels", key: "train/labels", kind: .corruptFile,
                   edit: { root in
                       try root.deleteChild("train/labels")
                       try root.createDataset("train/labels", values: [Double](repeating: 1, count: 5), shape: [5])
                   }),
        BrokenCase("labels of rank 2", key: "test/labels", kind: .corruptFile,
                   edit: { root in
                       try root.deleteChild("test/labels")
                       try root.createDataset("test/labels", values: [Int64](repeating: 1, count: 3),
                                              shape: [3, 1])
                   }),
        BrokenCase("test images of another height", key: "test/images", kind: .corruptFile,
                   edit: { root in
                       try root.deleteChild("test/images")
                       try root.createDataset("test/images", values: [UInt8](repeating: 1, count: 24),
                                              shape: [3, 2, 2, 2])
                   }),
        BrokenCase("test images with another channel count", key: "test/images", kind: .corruptFile,
                   edit: { root in
                       try root.deleteChild("test/images")
                       try root.createDataset("test/images", values: [UInt8](repeating: 1, count: 54),
                                              shape: [3, 3, 3, 2])
                   }),
        BrokenCase("fewer train labels than images", key: "train/labels", kind: .countMismatch,
                   prepare: { $0.trainLabels = [0, 1, 2, 3] }),
        BrokenCase("more test labels than images", key: "test/labels", kind: .countMismatch,
                   prepare: { $0.testLabels = [0, 1, 2, 3] }),
        BrokenCase("device ids of the wrong count", key: "train/device_ids", kind: .countMismatch,
                   prepare: { $0.deviceIDs = [0, 1] }),
        BrokenCase("a train label at the class count", key: "train/labels", kind: .labelOutOfRange,
                   prepare: { $0.classes = 3 }),
        BrokenCase("a negative test label", key: "test/labels", kind: .labelOutOfRange,
                   prepare: { $0.testLabels = [1, -1, 0] }),
        BrokenCase("a non-positive class count", key: "classes", kind: .corruptFile,
                   prepare: { $0.classes = 0 }),
        BrokenCase("negative device ids", key: "train/device_ids", kind: .corruptFile,
                   edit: { root in
                       try root.createDataset("train/device_ids", values: [Int64](arrayLiteral: 0, 1, -3, 1, 0),
                                              shape: [5])
                   }),
        BrokenCase("float device ids", key: "train/device_ids", kind: .corruptFile,
                   edit: { root in
                       try root.createDataset("train/device_ids", values: [Float](repeating: 1, count: 5), shape: [5])
                   }),
        BrokenCase("a mean of the wrong length", key: "mean", kind: .corruptFile,
                   prepare: { $0.mean = [0.5]; $0.standardDeviation = [0.2, 0.2] }),
        BrokenCase("a std of the wrong length", key: "std", kind: .corruptFile,
                   prepare: { $0.mean = [0.5, 0.5]; $0.standardDeviation = [0.2, 0.2, 0.2] }),
        BrokenCase("a zero std", key: "std", kind: .corruptFile,
                   prepare: { $0.mean = [0.5, 0.5]; $0.standardDeviation = [0.2, 0] }),
        BrokenCase("a negative std", key: "std", kind: .corruptFile,
                   prepare: { $0.mean = [0.5, 0.5]; $0.standardDeviation = [-0.2, 0.2] }),
        BrokenCase("a mean without a std", key: "std", kind: .corruptFile,
                   prepare: { $0.mean = [0.5, 0.5] }),
        BrokenCase("constant training pixels without a std", key: "train/images", kind: .corruptFile,
                   prepare: { $0.trainImages = [UInt8](repeating: 9, count: $0.trainImages.count) }),
    ]

    @Test("each broken file throws a DatasetError naming the file and the key", arguments: brokenCases)
    func brokenFile(_ broken: BrokenCase) throws {
        try withDatasetPath { path in
            var sample = HDF5LoaderSampleFile()
            broken.prepare(&sample)
            try sample.write(to: path, edit: broken.edit)
            let error = try #require(throws: DatasetError.self) { try loader.load(directory: path) }
            #expect(error.kind == broken.kind)
            #expect(error.path == path)
            #expect(error.description.contains(path))
            #expect(error.description.contains("'\(broken.key)'") || error.description.contains("@\(broken.key)'"),
                    "\(error.description)")
        }
    }

    @Test("a missing file or a directory asks for the .h5 file with --data-dir")
    func missingFile() throws {
        try withTemporaryDirectory { directory in
            let missing = directory.appendingPathComponent("absent.h5").path
            for path in [missing, directory.path] {
                let error = try #require(throws: DatasetError.self) { try loader.load(directory: path) }
                #expect(error.kind == .missingFile)
                #expect(error.description.contains(path))
                #expect(error.description.contains("data_dir"))
            }
        }
    }

    @Test("a file that is not HDF5 is reported as corrupt")
    func notHDF5() throws {
        try withDatasetPath { path in
            try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: path))
            let error = try #require(throws: DatasetError.self) { try loader.load(directory: path) }
            #expect(error.kind == .corruptFile)
            #expect(error.description.contains(path))
            #expect(error.description.contains("data_dir"))
        }
    }
}
