import CoCoFLCore
import Foundation
import Platform

/// The bytes ranks exchange: little-endian integers and floats, strings as UTF-8 with a length. Written and read by
/// the same build on every rank, so there is no version field.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    mutating func integer(_ value: Int) { withUnsafeBytes(of: Int64(value).littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func double(_ value: Double) { integer(Int(bitPattern: UInt(value.bitPattern))) }
    mutating func string(_ value: String) {
        let utf8 = Array(value.utf8)
        integer(utf8.count)
        bytes.append(contentsOf: utf8)
    }
    mutating func integers(_ values: [Int]) {
        integer(values.count)
        for value in values { integer(value) }
    }
    mutating func floats(_ values: [Float]) {
        integer(values.count)
        values.withUnsafeBytes { raw in
            // Float bit patterns as stored; every rank is the same little-endian machine type.
            bytes.append(contentsOf: raw)
        }
    }
    mutating func data(_ value: Data) {
        integer(value.count)
        bytes.append(contentsOf: value)
    }
}

/// Reads what `ByteWriter` wrote; a short or malformed message is a programming error between ranks of one build.
struct ByteReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }

    mutating func integer() throws -> Int {
        try need(8)
        var value: Int64 = 0
        withUnsafeMutableBytes(of: &value) { $0.copyBytes(from: bytes[offset..<offset + 8]) }
        offset += 8
        return Int(Int64(littleEndian: value))
    }
    mutating func double() throws -> Double { Double(bitPattern: UInt64(UInt(bitPattern: try integer()))) }
    mutating func string() throws -> String {
        let count = try integer()
        try need(count)
        defer { offset += count }
        return String(decoding: bytes[offset..<offset + count], as: UTF8.self)
    }
    mutating func integers() throws -> [Int] { try (0..<integer()).map { _ in try integer() } }
    mutating func floats() throws -> [Float] {
        let count = try integer()
        try need(count * 4)
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBytes { $0.copyBytes(from: bytes[offset..<offset + count * 4]) }
        offset += count * 4
        return values
    }
    mutating func data() throws -> Data {
        let count = try integer()
        try need(count)
        defer { offset += count }
        return Data(bytes[offset..<offset + count])
    }

    private func need(_ count: Int) throws {
        guard count >= 0, offset + count <= bytes.count else {
            throw MPIError("a message between ranks ended early (needed \(count) bytes at \(offset) of \(bytes.count)); "
                           + "every rank must run the same cocofl build")
        }
    }
}

/// One device's outcome as it crosses between ranks: what `Strategy.train` returned, or the error it threw.
enum WireOutcome {
    case outcome(LocalOutcome)
    case failed(String)

    func write(to writer: inout ByteWriter) {
        switch self {
        case .outcome(.skipped(let reason)):
            writer.integer(0)
            writer.string(reason)
        case .outcome(.trained(let training)):
            writer.integer(1)
            writer.double(training.timeRatio)
            writer.double(training.memoryRatio)
            writer.double(training.meanLoss)
            let update = training.update
            writer.integer(update.deviceID)
            writer.integer(update.sampleCount)
            writer.integer(update.keys.count)
            for key in update.keys {
                let tensor = update[key]!
                writer.string(tensor.key)
                writer.integers(tensor.shape)
                writer.floats(tensor.values)
                writer.integer(tensor.coverage.count)
                for axis in tensor.coverage {
                    switch axis {
                    case .all: writer.integer(-1)
                    case .indices(let indices): writer.integers(indices)
                    }
                }
            }
            let scalarKeys = update.scalars.keys.sorted()
            writer.integer(scalarKeys.count)
            for key in scalarKeys {
                writer.string(key)
                writer.floats([update.scalars[key]!])
            }
        case .failed(let message):
            writer.integer(2)
            writer.string(message)
        }
    }

    static func read(from reader: inout ByteReader) throws -> WireOutcome {
        switch try reader.integer() {
        case 0:
            return .outcome(.skipped(reason: try reader.string()))
        case 1:
            let (time, memory, loss) = (try reader.double(), try reader.double(), try reader.double())
            let (device, samples) = (try reader.integer(), try reader.integer())
            var tensors: [TensorUpdate] = []
            for _ in 0..<(try reader.integer()) {
                let key = try reader.string()
                let shape = try reader.integers()
                let values = try reader.floats()
                var coverage: [AxisCoverage] = []
                for _ in 0..<(try reader.integer()) {
                    let count = try reader.integer()
                    coverage.append(count < 0 ? .all : .indices(try (0..<count).map { _ in try reader.integer() }))
                }
                tensors.append(TensorUpdate(key: key, shape: shape, values: values, coverage: coverage))
            }
            var scalars: [String: Float] = [:]
            for _ in 0..<(try reader.integer()) {
                let key = try reader.string()
                scalars[key] = try reader.floats().first
            }
            let update = try PartialUpdate(deviceID: device, sampleCount: samples, tensors: tensors, scalars: scalars)
            return .outcome(.trained(LocalTraining(update: update, timeRatio: time, memoryRatio: memory, meanLoss: loss)))
        case 2:
            return .failed(try reader.string())
        case let other:
            throw MPIError("unknown outcome kind \(other) in a message between ranks; every rank must run the same cocofl build")
        }
    }
}
