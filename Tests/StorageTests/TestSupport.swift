import Foundation
import Storage

/// Runs `body` with a fresh temporary directory that is removed afterwards.
func withTemporaryDirectory<Result>(_ body: (URL) throws -> Result) throws -> Result {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("StorageTests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try body(directory)
}

/// Deterministic test values for each element type, varied enough to catch byte-order and stride mistakes.
func sampleValues<Element: HDF5Element>(count: Int, of type: Element.Type) -> [Element] {
    (0..<count).map { index in
        switch Element.hdf5ElementType {
        case .float32: return Float(index) * 0.25 - 7.5 as! Element
        case .float64: return Double(index) / 3 - 1e6 as! Element
        case .int8: return Int8(truncatingIfNeeded: index * 37 - 128) as! Element
        case .uint8: return UInt8(truncatingIfNeeded: index * 91) as! Element
        case .int32: return Int32(index) * 100_003 - 2_000_000_000 as! Element
        case .int64: return Int64(index) * 9_876_543_210 - Int64.max / 2 as! Element
        }
    }
}

/// Runs `h5dump` with `arguments` and returns its standard output, or nil when `h5dump` is not on PATH.
func h5dump(_ arguments: [String]) throws -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    let candidates = path.split(separator: ":").map { "\($0)/h5dump" }
    guard let executable = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        return nil
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = Pipe()
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}
