import Foundation
import Platform
import Testing

@Suite("CIFAR binary datasets")
struct CIFARDatasetTests {
    static let imageBytes = 3 * 32 * 32

    /// Writes a tiny CIFAR-10: two records per training batch, three test records.
    private func writeCIFAR10(to directory: String) throws -> (trainLabels: [Int32], testLabels: [Int32]) {
        var trainLabels: [Int32] = []
        for batch in 1...5 {
            let labels: [UInt8] = [UInt8(batch), UInt8((batch * 3) % 10)]
            trainLabels += labels.map(Int32.init)
            try writeFile(cifarRecords(labels: labels.map { [$0] }, firstImage: 2 * (batch - 1)),
                          to: directory + "/data_batch_\(batch).bin")
        }
        let testLabels: [UInt8] = [9, 0, 4]
        try writeFile(cifarRecords(labels: testLabels.map { [$0] }, firstImage: 100), to: directory + "/test_batch.bin")
        return (trainLabels, testLabels.map(Int32.init))
    }

    @Test("CIFAR-10 batches round-trip in order")
    func cifar10RoundTrip() throws {
        try withTemporaryDirectory { directory in
            let expected = try writeCIFAR10(to: directory)
            let split = try DatasetCatalog.load(name: "cifar10", directory: directory)
            #expect(split.train.count == 10)
            #expect(split.train.labels == expected.trainLabels)
            #expect(split.test.labels == expected.testLabels)
            #expect(split.train.images == (0..<10).flatMap { patternPixels(index: $0, size: Self.imageBytes) })
            #expect(split.test.images == (100..<103).flatMap { patternPixels(index: $0, size: Self.imageBytes) })
            #expect((split.train.channels, split.train.height, split.train.width) == (3, 32, 32))
            #expect(split.train.classCount == 10)
            #expect(split.train.normalization == .cifar10)
        }
    }

    @Test("CIFAR-10 is found inside the archive's cifar-10-batches-bin folder")
    func cifar10ArchiveFolder() throws {
        try withTemporaryDirectory { directory in
            let nested = directory + "/cifar-10-batches-bin"
            try FileManager.default.createDirectory(atPath: nested, withIntermediateDirectories: false)
            let expected = try writeCIFAR10(to: nested)
            let split = try CIFARDatasetLoader.cifar10.load(directory: directory)
            #expect(split.train.labels == expected.trainLabels)
        }
    }

    @Test("CIFAR-100 uses the fine label of each record")
    func cifar100RoundTrip() throws {
        try withTemporaryDirectory { directory in
            let train: [[UInt8]] = [[3, 57], [19, 99], [0, 0], [7, 42]]
            let test: [[UInt8]] = [[12, 71]]
            try writeFile(cifarRecords(labels: train, firstImage: 0), to: directory + "/train.bin")
            try writeFile(cifarRecords(labels: test, firstImage: 50), to: directory + "/test.bin")
            let split = try DatasetCatalog.load(name: "cifar100", directory: directory)
            #expect(split.train.labels == [57, 99, 0, 42])
            #expect(split.test.labels == [71])
            #expect(split.train.images == (0..<4).flatMap { patternPixels(index: $0, size: Self.imageBytes) })
            #expect(split.test.images == patternPixels(index: 50, size: Self.imageBytes))
            #expect(split.train.classCount == 100)
            #expect(split.train.normalization == .cifar100)
        }
    }

    @Test("a file whose size is not a whole number of records fails, naming the file")
    func wrongSize() throws {
        try withTemporaryDirectory { directory in
            _ = try writeCIFAR10(to: directory)
            let path = directory + "/data_batch_3.bin"
            try writeFile(try readFile(path) + [0], to: path)
            let error = #expect(throws: DatasetError.self) {
                _ = try CIFARDatasetLoader.cifar10.load(directory: directory)
            }
            #expect(error?.kind == .corruptFile)
            #expect(error?.path == path)
            #expect(error?.description.contains("data_batch_3.bin") == true)
            #expect(error?.description.contains("3073") == true)
            #expect(error?.description.contains("data_dir") == true)
        }
    }

    @Test("a CIFAR-10 file given as CIFAR-100 fails on its size")
    func cifar10AsCIFAR100() throws {
        try withTemporaryDirectory { directory in
            // 3074 records of 3073 bytes are 3073 records of 3074 bytes: the size fits, the coarse labels do not.
            try writeFile([UInt8](repeating: 200, count: 3074 * 3073), to: directory + "/train.bin")
            try writeFile(cifarRecords(labels: [[1, 2]], firstImage: 0), to: directory + "/test.bin")
            let error = #expect(throws: DatasetError.self) {
                _ = try CIFARDatasetLoader.cifar100.load(directory: directory)
            }
            #expect(error?.kind == .labelOutOfRange)
            #expect(error?.description.contains("train.bin") == true)
        }
    }

    @Test("a CIFAR-10 label of 10 is rejected with the record number")
    func labelOutOfRange() throws {
        try withTemporaryDirectory { directory in
            _ = try writeCIFAR10(to: directory)
            try writeFile(cifarRecords(labels: [[1], [10]], firstImage: 0), to: directory + "/test_batch.bin")
            let error = #expect(throws: DatasetError.self) {
                _ = try CIFARDatasetLoader.cifar10.load(directory: directory)
            }
            #expect(error?.kind == .labelOutOfRange)
            #expect(error?.description.contains("test_batch.bin") == true)
            #expect(error?.description.contains("label 10 of sample 1") == true)
        }
    }

    @Test("a missing batch names the file and where to get CIFAR")
    func missingBatch() throws {
        try withTemporaryDirectory { directory in
            _ = try writeCIFAR10(to: directory)
            try FileManager.default.removeItem(atPath: directory + "/data_batch_5.bin")
            let error = #expect(throws: DatasetError.self) {
                _ = try CIFARDatasetLoader.cifar10.load(directory: directory)
            }
            #expect(error?.kind == .missingFile)
            #expect(error?.description.contains("data_batch_5.bin") == true)
            #expect(error?.description.contains("cifar-10-binary.tar.gz") == true)
        }
    }
}
