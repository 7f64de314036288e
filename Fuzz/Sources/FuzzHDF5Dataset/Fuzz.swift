import Foundation
import Storage

/// Input: the bytes of an HDF5 dataset file.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = writeScratch("dataset.h5", Data(bytes: data, count: size))
    _ = try? HDF5DatasetLoader().load(directory: path)
    return 0
}
