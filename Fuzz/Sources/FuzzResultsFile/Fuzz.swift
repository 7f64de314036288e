import Foundation
import Storage

/// Input: the bytes of a results file, opened read-only and listed the way `cocofl inspect` does.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = writeScratch("results.h5", Data(bytes: data, count: size))
    guard let file = try? ResultsFile(path: path, access: .readOnly) else { return 0 }
    _ = try? file.createdBy()
    _ = try? file.runs()
    _ = try? file.profiledModels()
    return 0
}
