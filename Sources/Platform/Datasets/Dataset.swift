import CKernels

/// Per-channel mean and standard deviation of pixel values scaled to [0, 1], as used by torchvision's `Normalize`.
public struct ChannelNormalization: Sendable, Equatable {
    /// Mean of each channel over the training set, on the [0, 1] scale.
    public let mean: [Float]
    /// Standard deviation of each channel over the training set, on the [0, 1] scale.
    public let standardDeviation: [Float]

    /// Creates a normalization from per-channel statistics; both arrays have one entry per channel.
    public init(mean: [Float], standardDeviation: [Float]) {
        precondition(!mean.isEmpty && mean.count == standardDeviation.count, "one mean and one std per channel")
        precondition(standardDeviation.allSatisfy { $0 > 0 }, "standard deviations must be positive")
        self.mean = mean
        self.standardDeviation = standardDeviation
    }

    /// Fashion-MNIST training-set statistics.
    public static let fashionMNIST = ChannelNormalization(mean: [0.2860], standardDeviation: [0.3530])
    /// MNIST training-set statistics.
    public static let mnist = ChannelNormalization(mean: [0.1307], standardDeviation: [0.3081])
    /// CIFAR-10 training-set statistics (R, G, B).
    public static let cifar10 = ChannelNormalization(
        mean: [0.4914, 0.4822, 0.4465], standardDeviation: [0.2470, 0.2435, 0.2616])
    /// CIFAR-100 training-set statistics (R, G, B).
    public static let cifar100 = ChannelNormalization(
        mean: [0.5071, 0.4865, 0.4409], standardDeviation: [0.2673, 0.2564, 0.2762])
    /// FEMNIST statistics in LEAF's encoding, where the paper background is white (1.0) and ink is dark.
    public static let femnist = ChannelNormalization(mean: [0.9637], standardDeviation: [0.1597])

    /// The identity mapping onto [0, 1]: mean 0 and standard deviation 1 for each of `channels` channels.
    public static func unit(channels: Int) -> ChannelNormalization {
        ChannelNormalization(mean: Array(repeating: 0, count: channels),
                             standardDeviation: Array(repeating: 1, count: channels))
    }
}

/// An in-memory image-classification dataset: uint8 images in N×C×H×W order with one label per image.
public struct Dataset: Sendable {
    /// The catalog name of the dataset, e.g. "fashion-mnist".
    public let name: String
    /// All pixels, sample-major, then channel, row and column (N×C×H×W), each 0…255.
    public let images: [UInt8]
    /// The class of each sample, in 0..<classCount.
    public let labels: [Int32]
    /// Number of colour channels per image.
    public let channels: Int
    /// Image height in pixels.
    public let height: Int
    /// Image width in pixels.
    public let width: Int
    /// Number of classes the labels range over.
    public let classCount: Int
    /// The natural partition, if the dataset has one: the writer (or recording device) of each sample.
    public let writerIDs: [Int32]?
    /// The name of each writer id (`writerNames[Int(writerIDs[i])]`), when the source names them.
    public let writerNames: [String]?
    /// The statistics `writeBatch` normalizes with.
    public let normalization: ChannelNormalization

    /// Creates a dataset; the array sizes must agree with each other and with the image shape.
    public init(
        name: String, images: [UInt8], labels: [Int32], channels: Int, height: Int, width: Int, classCount: Int,
        writerIDs: [Int32]? = nil, writerNames: [String]? = nil, normalization: ChannelNormalization
    ) {
        precondition(channels > 0 && height > 0 && width > 0 && classCount > 0, "dataset shape must be positive")
        precondition(images.count == labels.count * channels * height * width,
                     "\(name): \(images.count) pixels do not make \(labels.count) images of "
                        + "\(channels)×\(height)×\(width)")
        precondition(writerIDs == nil || writerIDs!.count == labels.count, "\(name): one writer id per sample")
        precondition(writerNames == nil || writerIDs != nil, "\(name): writer names need writer ids")
        precondition(normalization.mean.count == channels, "\(name): normalization needs one entry per channel")
        self.name = name
        self.images = images
        self.labels = labels
        self.channels = channels
        self.height = height
        self.width = width
        self.classCount = classCount
        self.writerIDs = writerIDs
        self.writerNames = writerNames
        self.normalization = normalization
    }

    /// Number of samples.
    public var count: Int { labels.count }

    /// Number of pixels of one sample (C·H·W).
    public var sampleSize: Int { channels * height * width }

    /// Number of samples of each class, indexed by label.
    public func classCounts() -> [Int] {
        var counts = [Int](repeating: 0, count: classCount)
        for label in labels { counts[Int(label)] += 1 }
        return counts
    }

    /// Writes the samples at `indices` as normalized float N×C×H×W into `images` and their labels into `labels`.
    ///
    /// `images` must hold `indices.count * sampleSize` floats and `labels` `indices.count` values. Each pixel
    /// becomes (p/255 − mean[c]) / std[c]. Indices outside 0..<count are a programming error.
    public func writeBatch(
        indices: some Collection<Int>, images imageOutput: UnsafeMutablePointer<Float>,
        labels labelOutput: UnsafeMutablePointer<Int32>
    ) {
        let done: Void? = indices.withContiguousStorageIfAvailable { buffer in
            writeBatch(contiguousIndices: buffer, images: imageOutput, labels: labelOutput)
        }
        if done == nil {
            Array(indices).withUnsafeBufferPointer { buffer in
                writeBatch(contiguousIndices: buffer, images: imageOutput, labels: labelOutput)
            }
        }
    }

    private func writeBatch(
        contiguousIndices: UnsafeBufferPointer<Int>, images imageOutput: UnsafeMutablePointer<Float>,
        labels labelOutput: UnsafeMutablePointer<Int32>
    ) {
        guard let indexBase = contiguousIndices.baseAddress, !contiguousIndices.isEmpty else { return }
        let batchCount = contiguousIndices.count
        // Int is 64-bit on every platform the package supports; the kernels take int64_t.
        indexBase.withMemoryRebound(to: Int64.self, capacity: batchCount) { indexPointer in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * channels) { coefficients in
                for channel in 0..<channels {
                    let standardDeviation = normalization.standardDeviation[channel]
                    coefficients[channel] = 1 / (255 * standardDeviation)
                    coefficients[channels + channel] = -normalization.mean[channel] / standardDeviation
                }
                let written = images.withUnsafeBufferPointer { pixels in
                    cocofl_normalize_batch_u8(
                        pixels.baseAddress, count, channels, height * width, indexPointer, batchCount,
                        coefficients.baseAddress, coefficients.baseAddress! + channels, imageOutput)
                }
                precondition(written == batchCount,
                             "\(name): batch index \(contiguousIndices[written]) is outside 0..<\(count)")
                labels.withUnsafeBufferPointer { labelBuffer in
                    cocofl_gather_labels_i32(labelBuffer.baseAddress, indexPointer, batchCount, labelOutput)
                }
            }
        }
    }
}

/// A dataset's training and test parts, loaded together because they share shape, classes and normalization.
public struct DatasetSplit: Sendable {
    /// The samples devices train on.
    public let train: Dataset
    /// The held-out samples the server evaluates on.
    public let test: Dataset

    /// Pairs a training and a test set of the same shape and classes.
    public init(train: Dataset, test: Dataset) {
        precondition(train.channels == test.channels && train.height == test.height && train.width == test.width
                     && train.classCount == test.classCount, "train and test sets must have the same shape")
        self.train = train
        self.test = test
    }
}
