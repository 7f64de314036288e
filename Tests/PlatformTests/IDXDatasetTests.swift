import Foundation
import Platform
import Testing

/// Where the Debian package dataset-fashion-mnist installs the real files.
private let installedFashionMNIST = "/usr/share/datasets/fashion-mnist"

@Suite("IDX datasets (Fashion-MNIST, MNIST)")
struct IDXDatasetTests {
    @Test("the installed Fashion-MNIST loads with 60,000/10,000 balanced images",
          .enabled(if: FileManager.default.fileExists(
              atPath: installedFashionMNIST + "/train-images-idx3-ubyte.gz")))
    func loadsInstalledFashionMNIST() throws {
        let split = try DatasetCatalog.load(name: "fashion-mnist", directory: nil)
        #expect(split.train.count == 60_000)
        #expect(split.test.count == 10_000)
        #expect(split.train.images.count == 60_000 * 784)
        #expect(split.test.images.count == 10_000 * 784)
        #expect((split.train.channels, split.train.height, split.train.width) == (1, 28, 28))
        #expect(split.train.classCount == 10)
        #expect(split.train.classCounts() == Array(repeating: 6_000, count: 10))
        #expect(split.test.classCounts() == Array(repeating: 1_000, count: 10))
        // The first training and test images are both ankle boots (class 9) in the published files.
        #expect(split.train.labels.first == 9)
        #expect(split.test.labels.first == 9)
        #expect(split.train.writerIDs == nil)
        #expect(split.train.normalization == .fashionMNIST)
    }

    @Test("small gzip IDX files round-trip", arguments: [true, false])
    func roundTrip(compressed: Bool) throws {
        try withTemporaryDirectory { directory in
            let fixture = IDXFixture()
            try fixture.write(to: directory, compressed: compressed)
            let split = try IDXDatasetLoader.fashionMNIST.load(directory: directory)
            #expect(split.train.images == fixture.trainPixels)
            #expect(split.train.labels == fixture.trainLabels.map(Int32.init))
            #expect(split.test.images == fixture.testPixels)
            #expect(split.test.labels == fixture.testLabels.map(Int32.init))
            #expect(split.train.name == "fashion-mnist")
        }
    }

    @Test("MNIST uses the same files through the catalog")
    func mnistThroughCatalog() throws {
        try withTemporaryDirectory { directory in
            let fixture = IDXFixture(trainCount: 2, testCount: 1)
            try fixture.write(to: directory)
            let split = try DatasetCatalog.standard.load(name: "mnist", directory: directory)
            #expect(split.train.name == "mnist")
            #expect(split.train.normalization == .mnist)
            #expect(split.train.images == fixture.trainPixels)
        }
    }

    /// One way of damaging the Fashion-MNIST files, and what the loader must say about it.
    enum Damage: String, CaseIterable, CustomTestStringConvertible {
        case truncatedGzip, cutGzipTrailer, truncatedPayload, extraPayload, wrongMagic, labelOutOfRange,
             countMismatch, wrongImageSize

        var testDescription: String { rawValue }

        /// The file the error must name.
        var file: String {
            switch self {
            case .labelOutOfRange, .countMismatch: "train-labels-idx1-ubyte.gz"
            default: "train-images-idx3-ubyte.gz"
            }
        }

        var kind: DatasetError.Kind {
            switch self {
            case .truncatedGzip, .cutGzipTrailer, .truncatedPayload: .truncatedFile
            case .extraPayload, .wrongMagic, .wrongImageSize: .corruptFile
            case .labelOutOfRange: .labelOutOfRange
            case .countMismatch: .countMismatch
            }
        }

        func apply(to directory: String, fixture: IDXFixture) throws {
            let images = directory + "/train-images-idx3-ubyte.gz"
            let labels = directory + "/train-labels-idx1-ubyte.gz"
            let count = fixture.trainLabels.count
            switch self {
            case .truncatedGzip:
                let compressed = try readFile(images)
                try writeFile(Array(compressed.prefix(compressed.count / 2)), to: images)
            case .cutGzipTrailer:
                // The whole payload is there; only the CRC and length trailer are missing.
                let compressed = try readFile(images)
                try writeFile(Array(compressed.dropLast(8)), to: images)
            case .truncatedPayload:
                let short = Array(fixture.trainPixels.dropLast(IDXFixture.imageSize))
                try writeGzip(idxImageFile(count: count, pixels: short), to: images)
            case .extraPayload:
                try writeGzip(idxImageFile(count: count, pixels: fixture.trainPixels + [1, 2, 3]), to: images)
            case .wrongMagic:
                try writeGzip(idxImageFile(count: count, pixels: fixture.trainPixels, magic: 0x0000_0801), to: images)
            case .labelOutOfRange:
                var badLabels = fixture.trainLabels
                badLabels[2] = 10
                try writeGzip(idxLabelFile(labels: badLabels), to: labels)
            case .countMismatch:
                try writeGzip(idxLabelFile(labels: Array(fixture.trainLabels.dropLast())), to: labels)
            case .wrongImageSize:
                try writeGzip(idxImageFile(count: 1, side: 32, pixels: [UInt8](repeating: 0, count: 1024)), to: images)
            }
        }
    }

    @Test("damaged files throw an error naming the file and the fix", arguments: Damage.allCases)
    func damagedFiles(damage: Damage) throws {
        try withTemporaryDirectory { directory in
            let fixture = IDXFixture()
            try fixture.write(to: directory)
            try damage.apply(to: directory, fixture: fixture)
            let error = #expect(throws: DatasetError.self) {
                _ = try IDXDatasetLoader.fashionMNIST.load(directory: directory)
            }
            #expect(error?.kind == damage.kind, "\(error.map(String.init(describing:)) ?? "no error")")
            #expect(error?.path?.hasSuffix("/" + damage.file) == true)
            #expect(error?.description.contains(damage.file) == true)
            #expect(error?.description.contains("dataset-fashion-mnist") == true)
            #expect(error?.description.contains("data_dir") == true)
        }
    }

    @Test("a missing directory says which package to install")
    func missingDirectory() throws {
        try withTemporaryDirectory { directory in
            let missing = directory + "/nowhere"
            let error = #expect(throws: DatasetError.self) {
                _ = try DatasetCatalog.load(name: "fashion-mnist", directory: missing)
            }
            #expect(error?.kind == .missingFile)
            #expect(error?.description.contains(missing) == true)
            #expect(error?.description.contains("apt-get install dataset-fashion-mnist") == true)
        }
    }

    @Test("a missing test file is named in the error")
    func missingTestFile() throws {
        try withTemporaryDirectory { directory in
            try IDXFixture().write(to: directory)
            try FileManager.default.removeItem(atPath: directory + "/t10k-labels-idx1-ubyte.gz")
            let error = #expect(throws: DatasetError.self) {
                _ = try IDXDatasetLoader.fashionMNIST.load(directory: directory)
            }
            #expect(error?.kind == .missingFile)
            #expect(error?.description.contains("t10k-labels-idx1-ubyte.gz") == true)
        }
    }
}

@Suite("Grey datasets as 3×32×32")
struct PaddedGreyscaleDatasetTests {
    @Test("Fashion-MNIST as 3×32×32: the centre equals the original, the border is zero, the channels are equal",
          .enabled(if: FileManager.default.fileExists(
              atPath: installedFashionMNIST + "/train-images-idx3-ubyte.gz")))
    func paddedFashionMNIST() throws {
        let original = try DatasetCatalog.load(name: "fashion-mnist", directory: nil)
        let padded = try DatasetCatalog.load(name: "fashion-mnist-3x32x32", directory: nil)
        #expect(padded.train.count == 60_000 && padded.test.count == 10_000)
        #expect((padded.train.channels, padded.train.height, padded.train.width) == (3, 32, 32))
        #expect(padded.train.name == "fashion-mnist-3x32x32")
        #expect(padded.train.labels == original.train.labels && padded.test.labels == original.test.labels)
        #expect(padded.train.normalization.mean == [0.2860, 0.2860, 0.2860])
        // A small subset of both splits, pixel by pixel.
        for (source, converted) in [(original.train, padded.train), (original.test, padded.test)] {
            for image in [0, 1, 2, 777, source.count - 1] {
                for channel in 0..<3 {
                    for row in 0..<32 {
                        for column in 0..<32 {
                            let value = converted.images[((image * 3 + channel) * 32 + row) * 32 + column]
                            if (2..<30).contains(row) && (2..<30).contains(column) {
                                let expected = source.images[(image * 28 + row - 2) * 28 + column - 2]
                                #expect(value == expected, "image \(image) channel \(channel) (\(row), \(column))")
                            } else {
                                #expect(value == 0, "image \(image) channel \(channel) border (\(row), \(column))")
                            }
                        }
                    }
                }
            }
        }
        // Normalized batches: the three channels of a sample are identical.
        var floats = [Float](repeating: 0, count: 2 * 3 * 32 * 32)
        var labels = [Int32](repeating: 0, count: 2)
        floats.withUnsafeMutableBufferPointer { images in
            labels.withUnsafeMutableBufferPointer { padded.test.writeBatch(indices: [5, 9], images: images.baseAddress!, labels: $0.baseAddress!) }
        }
        for sample in 0..<2 {
            let plane = 32 * 32, base = sample * 3 * plane
            #expect(floats[base..<base + plane] == floats[base + plane..<base + 2 * plane])
            #expect(floats[base..<base + plane] == floats[base + 2 * plane..<base + 3 * plane])
        }
    }

    @Test("Only grey datasets convert; the error names the dataset")
    func rejectsColour() throws {
        let colour = Dataset(name: "rgb", images: [UInt8](repeating: 1, count: 2 * 3 * 4 * 4), labels: [0, 1], channels: 3,
                             height: 4, width: 4, classCount: 2, normalization: .unit(channels: 3))
        let error = try #require(throws: DatasetError.self) { _ = try colour.paddedGreyscale(padding: 2, channels: 3, name: "x") }
        #expect(error.kind == .invalidConversion && error.description.contains("rgb"))
    }
}
