import Foundation
import Platform
import Testing

/// One writer of a LEAF FEMNIST file as the test writes it: pixel values as JSON number text, plus labels.
private struct LEAFWriter {
    let name: String
    var pixelTexts: [[String]]
    var labels: [Int]

    /// A writer whose sample `s` has pixel bytes (s·37 + p·11 + seed) mod 256, written as byte/255.
    init(name: String, labels: [Int], seed: Int) {
        self.name = name
        self.labels = labels
        pixelTexts = labels.indices.map { sample in
            Self.pixels(sample: sample, seed: seed).map { "\(Double($0) / 255)" }
        }
    }

    static func pixels(sample: Int, seed: Int) -> [UInt8] {
        (0..<784).map { UInt8((sample * 37 + $0 * 11 + seed) % 256) }
    }
}

/// A LEAF JSON file in the layout of LEAF's preprocess.sh output, with an extra key the loader must skip.
private func leafJSON(_ writers: [LEAFWriter], sampleCounts: [Int]? = nil) -> String {
    let users = writers.map { "\"\($0.name)\"" }.joined(separator: ", ")
    let counts = (sampleCounts ?? writers.map { $0.labels.count }).map(String.init).joined(separator: ", ")
    let userData = writers.enumerated().map { offset, writer in
        let x = "[" + writer.pixelTexts.map { "[" + $0.joined(separator: ", ") + "]" }.joined(separator: ", ") + "]"
        let y = "[" + writer.labels.map(String.init).joined(separator: ", ") + "]"
        // Alternate the key order: JSON objects are unordered.
        return offset % 2 == 0 ? "\"\(writer.name)\": {\"x\": \(x), \"y\": \(y)}"
            : "\"\(writer.name)\": {\"y\": \(y),\n \"x\": \(x)}"
    }.joined(separator: ", ")
    return "{\"users\": [\(users)], \"num_samples\": [\(counts)], \"hierarchies\": [[\"a\", 1], {\"b\": null}], "
        + "\"user_data\": {\(userData)}}\n"
}

@Suite("FEMNIST in LEAF JSON")
struct FEMNISTDatasetTests {
    private func writeFixture(to directory: String, trainFirst: [LEAFWriter]? = nil) throws {
        for folder in ["train", "test"] {
            try FileManager.default.createDirectory(atPath: directory + "/" + folder, withIntermediateDirectories: true)
        }
        let first = trainFirst ?? [
            LEAFWriter(name: "f0003_12", labels: [61], seed: 3),
            LEAFWriter(name: "f0001_40", labels: [0, 35], seed: 1),
        ]
        try writeFile(Array(leafJSON(first).utf8), to: directory + "/train/all_data_0_train.json")
        try writeFile(Array(leafJSON([LEAFWriter(name: "f0002_07", labels: [10], seed: 2)]).utf8),
                      to: directory + "/train/all_data_1_train.json")
        try writeFile(Array(leafJSON([
            LEAFWriter(name: "f0001_40", labels: [7], seed: 11),
            LEAFWriter(name: "f0002_07", labels: [36], seed: 12),
        ]).utf8), to: directory + "/test/all_data_0_test.json")
    }

    @Test("LEAF files round-trip with writer ids shared by train and test")
    func roundTrip() throws {
        try withTemporaryDirectory { directory in
            try writeFixture(to: directory)
            let split = try DatasetCatalog.load(name: "femnist", directory: directory)
            let train = split.train
            #expect(train.count == 4)
            #expect(train.labels == [61, 0, 35, 10])
            #expect(train.writerNames == ["f0001_40", "f0002_07", "f0003_12"])
            #expect(train.writerIDs == [2, 0, 0, 1])
            let expectedPixels = LEAFWriter.pixels(sample: 0, seed: 3) + LEAFWriter.pixels(sample: 0, seed: 1)
                + LEAFWriter.pixels(sample: 1, seed: 1) + LEAFWriter.pixels(sample: 0, seed: 2)
            #expect(train.images == expectedPixels)
            #expect((train.channels, train.height, train.width, train.classCount) == (1, 28, 28, 62))
            #expect(train.normalization == .femnist)
            #expect(split.test.labels == [7, 36])
            #expect(split.test.writerIDs == [0, 1])
            #expect(split.test.images
                    == LEAFWriter.pixels(sample: 0, seed: 11) + LEAFWriter.pixels(sample: 0, seed: 12))
        }
    }

    @Test("LEAF's own data/ folder is accepted and number spellings are parsed")
    func leafLayoutAndNumberSpellings() throws {
        try withTemporaryDirectory { directory in
            var writer = LEAFWriter(name: "w", labels: [5], seed: 0)
            writer.pixelTexts[0][0] = "1"
            writer.pixelTexts[0][1] = "0"
            writer.pixelTexts[0][2] = "3.9215686274509803e-03"
            writer.pixelTexts[0][3] = "0.5"
            writer.pixelTexts[0][4] = "1.0000000000000002"
            try writeFixture(to: directory + "/data", trainFirst: [writer])
            let split = try FEMNISTDatasetLoader.femnist.load(directory: directory)
            #expect(Array(split.train.images.prefix(5)) == [255, 0, 1, 128, 255])
        }
    }

    /// One way of damaging the first training file, and the error kind it must produce.
    enum Damage: String, CaseIterable, CustomTestStringConvertible {
        case sampleCountMismatch, pixelOutOfRange, labelOutOfRange, shortSample, truncatedJSON, missingUserData,
             notJSON

        var testDescription: String { rawValue }

        var kind: DatasetError.Kind {
            switch self {
            case .sampleCountMismatch: .countMismatch
            case .labelOutOfRange: .labelOutOfRange
            case .truncatedJSON: .truncatedFile
            case .pixelOutOfRange, .shortSample, .missingUserData, .notJSON: .corruptFile
            }
        }

        var expectedText: String {
            switch self {
            case .sampleCountMismatch: "\"num_samples\" says 3"
            case .pixelOutOfRange: "outside 0…1"
            case .labelOutOfRange: "label 62"
            case .shortSample: "783 pixels"
            case .truncatedJSON: "the JSON ends at byte"
            case .missingUserData: "no \"user_data\" entry"
            case .notJSON: "at byte 0: expected '{'"
            }
        }

        func fileText() -> String {
            var writer = LEAFWriter(name: "f0009_01", labels: [1, 2], seed: 9)
            switch self {
            case .sampleCountMismatch: return leafJSON([writer], sampleCounts: [3])
            case .pixelOutOfRange: writer.pixelTexts[1][100] = "255"
            case .labelOutOfRange: writer.labels[0] = 62
            case .shortSample: writer.pixelTexts[0].removeLast()
            case .truncatedJSON: return String(leafJSON([writer]).dropLast(40))
            case .missingUserData: return leafJSON([writer]).replacingOccurrences(of: "\"f0009_01\":", with: "\"x\":")
            case .notJSON: return "PK\u{3}\u{4} a zip archive, not JSON"
            }
            return leafJSON([writer])
        }
    }

    @Test("damaged LEAF files throw an error naming the file", arguments: Damage.allCases)
    func damagedFile(damage: Damage) throws {
        try withTemporaryDirectory { directory in
            try writeFixture(to: directory)
            let path = directory + "/train/all_data_0_train.json"
            try writeFile(Array(damage.fileText().utf8), to: path)
            let error = #expect(throws: DatasetError.self) {
                _ = try FEMNISTDatasetLoader.femnist.load(directory: directory)
            }
            #expect(error?.kind == damage.kind, "\(error.map(String.init(describing:)) ?? "no error")")
            #expect(error?.path == path)
            #expect(error?.description.contains(path) == true)
            #expect(error?.description.contains(damage.expectedText) == true,
                    "\(error.map(String.init(describing:)) ?? "no error")")
            #expect(error?.description.contains("preprocess.sh") == true)
        }
    }

    @Test("a missing test folder says how to generate FEMNIST")
    func missingTestFolder() throws {
        try withTemporaryDirectory { directory in
            try writeFixture(to: directory)
            try FileManager.default.removeItem(atPath: directory + "/test")
            let error = #expect(throws: DatasetError.self) {
                _ = try FEMNISTDatasetLoader.femnist.load(directory: directory)
            }
            #expect(error?.kind == .missingFile)
            #expect(error?.description.contains(directory + "/test") == true)
            #expect(error?.description.contains("LEAF") == true)
        }
    }
}
