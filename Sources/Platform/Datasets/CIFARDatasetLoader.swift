import CKernels

/// Loads CIFAR-10 and CIFAR-100 from their binary versions: fixed-size records of label bytes and a 3×32×32 image.
public struct CIFARDatasetLoader: DatasetLoader {
    /// The catalog name, "cifar10" or "cifar100".
    public let name: String
    /// Where the binary files are looked for when no directory is given.
    public let defaultDirectory: String
    /// The normalization statistics attached to the loaded datasets.
    public let normalization: ChannelNormalization
    /// Number of (fine) classes.
    public let classCount: Int
    /// The training files, in the order their records are concatenated.
    public let trainFiles: [String]
    /// The test files.
    public let testFiles: [String]
    /// The folder the official archive unpacks to; searched inside the given directory when the files are not there.
    public let archiveFolder: String
    /// Label bytes in front of each image: 1 for CIFAR-10, 2 (coarse, fine) for CIFAR-100.
    public let labelBytes: Int
    let hints: DatasetFileHints

    /// Bytes of one image: 3 channels of 32×32, each channel a contiguous plane (already C×H×W).
    public static let imageBytes = 3 * 32 * 32

    /// Bytes of one record, labels plus image.
    public var recordBytes: Int { labelBytes + Self.imageBytes }

    /// CIFAR-10: five training batches of 10,000 and one test batch, 10 classes.
    public static let cifar10 = CIFARDatasetLoader(
        name: "cifar10", defaultDirectory: "/usr/share/datasets/cifar10", normalization: .cifar10,
        classCount: 10, trainFiles: (1...5).map { "data_batch_\($0).bin" }, testFiles: ["test_batch.bin"],
        archiveFolder: "cifar-10-batches-bin", labelBytes: 1,
        hints: hints(archive: "cifar-10-binary.tar.gz", folder: "cifar-10-batches-bin",
                     directory: "/usr/share/datasets/cifar10"))

    /// CIFAR-100: 50,000 training and 10,000 test images with coarse and fine labels; the 100 fine classes are used.
    public static let cifar100 = CIFARDatasetLoader(
        name: "cifar100", defaultDirectory: "/usr/share/datasets/cifar100", normalization: .cifar100,
        classCount: 100, trainFiles: ["train.bin"], testFiles: ["test.bin"],
        archiveFolder: "cifar-100-binary", labelBytes: 2,
        hints: hints(archive: "cifar-100-binary.tar.gz", folder: "cifar-100-binary",
                     directory: "/usr/share/datasets/cifar100"))

    private static func hints(archive: String, folder: String, directory: String) -> DatasetFileHints {
        DatasetFileHints(
            install: "Download the binary version \(archive) from https://www.cs.toronto.edu/~kriz/cifar.html, "
                + "unpack it into \(directory) (its \(folder) folder is found there) or set data_dir to the "
                + "directory holding the .bin files",
            repair: "Unpack \(archive) again or set data_dir to a directory holding intact .bin files")
    }

    // CIFAR-100 records start with the coarse (superclass) label, then the fine label.
    private static let cifar100CoarseClasses = 20

    /// Loads both splits from `directory` or from its archive sub-folder.
    public func load(directory: String) throws -> DatasetSplit {
        try DatasetFiles.requireDirectory(directory, hints: hints)
        let nested = DatasetFiles.path(directory, archiveFolder)
        let firstFile = trainFiles[0]
        let root = !DatasetFiles.isFile(DatasetFiles.path(directory, firstFile))
            && DatasetFiles.isFile(DatasetFiles.path(nested, firstFile)) ? nested : directory
        let train = try loadPart(paths: trainFiles.map { DatasetFiles.path(root, $0) })
        let test = try loadPart(paths: testFiles.map { DatasetFiles.path(root, $0) })
        return DatasetSplit(train: train, test: test)
    }

    private func loadPart(paths: [String]) throws -> Dataset {
        var recordCounts: [Int] = []
        for path in paths {
            let size = try DatasetFiles.size(of: path, hints: hints)
            guard size > 0 && size % recordBytes == 0 else {
                throw hints.corrupt(path, "its size \(size) bytes is not a positive multiple of the "
                    + "\(recordBytes)-byte \(name) record (\(labelBytes) label byte\(labelBytes > 1 ? "s" : "") "
                    + "and \(Self.imageBytes) image bytes)")
            }
            recordCounts.append(size / recordBytes)
        }
        let total = recordCounts.reduce(0, +)
        var images = [UInt8](repeating: 0, count: total * Self.imageBytes)
        var labels: [Int32] = []
        labels.reserveCapacity(total)
        var start = 0
        for (path, recordCount) in zip(paths, recordCounts) {
            let records = try DatasetFiles.readAll(path, hints: hints)
            guard records.count == recordCount * recordBytes else {
                throw hints.truncated(path, "it changed size while it was read")
            }
            var fineLabels = [UInt8](repeating: 0, count: recordCount)
            records.withUnsafeBufferPointer { source in
                images.withUnsafeMutableBufferPointer { destination in
                    fineLabels.withUnsafeMutableBufferPointer { labelDestination in
                        cocofl_split_records_u8(
                            source.baseAddress, recordCount, recordBytes, labelBytes - 1, labelBytes,
                            Self.imageBytes, labelDestination.baseAddress,
                            destination.baseAddress! + start * Self.imageBytes)
                    }
                }
            }
            if labelBytes == 2 {
                try checkCoarseLabels(records, recordCount: recordCount, path: path)
            }
            labels += try DatasetFiles.widenLabels(fineLabels, classCount: classCount, path: path, hints: hints)
            start += recordCount
        }
        return Dataset(name: name, images: images, labels: labels, channels: 3, height: 32, width: 32,
                       classCount: classCount, normalization: normalization)
    }

    /// A CIFAR-100 coarse label ≥ 20 means the file is not CIFAR-100 even though its size fits.
    private func checkCoarseLabels(_ records: [UInt8], recordCount: Int, path: String) throws {
        var coarseLabels = [UInt8](repeating: 0, count: recordCount)
        records.withUnsafeBufferPointer { source in
            coarseLabels.withUnsafeMutableBufferPointer { destination in
                cocofl_split_records_u8(source.baseAddress, recordCount, recordBytes, 0, labelBytes, Self.imageBytes,
                                        destination.baseAddress, nil)
            }
        }
        let position = coarseLabels.withUnsafeBufferPointer {
            cocofl_find_u8_above($0.baseAddress, $0.count, UInt8(Self.cifar100CoarseClasses - 1))
        }
        if position < recordCount {
            throw hints.labelOutOfRange(path, "coarse label \(coarseLabels[position]) of record \(position) is "
                + "outside 0...\(Self.cifar100CoarseClasses - 1)")
        }
    }
}
