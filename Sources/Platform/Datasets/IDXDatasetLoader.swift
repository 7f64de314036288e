/// Loads MNIST-style datasets stored as IDX files (`train-images-idx3-ubyte.gz` and friends), gzip-compressed or
/// plain.
public struct IDXDatasetLoader: DatasetLoader {
    /// The catalog name, e.g. "fashion-mnist".
    public let name: String
    /// Where the IDX files are looked for when no directory is given.
    public let defaultDirectory: String
    /// The normalization statistics attached to the loaded datasets.
    public let normalization: ChannelNormalization
    /// Number of classes; every label must be below it.
    public let classCount: Int
    /// Image height and width every file must have.
    public let imageSide: Int
    let hints: DatasetFileHints

    /// Fashion-MNIST: 60,000 training and 10,000 test images of 28×28, 10 classes (Debian: dataset-fashion-mnist).
    public static let fashionMNIST = IDXDatasetLoader(
        name: "fashion-mnist", defaultDirectory: "/usr/share/datasets/fashion-mnist",
        normalization: .fashionMNIST, classCount: 10, imageSide: 28,
        hints: DatasetFileHints(
            install: "Install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist) "
                + "or set data_dir to a directory holding the Fashion-MNIST IDX files",
            repair: "Reinstall it (apt-get reinstall dataset-fashion-mnist) "
                + "or set data_dir to a directory holding intact Fashion-MNIST IDX files"))

    /// MNIST handwritten digits in the same IDX layout as Fashion-MNIST.
    public static let mnist = IDXDatasetLoader(
        name: "mnist", defaultDirectory: "/usr/share/datasets/mnist",
        normalization: .mnist, classCount: 10, imageSide: 28,
        hints: DatasetFileHints(
            install: "Put the MNIST IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                + "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) in /usr/share/datasets/mnist "
                + "or set data_dir to the directory holding them",
            repair: "Download the MNIST IDX files again or set data_dir to a directory holding intact copies"))

    /// File name of the training images, without the optional `.gz`.
    public static let trainImagesFile = "train-images-idx3-ubyte"
    /// File name of the training labels, without the optional `.gz`.
    public static let trainLabelsFile = "train-labels-idx1-ubyte"
    /// File name of the test images, without the optional `.gz`.
    public static let testImagesFile = "t10k-images-idx3-ubyte"
    /// File name of the test labels, without the optional `.gz`.
    public static let testLabelsFile = "t10k-labels-idx1-ubyte"

    /// Loads both splits from `directory`, preferring `name.gz` and falling back to the uncompressed `name`.
    public func load(directory: String) throws -> DatasetSplit {
        try DatasetFiles.requireDirectory(directory, hints: hints)
        let train = try loadPart(directory: directory, images: Self.trainImagesFile, labels: Self.trainLabelsFile)
        let test = try loadPart(directory: directory, images: Self.testImagesFile, labels: Self.testLabelsFile)
        return DatasetSplit(train: train, test: test)
    }

    private func loadPart(directory: String, images imagesName: String, labels labelsName: String) throws -> Dataset {
        let imagesPath = locate(directory: directory, name: imagesName)
        let labelsPath = locate(directory: directory, name: labelsName)
        let images = try readImages(path: imagesPath)
        let labelBytes = try readLabels(path: labelsPath)
        let imageCount = images.count / (imageSide * imageSide)
        guard labelBytes.count == imageCount else {
            throw hints.countMismatch(
                labelsPath, "it holds \(labelBytes.count) labels but \(imagesPath) holds \(imageCount) images")
        }
        let labels = try DatasetFiles.widenLabels(labelBytes, classCount: classCount, path: labelsPath, hints: hints)
        return Dataset(name: name, images: images, labels: labels, channels: 1, height: imageSide,
                       width: imageSide, classCount: classCount, normalization: normalization)
    }

    private func locate(directory: String, name: String) -> String {
        let compressed = DatasetFiles.path(directory, name + ".gz")
        let plain = DatasetFiles.path(directory, name)
        return !DatasetFiles.isFile(compressed) && DatasetFiles.isFile(plain) ? plain : compressed
    }

    // IDX magic numbers: two zero bytes, the element type (0x08 = unsigned byte) and the number of dimensions.
    private static let imageMagic: UInt32 = 0x0000_0803
    private static let labelMagic: UInt32 = 0x0000_0801
    // Far above any IDX dataset in use, low enough that a damaged header cannot make us allocate all memory.
    private static let maximumPayloadBytes = 1 << 32

    private func readImages(path: String) throws -> [UInt8] {
        let reader = try GzipReader(path: path, hints: hints)
        let header = try Self.readHeader(reader, words: 4, what: "the IDX image header")
        guard header[0] == Self.imageMagic else {
            throw hints.corrupt(path, "its magic number is \(Self.hex(header[0])), an IDX image file has "
                + "\(Self.hex(Self.imageMagic)) (is it a label file, or not IDX at all?)")
        }
        let count = Int(header[1])
        let rows = Int(header[2])
        let columns = Int(header[3])
        guard rows == imageSide && columns == imageSide else {
            throw hints.corrupt(
                path, "its images are \(rows)×\(columns), \(name) images are \(imageSide)×\(imageSide)")
        }
        let byteCount = count * rows * columns
        guard byteCount <= Self.maximumPayloadBytes else {
            throw hints.corrupt(path, "its header announces \(count) images, more than any IDX dataset holds")
        }
        let what = "\(count) images of \(rows)×\(columns)"
        var readFailure: Error?
        let pixels = [UInt8](unsafeUninitializedCapacity: byteCount) { buffer, initialized in
            do {
                if let base = buffer.baseAddress { try reader.readExactly(base, count: byteCount, what: what) }
                initialized = byteCount
            } catch {
                readFailure = error
                initialized = 0
            }
        }
        if let readFailure { throw readFailure }
        try reader.expectEnd(after: what)
        return pixels
    }

    private func readLabels(path: String) throws -> [UInt8] {
        let reader = try GzipReader(path: path, hints: hints)
        let header = try Self.readHeader(reader, words: 2, what: "the IDX label header")
        guard header[0] == Self.labelMagic else {
            throw hints.corrupt(path, "its magic number is \(Self.hex(header[0])), an IDX label file has "
                + "\(Self.hex(Self.labelMagic)) (is it an image file, or not IDX at all?)")
        }
        let count = Int(header[1])
        guard count <= Self.maximumPayloadBytes else {
            throw hints.corrupt(path, "its header announces \(count) labels, more than any IDX dataset holds")
        }
        let what = "\(count) labels"
        var readFailure: Error?
        let labels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            do {
                if let base = buffer.baseAddress { try reader.readExactly(base, count: count, what: what) }
                initialized = count
            } catch {
                readFailure = error
                initialized = 0
            }
        }
        if let readFailure { throw readFailure }
        try reader.expectEnd(after: what)
        return labels
    }

    /// Reads `words` big-endian 32-bit header words.
    private static func readHeader(_ reader: GzipReader, words: Int, what: String) throws -> [UInt32] {
        var header = [UInt32](repeating: 0, count: words)
        try header.withUnsafeMutableBytes { bytes in
            try reader.readExactly(bytes.baseAddress!, count: bytes.count, what: what)
        }
        return header.map { UInt32(bigEndian: $0) }
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }
}
