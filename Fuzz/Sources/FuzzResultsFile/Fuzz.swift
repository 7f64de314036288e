import Foundation
import FuzzSupport
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

/// The executable's entry point (see `runFuzzer`).
@_cdecl("FuzzResultsFile_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { withInput($0, $1, fuzz) }
}
