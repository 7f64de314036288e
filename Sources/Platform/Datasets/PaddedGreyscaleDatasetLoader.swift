import CKernels

extension Dataset {
    /// The images zero-padded by `padding` pixels on every side with the grey channel copied into `channels`
    /// channels, under the name `name`: 28×28 MNIST-style images become the 3×32×32 input of CIFAR networks.
    /// Throws unless the dataset has one channel.
    public func paddedGreyscale(padding: Int, channels outputChannels: Int, name newName: String) throws -> Dataset {
        guard channels == 1 else {
            throw DatasetError(.invalidConversion, path: nil,
                               message: "\(name) has \(channels) channels; only single-channel (grey) datasets can be "
                                   + "padded and replicated into \(outputChannels) channels")
        }
        precondition(padding >= 0 && outputChannels >= 1, "padding and channel count must be non-negative and positive")
        let outputSize = count * outputChannels * (height + 2 * padding) * (width + 2 * padding)
        let converted = [UInt8](unsafeUninitializedCapacity: outputSize) { buffer, initialized in
            images.withUnsafeBufferPointer { source in
                cocofl_pad_replicate_u8(source.baseAddress, count, height, width, padding, outputChannels, buffer.baseAddress)
            }
            initialized = outputSize
        }
        return Dataset(
            name: newName, images: converted, labels: labels, channels: outputChannels, height: height + 2 * padding,
            width: width + 2 * padding, classCount: classCount, writerIDs: writerIDs, writerNames: writerNames,
            normalization: ChannelNormalization(
                mean: Array(repeating: normalization.mean[0], count: outputChannels),
                standardDeviation: Array(repeating: normalization.standardDeviation[0], count: outputChannels)))
    }
}

/// A grey dataset at the input shape of the reference's CIFAR networks: each image padded with zeros (2 pixels on
/// every side of 28×28) and its grey channel copied three times, so `fashion-mnist-3x32x32` and `mnist-3x32x32`
/// run mobilenetv2 and resnet18 as the paper configures them for CIFAR. Reads the base dataset's files.
public struct PaddedGreyscaleDatasetLoader: DatasetLoader {
    /// The catalog name, e.g. "fashion-mnist-3x32x32".
    public let name: String
    /// The loader of the 1×28×28 files.
    public let base: IDXDatasetLoader
    /// Zero pixels added on every side.
    public let padding: Int
    /// Channels of the output, each a copy of the grey one.
    public let channels: Int

    /// The base dataset's files: the same directory (and `data_dir`) as the 1×28×28 dataset.
    public var defaultDirectory: String { base.defaultDirectory }

    /// Fashion-MNIST as 3×32×32.
    public static let fashionMNIST = PaddedGreyscaleDatasetLoader(name: "fashion-mnist-3x32x32", base: .fashionMNIST, padding: 2, channels: 3)
    /// MNIST as 3×32×32.
    public static let mnist = PaddedGreyscaleDatasetLoader(name: "mnist-3x32x32", base: .mnist, padding: 2, channels: 3)

    /// Loads the base dataset from `directory` and converts both splits.
    public func load(directory: String) throws -> DatasetSplit {
        let split = try base.load(directory: directory)
        return DatasetSplit(train: try split.train.paddedGreyscale(padding: padding, channels: channels, name: name),
                            test: try split.test.paddedGreyscale(padding: padding, channels: channels, name: name))
    }
}
