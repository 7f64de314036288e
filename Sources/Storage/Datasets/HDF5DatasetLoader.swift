import Foundation
import Platform

/// Loads an image-classification dataset from one HDF5 file, so that any dataset converted with h5py can be used.
///
/// `load(directory:)` takes the path of the `.h5` file itself: the parameter is called `directory` only because
/// `DatasetLoader` requires it. Runs name the file with the `data_dir` key.
///
/// File layout (keys are paths from the root group):
///
/// | key | type | shape | meaning |
/// |---|---|---|---|
/// | `train/images` | uint8 | [N, C, H, W] | training pixels, 0…255, channel-first |
/// | `train/labels` | int8, uint8, int32 or int64 | [N] | class of each training image, in 0..<classes |
/// | `train/device_ids` (optional) | int8, uint8, int32 or int64 | [N] | the natural partition: the device (writer, speaker, …) of each training image, ≥ 0; becomes `Dataset.writerIDs` |
/// | `test/images` | uint8 | [M, C, H, W] | test pixels; C, H and W must equal the training ones |
/// | `test/labels` | int8, uint8, int32 or int64 | [M] | class of each test image |
///
/// Optional attributes of the root group:
/// - `classes` (scalar integer): the number of classes; default: the largest label (train and test) plus one.
/// - `mean` and `std` (float arrays, one entry per channel, on the [0, 1] pixel scale): the normalization;
///   default: the per-channel mean and standard deviation of the training pixels divided by 255. Give both or
///   neither.
///
/// Every problem throws `DatasetError` naming the file and the key and saying how to fix it.
public struct HDF5DatasetLoader: DatasetLoader {
    /// The catalog name, "hdf5".
    public let name = "hdf5"
    /// The file loaded when no `data_dir` is given (a file path, despite the protocol's name).
    public let defaultDirectory: String

    /// The key of the training images.
    public static let trainImagesKey = "train/images"
    /// The key of the training labels.
    public static let trainLabelsKey = "train/labels"
    /// The key of the optional per-sample device ids of the training set.
    public static let trainDeviceIDsKey = "train/device_ids"
    /// The key of the test images.
    public static let testImagesKey = "test/images"
    /// The key of the test labels.
    public static let testLabelsKey = "test/labels"
    /// The root attribute holding the number of classes.
    public static let classesAttribute = "classes"
    /// The root attribute holding the per-channel means.
    public static let meanAttribute = "mean"
    /// The root attribute holding the per-channel standard deviations.
    public static let standardDeviationAttribute = "std"

    /// Creates a loader whose default file is `defaultFile`.
    public init(defaultFile: String = "/usr/share/datasets/hdf5/dataset.h5") {
        defaultDirectory = defaultFile
    }

    /// Loads both splits from the HDF5 file at `directory`: the path of the `.h5` file (given as `data_dir`).
    public func load(directory path: String) throws -> DatasetSplit {
        let reader = try FileReader(path: path, datasetName: name)
        let trainImages = try reader.images(Self.trainImagesKey)
        let testImages = try reader.images(Self.testImagesKey)
        guard trainImages.sampleShape == testImages.sampleShape else {
            throw reader.error(
                .corruptFile, key: Self.testImagesKey,
                "has samples of C×H×W \(testImages.sampleShape.map(String.init).joined(separator: "×")) but "
                    + "'\(Self.trainImagesKey)' has \(trainImages.sampleShape.map(String.init).joined(separator: "×"))"
                    + "; write both splits with the same channels, height and width")
        }
        guard trainImages.count > 0 else {
            throw reader.error(.corruptFile, key: Self.trainImagesKey,
                               "holds no images; write at least one training image")
        }
        let trainLabels = try reader.integers(Self.trainLabelsKey, expectedCount: trainImages.count,
                                              countKey: Self.trainImagesKey)
        let testLabels = try reader.integers(Self.testLabelsKey, expectedCount: testImages.count,
                                             countKey: Self.testImagesKey)
        let classCount = try reader.classCount(trainLabels: trainLabels, testLabels: testLabels)
        try reader.checkLabels(trainLabels, key: Self.trainLabelsKey, classCount: classCount)
        try reader.checkLabels(testLabels, key: Self.testLabelsKey, classCount: classCount)
        let deviceIDs = try reader.deviceIDs(expectedCount: trainImages.count)
        let normalization = try reader.normalization(trainImages: trainImages)

        let (channels, height, width) = (trainImages.sampleShape[0], trainImages.sampleShape[1],
                                         trainImages.sampleShape[2])
        let train = Dataset(
            name: name, images: trainImages.pixels, labels: trainLabels.map { Int32($0) }, channels: channels,
            height: height, width: width, classCount: classCount, writerIDs: deviceIDs, normalization: normalization)
        let test = Dataset(
            name: name, images: testImages.pixels, labels: testLabels.map { Int32($0) }, channels: channels,
            height: height, width: width, classCount: classCount, normalization: normalization)
        return DatasetSplit(train: train, test: test)
    }
}

/// Images read from one key: the pixels and the C, H, W of one sample.
private struct ImageBlock {
    var pixels: [UInt8]
    var count: Int
    var sampleShape: [Int]
}

/// Reads and validates the keys of one open file; every failure becomes a `DatasetError` naming file and key.
private struct FileReader {
    let path: String
    let root: HDF5Group
    let datasetName: String

    static let layoutHint = "set data_dir to the .h5 file itself (not its folder)"

    init(path: String, datasetName: String) throws {
        self.path = path
        self.datasetName = datasetName
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DatasetError(
                .missingFile, path: path,
                message: "HDF5 dataset file '\(path)' does not exist; \(Self.layoutHint)")
        }
        if isDirectory.boolValue {
            throw DatasetError(
                .missingFile, path: path,
                message: "'\(path)' is a directory, but the hdf5 dataset loader reads one file; "
                    + "\(Self.layoutHint)")
        }
        do {
            root = try HDF5File(path: path, mode: .readOnly).rootGroup()
        } catch let error as HDF5Error {
            let kind: DatasetError.Kind = error.kind == .notHDF5File ? .corruptFile : .unreadableFile
            throw DatasetError(
                kind, path: path,
                message: "HDF5 dataset file '\(path)' could not be opened (\(error)); \(Self.layoutHint)")
        }
    }

    /// A `DatasetError` about `key` of this file.
    func error(_ kind: DatasetError.Kind, key: String, _ problem: String) -> DatasetError {
        DatasetError(kind, path: path, message: "HDF5 dataset file '\(path)': '\(key)' \(problem)")
    }

    /// Runs a Storage call, turning its `HDF5Error` into a `DatasetError` about `key`.
    private func reading<Result>(_ key: String, _ body: () throws -> Result) throws -> Result {
        do {
            return try body()
        } catch let error as HDF5Error {
            throw self.error(.unreadableFile, key: key,
                             "could not be read (\(error)); rewrite the file or check that it is intact")
        }
    }

    private func openDataset(_ key: String, required: Bool) throws -> HDF5Dataset? {
        let kind = try reading(key) { try root.kind(of: key) }
        switch kind {
        case .dataset?:
            return try reading(key) { try root.openDataset(key) }
        case nil where !required:
            return nil
        case nil:
            throw error(.missingFile, key: key,
                        "is missing; the file must hold train/images, train/labels, test/images and test/labels "
                            + "(see HDF5DatasetLoader); \(Self.layoutHint)")
        case let other?:
            throw error(.corruptFile, key: key, "is a \(other), not a dataset; store the array itself at this key")
        }
    }

    /// The uint8 [N, C, H, W] images at `key`.
    func images(_ key: String) throws -> ImageBlock {
        let dataset = try openDataset(key, required: true)!
        let elementType = try reading(key) { try dataset.elementType() }
        guard elementType == .uint8 else {
            throw error(.corruptFile, key: key,
                        "holds \(elementType?.rawValue ?? "unsupported") elements but images must be uint8 (0…255); "
                            + "convert them, e.g. with numpy's astype(np.uint8)")
        }
        let shape = try reading(key) { try dataset.shape() }
        guard shape.count == 4 else {
            throw error(.corruptFile, key: key,
                        "has rank \(shape.count) (shape \(shape)) but images must be [N, C, H, W]; add the channel "
                            + "axis for grey images and transpose N×H×W×C to N×C×H×W")
        }
        guard shape[1] > 0, shape[2] > 0, shape[3] > 0 else {
            throw error(.corruptFile, key: key, "has shape \(shape) with an empty channel, height or width axis")
        }
        let pixels = try reading(key) { try dataset.read(as: UInt8.self) }
        return ImageBlock(pixels: pixels, count: shape[0], sampleShape: Array(shape[1...]))
    }

    /// The one-dimensional integers at `key` (nil when optional and absent), `expectedCount` long.
    func integers(_ key: String, expectedCount: Int, countKey: String, required: Bool = true) throws -> [Int64]? {
        guard let dataset = try openDataset(key, required: required) else { return nil }
        let elementType = try reading(key) { try dataset.elementType() }
        guard let elementType, !elementType.isFloatingPoint else {
            throw error(.corruptFile, key: key,
                        "holds \(elementType?.rawValue ?? "unsupported") elements but must hold integers "
                            + "(int8, uint8, int32 or int64); convert them, e.g. with numpy's astype(np.int64)")
        }
        let shape = try reading(key) { try dataset.shape() }
        guard shape.count == 1 else {
            throw error(.corruptFile, key: key,
                        "has rank \(shape.count) (shape \(shape)) but must be one-dimensional [N]; flatten it")
        }
        guard shape[0] == expectedCount else {
            throw error(.countMismatch, key: key,
                        "has \(shape[0]) entries but '\(countKey)' has \(expectedCount) images; write one entry "
                            + "per image")
        }
        return try reading(key) { try dataset.read(as: Int64.self) }
    }

    /// The required labels at `key`.
    func integers(_ key: String, expectedCount: Int, countKey: String) throws -> [Int64] {
        try integers(key, expectedCount: expectedCount, countKey: countKey, required: true)!
    }

    /// The `classes` attribute, or the largest label plus one.
    func classCount(trainLabels: [Int64], testLabels: [Int64]) throws -> Int {
        let attribute = HDF5DatasetLoader.classesAttribute
        let key = "/@\(attribute)"
        guard try reading(key, { try root.attributes.contains(attribute) }) else {
            let largest = max(trainLabels.max() ?? -1, testLabels.max() ?? -1)
            guard largest >= 0 else {
                // Only negative labels: let the range check name the first one.
                return 1
            }
            guard largest < Int64(Int32.max) else {
                throw error(.labelOutOfRange, key: HDF5DatasetLoader.trainLabelsKey,
                            "has label \(largest), too large for a class index; number classes from 0")
            }
            return Int(largest) + 1
        }
        let value = try reading(key) { try root.attributes.value(attribute) }
        guard case .int64(let classes) = value else {
            throw error(.corruptFile, key: key,
                        "is \(value) but must be one integer, the number of classes; store e.g. "
                            + "f.attrs['classes'] = 10")
        }
        guard classes > 0, classes <= Int64(Int32.max) else {
            throw error(.corruptFile, key: key, "is \(classes) but the number of classes must be positive")
        }
        return Int(classes)
    }

    /// Throws for the first label outside 0..<classCount.
    func checkLabels(_ labels: [Int64], key: String, classCount: Int) throws {
        let limit = Int64(classCount)
        guard let index = labels.firstIndex(where: { $0 < 0 || $0 >= limit }) else { return }
        throw error(.labelOutOfRange, key: key,
                    "has label \(labels[index]) at index \(index), outside 0..<\(classCount); number the classes "
                        + "from 0, or set the root attribute '\(HDF5DatasetLoader.classesAttribute)' to the number "
                        + "of classes")
    }

    /// The optional training device ids as writer ids.
    func deviceIDs(expectedCount: Int) throws -> [Int32]? {
        let key = HDF5DatasetLoader.trainDeviceIDsKey
        guard let ids = try integers(key, expectedCount: expectedCount, countKey: HDF5DatasetLoader.trainImagesKey,
                                     required: false)
        else { return nil }
        if let index = ids.firstIndex(where: { $0 < 0 || $0 > Int64(Int32.max) }) {
            throw error(.corruptFile, key: key,
                        "has device id \(ids[index]) at index \(index); device ids must lie in 0...\(Int32.max), "
                            + "renumber the devices from 0")
        }
        return ids.map { Int32($0) }
    }

    /// The `mean`/`std` attributes, or statistics computed from the training pixels.
    func normalization(trainImages: ImageBlock) throws -> ChannelNormalization {
        let channels = trainImages.sampleShape[0]
        let meanName = HDF5DatasetLoader.meanAttribute
        let deviationName = HDF5DatasetLoader.standardDeviationAttribute
        let mean = try channelAttribute(meanName, channels: channels)
        let deviation = try channelAttribute(deviationName, channels: channels)
        switch (mean, deviation) {
        case let (mean?, deviation?):
            if let index = deviation.firstIndex(where: { !($0 > 0) || !$0.isFinite }) {
                throw error(.corruptFile, key: "/@\(deviationName)",
                            "has \(deviation[index]) for channel \(index); standard deviations must be positive "
                                + "and finite")
            }
            if let index = mean.firstIndex(where: { !$0.isFinite }) {
                throw error(.corruptFile, key: "/@\(meanName)", "has \(mean[index]) for channel \(index); "
                                + "means must be finite")
            }
            return ChannelNormalization(mean: mean.map { Float($0) }, standardDeviation: deviation.map { Float($0) })
        case (nil, nil):
            return try computedNormalization(trainImages)
        case (nil, _):
            throw error(.corruptFile, key: "/@\(meanName)",
                        "is missing while '/@\(deviationName)' is set; give both attributes or neither")
        case (_, nil):
            throw error(.corruptFile, key: "/@\(deviationName)",
                        "is missing while '/@\(meanName)' is set; give both attributes or neither")
        }
    }

    private func channelAttribute(_ name: String, channels: Int) throws -> [Double]? {
        let key = "/@\(name)"
        guard try reading(key, { try root.attributes.contains(name) }) else { return nil }
        let value = try reading(key) { try root.attributes.value(name) }
        let numbers: [Double]
        switch value {
        case .doubleArray(let array): numbers = array
        case .double(let number): numbers = [number]
        default:
            throw error(.corruptFile, key: key,
                        "is \(value) but must be an array of floats, one per channel on the [0, 1] scale")
        }
        guard numbers.count == channels else {
            throw error(.corruptFile, key: key,
                        "has \(numbers.count) entries but the images have \(channels) channel"
                            + "\(channels == 1 ? "" : "s"); write one value per channel")
        }
        return numbers
    }

    /// Per-channel mean and standard deviation of pixel/255 over the training images, via a histogram per channel.
    private func computedNormalization(_ images: ImageBlock) throws -> ChannelNormalization {
        let channels = images.sampleShape[0]
        let planeSize = images.sampleShape[1] * images.sampleShape[2]
        var histograms = [Int](repeating: 0, count: channels * 256)
        images.pixels.withUnsafeBufferPointer { pixels in
            histograms.withUnsafeMutableBufferPointer { counts in
                var offset = 0
                for _ in 0..<images.count {
                    for channel in 0..<channels {
                        let base = channel * 256
                        for index in offset..<(offset + planeSize) { counts[base + Int(pixels[index])] += 1 }
                        offset += planeSize
                    }
                }
            }
        }
        var mean: [Float] = []
        var deviation: [Float] = []
        for channel in 0..<channels {
            var total = 0.0, sum = 0.0, squares = 0.0
            for value in 0..<256 {
                let count = Double(histograms[channel * 256 + value])
                let scaled = Double(value) / 255
                total += count
                sum += count * scaled
                squares += count * scaled * scaled
            }
            let channelMean = sum / total
            let variance = max(0, squares / total - channelMean * channelMean)
            guard variance > 0 else {
                throw error(.corruptFile, key: HDF5DatasetLoader.trainImagesKey,
                            "has the same value in every pixel of channel \(channel), so its standard deviation "
                                + "is 0; set the root attributes 'mean' and 'std' (one positive std per channel)")
            }
            mean.append(Float(channelMean))
            deviation.append(Float(variance.squareRoot()))
        }
        return ChannelNormalization(mean: mean, standardDeviation: deviation)
    }
}
