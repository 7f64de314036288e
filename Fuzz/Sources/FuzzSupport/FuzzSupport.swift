import Foundation

/// One scratch directory per fuzzing process, reused by every input.
public let scratchDirectory: String = {
    let path = NSTemporaryDirectory() + "cocofl-fuzz-\(getpid())"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}()

/// Splits a fuzz input into `count` parts: each but the last is prefixed by a 2-byte little-endian length (cut
/// short at the end of the input); the last part takes the rest.
public func splitInput(_ data: UnsafePointer<UInt8>, _ size: Int, into count: Int) -> [Data] {
    var parts: [Data] = []
    var offset = 0
    for _ in 0..<(count - 1) {
        guard offset + 2 <= size else { parts.append(Data()); continue }
        let length = Int(data[offset]) | Int(data[offset + 1]) << 8
        offset += 2
        let end = min(size, offset + length)
        parts.append(Data(bytes: data + offset, count: end - offset))
        offset = end
    }
    parts.append(Data(bytes: data + offset, count: size - offset))
    return parts
}

/// Writes `bytes` to `name` in the scratch directory (creating sub-folders) and returns the path.
@discardableResult
public func writeScratch(_ name: String, _ bytes: Data) -> String {
    let path = scratchDirectory + "/" + name
    let folder = (path as NSString).deletingLastPathComponent
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    FileManager.default.createFile(atPath: path, contents: bytes)
    return path
}

@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// Runs libFuzzer's driver on `callback`. SwiftPM links an executable with `main` aliased to `<target>_main`, so
/// libFuzzer's own `main` is never linked in: each target's `<target>_main` calls this instead.
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                      _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt {
    var argumentCount = argc
    var arguments = argv
    return runFuzzerDriver(&argumentCount, &arguments, callback)
}

/// Calls `body` with the input, or with a valid pointer to zero bytes when libFuzzer passes a null pointer.
public func withInput(_ data: UnsafePointer<UInt8>?, _ size: Int, _ body: (UnsafePointer<UInt8>, Int) -> CInt) -> CInt {
    guard let data else { return withUnsafePointer(to: UInt8(0)) { body($0, 0) } }
    return body(data, size)
}
