import Foundation
import FuzzSupport
import Storage

/// Input: the bytes of an HDF5 dataset file.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = writeScratch("dataset.h5", Data(bytes: data, count: size))
    _ = try? HDF5DatasetLoader().load(directory: path)
    return 0
}

/// The executable's entry point (see `runFuzzer`).
@_cdecl("FuzzHDF5Dataset_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { withInput($0, $1, fuzz) }
}
