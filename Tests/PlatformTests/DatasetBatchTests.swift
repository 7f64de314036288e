import Platform
import Testing

/// A hand-made dataset of three 2-channel 1×2 images whose normalized values are easy to compute by hand.
private func handMadeDataset() -> Dataset {
    Dataset(
        name: "hand-made",
        images: [
            0, 255, /* channel 1 */ 51, 102,  // sample 0
            255, 0, /* channel 1 */ 0, 255,  // sample 1
            128, 64, /* channel 1 */ 10, 20,  // sample 2
        ],
        labels: [4, 0, 2], channels: 2, height: 1, width: 2, classCount: 5,
        writerIDs: [1, 0, 1],
        normalization: ChannelNormalization(mean: [0.5, 0.2], standardDeviation: [0.5, 0.4]))
}

@Suite("Dataset batches, subsets and catalog")
struct DatasetBatchTests {
    @Test("writeBatch normalizes the chosen samples channel by channel")
    func normalizedBatch() {
        let dataset = handMadeDataset()
        var images = [Float](repeating: .nan, count: 3 * dataset.sampleSize)
        var labels = [Int32](repeating: -1, count: 3)
        images.withUnsafeMutableBufferPointer { imageBuffer in
            labels.withUnsafeMutableBufferPointer { labelBuffer in
                dataset.writeBatch(indices: [1, 0, 2], images: imageBuffer.baseAddress!,
                                   labels: labelBuffer.baseAddress!)
            }
        }
        // (p/255 − mean) / std with mean 0.5, std 0.5 for channel 0 and mean 0.2, std 0.4 for channel 1.
        func channel0(_ pixel: Float) -> Float { (pixel / 255 - 0.5) / 0.5 }
        func channel1(_ pixel: Float) -> Float { (pixel / 255 - 0.2) / 0.4 }
        let expected: [Float] = [
            1, -1, -0.5, 2, // sample 1: 255 → 1, 0 → −1; 0 → −0.5, 255 → 2
            -1, 1, 0, 0.5, // sample 0: 51/255 = 0.2 → 0, 102/255 = 0.4 → 0.5
            channel0(128), channel0(64), channel1(10), channel1(20),
        ]
        for (value, expectedValue) in zip(images, expected) {
            #expect(abs(value - expectedValue) < 1e-5, "\(value) vs \(expectedValue)")
        }
        #expect(labels == [0, 4, 2])
    }

    @Test("writeBatch accepts a slice of a shuffled index list")
    func sliceIndices() {
        let dataset = handMadeDataset()
        let order = [2, 1, 0, 2]
        var images = [Float](repeating: 0, count: 2 * dataset.sampleSize)
        var labels = [Int32](repeating: -1, count: 2)
        images.withUnsafeMutableBufferPointer { imageBuffer in
            labels.withUnsafeMutableBufferPointer { labelBuffer in
                dataset.writeBatch(indices: order[1..<3], images: imageBuffer.baseAddress!,
                                   labels: labelBuffer.baseAddress!)
            }
        }
        #expect(labels == [0, 4])
        #expect(abs(images[0] - 1) < 1e-6)
        #expect(abs(images[4] + 1) < 1e-6)
    }

    @Test("subsets keep images, labels and writer ids together")
    func subsets() throws {
        let dataset = handMadeDataset()
        let picked = dataset.subset(indices: [2, 0])
        #expect(picked.labels == [2, 4])
        #expect(picked.writerIDs == [1, 1])
        #expect(picked.images == [128, 64, 10, 20, 0, 255, 51, 102])
        let first = try dataset.subset(first: 2)
        #expect(first.labels == [4, 0])
        #expect(first.images == Array(dataset.images.prefix(8)))
        #expect(try dataset.subset(first: 0).count == 0)
    }

    @Test("random subsets are distinct, ordered and reproducible for a seed")
    func randomSubsets() throws {
        // Each label is unique, so the labels identify the samples.
        let count = 1_000
        let dataset = Dataset(
            name: "counting", images: (0..<count).map { UInt8($0 % 256) }, labels: (0..<count).map { Int32($0) },
            channels: 1, height: 1, width: 1, classCount: count, normalization: .unit(channels: 1))
        var generator = SplitMix64(seed: 42)
        let subset = try dataset.randomSubset(count: 100, using: &generator)
        var again = SplitMix64(seed: 42)
        let repeated = try dataset.randomSubset(count: 100, using: &again)
        var other = SplitMix64(seed: 43)
        let different = try dataset.randomSubset(count: 100, using: &other)
        #expect(subset.count == 100)
        #expect(zip(subset.labels, subset.labels.dropFirst()).allSatisfy { $0 < $1 })
        #expect(subset.images == subset.labels.map { UInt8($0 % 256) })
        #expect(subset.labels == repeated.labels)
        #expect(subset.labels != different.labels)
        var all = SplitMix64(seed: 7)
        #expect(try dataset.randomSubset(count: count, using: &all).labels == dataset.labels)
    }

    @Test("too large a subset throws and says the limit")
    func subsetTooLarge() {
        let dataset = handMadeDataset()
        var generator = SplitMix64(seed: 1)
        let error = #expect(throws: DatasetError.self) {
            _ = try dataset.randomSubset(count: 4, using: &generator)
        }
        #expect(error?.kind == .invalidSubset)
        #expect(error?.description.contains("between 0 and 3") == true)
        #expect(throws: DatasetError.self) { _ = try dataset.subset(first: -1) }
    }

    @Test("class counts follow the labels")
    func classCounts() {
        #expect(handMadeDataset().classCounts() == [1, 0, 1, 0, 1])
    }

    @Test("an unknown dataset name lists the known ones")
    func unknownName() {
        let error = #expect(throws: DatasetError.self) {
            _ = try DatasetCatalog.load(name: "imagenet", directory: nil)
        }
        #expect(error?.kind == .unknownDataset)
        #expect(error?.description.contains("\"imagenet\"") == true)
        #expect(error?.description.contains("cifar10, cifar100, fashion-mnist, fashion-mnist-3x32x32, femnist, mnist, mnist-3x32x32") == true)
    }

    /// A loader that serves the hand-made dataset, standing in for a format added later (e.g. HDF5).
    struct HandMadeLoader: DatasetLoader {
        var name = "hand-made"
        var defaultDirectory = "/nonexistent"
        func load(directory: String) throws -> DatasetSplit {
            DatasetSplit(train: handMadeDataset(), test: handMadeDataset())
        }
    }

    @Test("a catalog takes new loaders and rejects duplicate names")
    func customCatalog() throws {
        var catalog = DatasetCatalog()
        try catalog.register(HandMadeLoader())
        #expect(catalog.names == ["hand-made"])
        #expect(try catalog.load(name: "hand-made", directory: nil).train.count == 3)
        let error = #expect(throws: DatasetError.self) { try catalog.register(HandMadeLoader()) }
        #expect(error?.kind == .duplicateDataset)
        #expect(DatasetCatalog.standard.names == ["cifar10", "cifar100", "fashion-mnist", "fashion-mnist-3x32x32", "femnist", "mnist", "mnist-3x32x32"])
    }
}
