import CoCoFLCore
import CZlib
import Foundation
import NN
import Platform

/// Runs `body` with a fresh temporary directory that is removed afterwards.
func withTemporaryDirectory<Result>(_ body: (String) throws -> Result) throws -> Result {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("cocofl-datasets-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// Errors of the test fixtures themselves (not of the code under test).
struct FixtureError: Error, CustomStringConvertible {
    let description: String
}

/// Writes `bytes` gzip-compressed to `path` with zlib's gzopen/gzwrite, as the real dataset files are.
func writeGzip(_ bytes: [UInt8], to path: String) throws {
    guard let file = gzopen(path, "wb") else { throw FixtureError(description: "gzopen failed for \(path)") }
    let written = bytes.withUnsafeBytes { buffer in
        buffer.isEmpty ? 0 : gzwrite(file, buffer.baseAddress, UInt32(buffer.count))
    }
    let closed = gzclose(file)
    guard Int(written) == bytes.count && closed == Z_OK else {
        throw FixtureError(description: "gzwrite wrote \(written) of \(bytes.count) bytes to \(path)")
    }
}

/// Writes `bytes` to `path` unchanged.
func writeFile(_ bytes: [UInt8], to path: String) throws {
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
        throw FixtureError(description: "cannot create \(path)")
    }
}

/// The bytes of `path`.
func readFile(_ path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// Big-endian bytes of a 32-bit header word.
func bigEndianBytes(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
}

/// An IDX image file: magic 0x803, count, rows, columns, then the pixels.
func idxImageFile(count: Int, side: Int = 28, pixels: [UInt8], magic: UInt32 = 0x0000_0803) -> [UInt8] {
    bigEndianBytes(magic) + bigEndianBytes(UInt32(count)) + bigEndianBytes(UInt32(side)) + bigEndianBytes(UInt32(side))
        + pixels
}

/// An IDX label file: magic 0x801, count, then the labels.
func idxLabelFile(labels: [UInt8], magic: UInt32 = 0x0000_0801) -> [UInt8] {
    bigEndianBytes(magic) + bigEndianBytes(UInt32(labels.count)) + labels
}

/// A recognizable pixel pattern for image `index` of `size` pixels.
func patternPixels(index: Int, size: Int) -> [UInt8] {
    (0..<size).map { UInt8(truncatingIfNeeded: index &* 31 &+ $0 &* 7) }
}

/// A small Fashion-MNIST-style dataset on disk; returns the pixels and labels it wrote.
struct IDXFixture {
    let trainPixels: [UInt8]
    let trainLabels: [UInt8]
    let testPixels: [UInt8]
    let testLabels: [UInt8]

    static let imageSize = 28 * 28

    init(trainCount: Int = 5, testCount: Int = 3) {
        trainPixels = (0..<trainCount).flatMap { patternPixels(index: $0, size: Self.imageSize) }
        trainLabels = (0..<trainCount).map { UInt8(($0 * 3) % 10) }
        testPixels = (0..<testCount).flatMap { patternPixels(index: 100 + $0, size: Self.imageSize) }
        testLabels = (0..<testCount).map { UInt8(9 - $0) }
    }

    /// Writes the four files, compressed unless `compressed` is false.
    func write(to directory: String, compressed: Bool = true) throws {
        let files: [(String, [UInt8])] = [
            ("train-images-idx3-ubyte", idxImageFile(count: trainLabels.count, pixels: trainPixels)),
            ("train-labels-idx1-ubyte", idxLabelFile(labels: trainLabels)),
            ("t10k-images-idx3-ubyte", idxImageFile(count: testLabels.count, pixels: testPixels)),
            ("t10k-labels-idx1-ubyte", idxLabelFile(labels: testLabels)),
        ]
        for (name, bytes) in files {
            if compressed {
                try writeGzip(bytes, to: directory + "/" + name + ".gz")
            } else {
                try writeFile(bytes, to: directory + "/" + name)
            }
        }
    }
}

/// CIFAR binary records: label bytes, then a 3×32×32 image.
func cifarRecords(labels: [[UInt8]], firstImage: Int) -> [UInt8] {
    var bytes: [UInt8] = []
    for (offset, labelBytes) in labels.enumerated() {
        bytes += labelBytes
        bytes += patternPixels(index: firstImage + offset, size: 3 * 32 * 32)
    }
    return bytes
}

/// The engine's seeded SplitMix64 generator, so that subset tests are reproducible.
typealias SplitMix64 = SeededGenerator
